/**
 * The SIP gateway through createServer and the REST API, against scripted far ends on loopback
 * (test/sip/far-end.ts): the mix between two SIP legs, force-mute with and without
 * observeForceMute and `*6`, hold by re-INVITE, a busy far end, a far end refusing SRTP, the
 * media timeout, and the SIP callbacks for each.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRest } from './project-rest.js';
import { createServer, type TokhostServer } from '../../src/create-server.js';
import { ScriptedFarEnd } from './far-end.js';
import { sleep, until } from '../kit/index.js';


describe('SIP gateway against scripted far ends', () => {
  const apiKey = '8' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  let hooks: Server;
  const callbacks: { event: string; call: { id: string; state?: string; reason_code?: number; reason_message?: string } }[] = [];
  const farEnds: ScriptedFarEnd[] = [];

  beforeAll(async () => {
    hooks = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const e = JSON.parse(body) as (typeof callbacks)[number];
        if (e.call) callbacks.push(e);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey, apiSecret, logLevel: 'silent', mediaWorkers: 1, sipPort: 0, sipMediaTimeoutSeconds: 2, sipRingTimeoutSeconds: 2 });
    server.store.updateProject(apiKey, { webhookUrl: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/` });
  });
  afterAll(async () => {
    await server?.close();
    for (const f of farEnds) f.close();
    await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
  });

  const { rest, session, token } = projectRest(() => server.url, apiKey, apiSecret);
  const farEnd = async (o?: ConstructorParameters<typeof ScriptedFarEnd>[0]) => {
    const f = new ScriptedFarEnd(o);
    await f.start();
    farEnds.push(f);
    return f;
  };
  const dial = async (sessionId: string, f: ScriptedFarEnd, sip: Record<string, unknown> = {}) => {
    const r = await rest('POST', '/dial', { sessionId, token: token(sessionId), sip: { uri: f.uri, ...sip } });
    expect(r.status).toBe(200);
    return r.json as { id: string; connectionId: string; streamId: string };
  };
  const events = (id: string) => callbacks.filter((c) => c.call.id === id).map((c) => c.event + (c.call.state ? `:${c.call.state}` : '') + (c.call.reason_code ? `:${c.call.reason_code}` : ''));

  it('two legs hear each other; force-mute with observeForceMute silences a leg and *6 brings it back; without it force-mute does not apply', async () => {
    const sessionId = await session();
    const a = await farEnd({ send: 'tone' });
    const b = await farEnd({ send: 'silence' });
    const ca = await dial(sessionId, a, { observeForceMute: true });
    const cb = await dial(sessionId, b);
    await until(() => b.levelOver(500) > 1000, { timeoutMs: 8000, what: "B hears A's tone" });
    expect(a.levelOver(500)).toBeLessThan(50); // A hears B's silence, not its own tone
    expect((await rest('POST', `/session/${sessionId}/stream/${ca.streamId}/mute`)).status).toBe(200);
    await until(() => { const l = b.levelOver(300); return l >= 0 && l < 50; }, { timeoutMs: 5000, what: 'A muted for B' });
    await until(() => events(ca.id).includes('muteForced'), { timeoutMs: 3000, what: 'muteForced callback' });
    await a.press('*6');
    await until(() => b.levelOver(300) > 1000, { timeoutMs: 5000, what: 'A unmuted by *6' });
    // B did not ask to observe force-mute: its leg stays on.
    b.sendMode = 'tone';
    await until(() => a.levelOver(300) > 1000, { timeoutMs: 5000, what: "A hears B's tone" });
    expect((await rest('POST', `/session/${sessionId}/stream/${cb.streamId}/mute`)).status).toBe(200);
    await sleep(800);
    expect(a.levelOver(400)).toBeGreaterThan(1000);
    expect(events(cb.id)).not.toContain('muteForced');
    console.info(`[sip gateway] B heard A at mean |sample| ${b.levelOver(500).toFixed(0)}, A heard B at ${a.levelOver(500).toFixed(0)} (tone amplitude 8000: mean |sample| 5093)`);
  }, 40_000);

  it('hold by re-INVITE: answered recvonly, state ON_HOLD then ACTIVE; the far end stops getting audio while it holds', async () => {
    const sessionId = await session();
    const a = await farEnd({ send: 'tone' });
    const ca = await dial(sessionId, a);
    await until(() => a.received.length > 20, { timeoutMs: 5000, what: 'audio to the far end' });
    a.reinvite('sendonly');
    const ok = await until(() => a.responses.find((r) => r.status === 200 && r.headers.get('cseq')!.endsWith('INVITE')), { timeoutMs: 3000, what: '200 to the re-INVITE' });
    expect(ok!.body.toString()).toContain('a=recvonly');
    await sleep(300);
    const n = a.received.length;
    await sleep(500);
    expect(a.received.length).toBe(n);
    a.reinvite('sendrecv');
    await until(() => a.received.length > n + 10, { timeoutMs: 3000, what: 'audio again after hold' });
    await until(() => { const e = events(ca.id); return e.includes('callUpdated:ON_HOLD') && e.lastIndexOf('callUpdated:ACTIVE') > e.indexOf('callUpdated:ON_HOLD'); }, { timeoutMs: 3000, what: 'hold callbacks' });
  }, 30_000);

  it('busy (486), SRTP refused (488) and the media timeout (704) end the call and remove its connection', async () => {
    const sessionId = await session();
    const busy = await farEnd({ status: 486 });
    const plain = await farEnd({ profile: 'RTP/AVP' });
    const mute = await farEnd({ send: 'nothing' });
    const c1 = await dial(sessionId, busy);
    const c2 = await dial(sessionId, plain, { secure: true });
    const c3 = await dial(sessionId, mute);
    expect(plain.invite!.body.toString()).toMatch(/m=audio \d+ RTP\/SAVP[\s\S]*a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/);
    await until(() => { const e = [c1, c2].map((c) => events(c.id).at(-1)); return e[0] === 'callDestroyed:486' && e[1] === 'callDestroyed:488'; }, { timeoutMs: 5000, what: 'failed calls' });
    expect(callbacks.find((c) => c.call.id === c2.id && c.event === 'callDestroyed')?.call.reason_message).toMatch(/refused SRTP/);
    expect(plain.requests.some((r) => r.method === 'BYE')).toBe(true);
    await until(() => events(c3.id).at(-1) === 'callDestroyed:704', { timeoutMs: 8000, what: 'media timeout' });
    expect(mute.requests.some((r) => r.method === 'BYE')).toBe(true);
    const conns = await rest('GET', `/session/${sessionId}/connection`);
    expect(conns.json['items']).toEqual([]);
  }, 30_000);

  it('a call nobody answers is cancelled after the ring timeout (408), its connection removed', async () => {
    const sessionId = await session();
    const ringing = await farEnd({ status: 180 });
    const c = await dial(sessionId, ringing);
    await until(() => events(c.id).includes('callUpdated:RINGING'), { timeoutMs: 3000, what: 'ringing' });
    await until(() => events(c.id).at(-1) === 'callDestroyed:408', { timeoutMs: 5000, what: 'ring timeout' });
    expect(ringing.requests.some((r) => r.method === 'CANCEL')).toBe(true);
    await until(() => ringing.requests.filter((r) => r.method === 'ACK').length === 1, { timeoutMs: 3000, what: 'ACK of the 487' });
    expect((await rest('GET', `/session/${sessionId}/connection`)).json['items']).toEqual([]);
  }, 20_000);

  it('refuses bad dials before anything changes', async () => {
    const sessionId = await session();
    const bad = async (sip: Record<string, unknown>, status: number, what: RegExp) => {
      const r = await rest('POST', '/dial', { sessionId, token: token(sessionId), sip });
      expect(r.status).toBe(status);
      expect(JSON.stringify(r.json)).toMatch(what);
    };
    await bad({ uri: 'tel:+15551234' }, 400, /uri/);
    await bad({ uri: 'sip:a@127.0.0.1;transport=sctp' }, 400, /sip.uri/);
    await bad({ uri: 'sip:a@127.0.0.1', headers: { Foo: 'x' } }, 400, /X-/);
    await bad({ uri: 'sip:a@127.0.0.1', headers: { 'X-A': 'x\r\nBye: 1' } }, 400, /sip.headers.X-A: must not contain control characters/);
    await bad({ uri: 'sip:a@127.0.0.1', from: 'not an address' }, 400, /sip.from/);
    expect((await rest('GET', `/session/${sessionId}/connection`)).json['items']).toEqual([]);
  });
});
