/**
 * TURN REST credentials against a real coturn (`use-auth-secret`): the ICE servers a client gets
 * in `sessionConnected` let Chromium allocate a relay on coturn; a wrong secret does not.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RtIceServer, SessionConnectedMessage } from '@tokhost/protocol';
import { iceServersFor } from '../../src/realtime/ice.js';
import { startHarness, TestClient } from '../realtime/harness.js';
import type { Harness } from '../realtime/harness.js';
import { hasChromium, launchChromium } from '../kit/index.js';

const TURNSERVER = '/usr/bin/turnserver';

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe.skipIf(!hasChromium || !existsSync(TURNSERVER))('TURN credentials with coturn', () => {
  const secret = randomBytes(24).toString('hex');
  let turn: ChildProcess;
  let h: Harness;
  let browser: Browser;
  let port: number;

  beforeAll(async () => {
    port = await freeUdpPort();
    turn = spawn(
      TURNSERVER,
      ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`, '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=tokhost.test', '--no-tls', '--no-dtls', '--no-cli', '--no-tcp-relay', '--min-port=49400', '--max-port=49500', '--log-file=stdout', '--simple-log'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    turn.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    turn.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const end = Date.now() + 10_000;
    while (!/listener opened on|IPv4\. UDP listener opened|Total (UDP|General) servers/i.test(log) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    h = await startHarness({ iceServers: [{ urls: [`turn:127.0.0.1:${port}?transport=udp`] }], turnSecret: secret });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (turn && turn.exitCode === null) {
      const exited = new Promise((r) => turn.once('exit', r));
      turn.kill('SIGTERM');
      await exited;
    }
  });

  /** Gather candidates with relay-only policy; returns the candidate types seen. */
  async function relayCandidates(iceServers: RtIceServer[]): Promise<string[]> {
    const page = await browser.newPage();
    try {
      return await page.evaluate(async (servers) => {
        const pc = new RTCPeerConnection({ iceServers: servers as RTCIceServer[], iceTransportPolicy: 'relay' });
        pc.createDataChannel('x');
        const types: string[] = [];
        const done = new Promise<void>((resolve) => {
          pc.onicecandidate = (e) => (e.candidate ? types.push(e.candidate.type ?? '?') : resolve());
          setTimeout(resolve, 8000);
        });
        await pc.setLocalDescription(await pc.createOffer());
        await done;
        pc.close();
        return types;
      }, iceServers);
    } finally {
      await page.close();
    }
  }

  it('hands out time-limited credentials that coturn accepts; a wrong secret is refused', async () => {
    const sid = h.createSession();
    const { client, first } = await TestClient.connect(h, sid, h.opentok.generateToken(sid));
    try {
      const hello = first as SessionConnectedMessage;
      const [server] = hello.iceServers;
      expect(server!.username).toMatch(new RegExp(`^\\d+:${hello.connection.connectionId}$`));
      const expiry = Number(server!.username!.split(':')[0]);
      expect(expiry - Date.now() / 1000).toBeGreaterThan(86_000);
      expect(await relayCandidates(hello.iceServers)).toContain('relay');
      const forged = iceServersFor({ iceServers: [{ urls: [`turn:127.0.0.1:${port}?transport=udp`] }], turnSecret: 'not-the-secret-at-all', turnTtlSeconds: 3600 }, 'someone');
      expect(await relayCandidates(forged)).not.toContain('relay');
      const expired = iceServersFor({ iceServers: [{ urls: [`turn:127.0.0.1:${port}?transport=udp`] }], turnSecret: secret, turnTtlSeconds: -60 }, 'late');
      expect(await relayCandidates(expired)).not.toContain('relay');
    } finally {
      client.close();
    }
  });
});
