/** Real SIP peers for the SIP e2e tests and bench: sipp (sip-tester) and baresip, on loopback, in temp dirs. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port free for both UDP and TCP on 127.0.0.1 (and, with `pair`, the next one too). */
export async function freePort(pair = false): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000) * 2;
    const ok = async (p: number) => {
      const udp = createSocket('udp4');
      const u = await new Promise<boolean>((r) => {
        udp.once('error', () => r(false));
        udp.bind(p, '127.0.0.1', () => r(true));
      });
      udp.close();
      if (!u) return false;
      const tcp = createServer();
      const t = await new Promise<boolean>((r) => {
        tcp.once('error', () => r(false));
        tcp.listen(p, '127.0.0.1', () => r(true));
      });
      await new Promise((r) => tcp.close(r));
      return t;
    };
    if ((await ok(port)) && (!pair || (await ok(port + 1)))) return port;
  }
  throw new Error('no free port');
}

export interface SippRun {
  port: number;
  mediaPort: number;
  dir: string;
  exited: Promise<number | null>;
  /** sipp's own log (-log_file) and message trace. */
  logs(): string;
  stop(): void;
}

/**
 * Starts sipp as a UAS with `scenario` (XML text) on `transport` (`u1` UDP, `t1` TCP), echoing
 * RTP (-rtp_echo). `calls`: how many calls before it exits (-m).
 */
export async function startSippUas(scenario: string, o: { transport: 'u1' | 't1'; calls?: number; timeoutS?: number; extra?: string[] }): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-sipp-'));
  const sf = join(dir, 'uas.xml');
  writeFileSync(sf, scenario);
  const port = await freePort();
  const mediaPort = await freePort(true);
  const args = ['-sf', sf, '-i', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort), '-m', String(o.calls ?? 1), '-rtp_echo', '-t', o.transport, '-timeout', `${o.timeoutS ?? 40}s`, '-timeout_error', '-nostdin', '-trace_msg', '-message_file', join(dir, 'messages.log'), '-trace_logs', '-log_file', join(dir, 'log.log'), '-trace_err', '-error_file', join(dir, 'errors.log'), ...(o.extra ?? [])];
  const proc: ChildProcess = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  // sipp is listening once it has bound its port; give it a moment.
  await new Promise((r) => setTimeout(r, 400));
  return {
    port,
    mediaPort,
    dir,
    exited,
    logs: () => ['log.log', 'messages.log', 'errors.log'].map((f) => {
      try {
        return `--- ${f}\n` + readFileSync(join(dir, f), 'utf8');
      } catch {
        return '';
      }
    }).join('\n') + (stderr ? `--- stderr\n${stderr}` : ''),
    stop: () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      setTimeout(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }), 200).unref();
    },
  };
}

/** The fixture scenario, with one of its two endings (the far end waits for our BYE, or sends its own). */
export function uasScenario(ending: 'wait-for-bye' | 'send-bye'): string {
  const xml = readFileSync(new URL('./fixtures/sip/uas-auth.xml', import.meta.url), 'utf8');
  const drop = ending === 'wait-for-bye' ? 'SEND_BYE' : 'WAIT_FOR_BYE';
  return xml.replace(new RegExp(`<!-- ${drop} -->[\\s\\S]*?<!-- /${drop} -->`), '');
}
