import { describe, expect, it } from 'vitest';
import { createOutboundPolicy } from '../../net/outbound.js';
import type { TsFanout } from '../ts-fanout.js';
import { RtmpSink, rtmpConnectArgs } from './rtmp.js';

const lines: string[] = [];
const logger = { info: (o: object, m?: string) => lines.push(JSON.stringify(o) + (m ?? '')), warn: (o: object, m?: string) => lines.push(JSON.stringify(o) + (m ?? '')), debug() {} };

describe('RTMP output and the outbound policy', () => {
  it('hands ffmpeg the checked address for rtmp://, keeping the name in the tcUrl; rtmps:// keeps the name', () => {
    expect(rtmpConnectArgs('rtmp://cdn.example:1935/live', 'rtmp://cdn.example:1935/live/key', '203.0.113.7')).toEqual(['-rtmp_tcurl', 'rtmp://cdn.example:1935/live', 'rtmp://203.0.113.7:1935/live/key']);
    expect(rtmpConnectArgs('rtmp://cdn.example/live/', 'rtmp://cdn.example/live/key', '2001:db8::7')).toEqual(['-rtmp_tcurl', 'rtmp://cdn.example/live', 'rtmp://[2001:db8::7]/live/key']);
    expect(rtmpConnectArgs('rtmps://cdn.example/live', 'rtmps://cdn.example/live/key', '203.0.113.7')).toEqual(['rtmps://cdn.example/live/key']);
  });

  it('a name that resolves to a refused address at connect time (rebinding) ends the output `error` without running ffmpeg', async () => {
    // The name resolved to a public address when the broadcast started; now it answers loopback.
    const policy = createOutboundPolicy({ lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
    const sink = new RtmpSink({ serverUrl: 'rtmp://rebind.example/live', streamName: 'secret-key-1', logger, outbound: policy, ffmpegPath: '/nonexistent/ffmpeg' });
    const status = new Promise<string>((resolve) => sink.on('status', (s) => resolve(s)));
    sink.start({ closed: false } as unknown as TsFanout);
    expect(await status).toBe('error');
    expect(sink.reason).toMatch(/rule: loopback/);
    expect(sink.closed).toBe(true);
    expect(lines.join('\n')).not.toContain('secret-key-1');
  });
});
