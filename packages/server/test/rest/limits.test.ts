import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArchiveJson } from '@tokhost/protocol';
import type { TokhostServer } from '../../src/create-server.js';
import { call, createSessionId, KEY_A, KEY_B, SECRET_B, startServer } from './harness.js';

let server: (TokhostServer & { close(): Promise<void> }) | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const json = (v: unknown) => ({ body: JSON.stringify(v), headers: { 'content-type': 'application/json' } });

describe('REST signals per project (restSignalRatePerProject)', () => {
  it('answers 429 with Retry-After past the burst, names the setting, and leaves other projects alone', async () => {
    server = await startServer({ restSignalRatePerProject: 1 });
    const sid = await createSessionId(server);
    const path = `/v2/project/${KEY_A}/session/${sid}/signal`;
    // Burst: 5 × the rate; 12 at once (sent together: on a loaded machine one by one would refill).
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => call(server!, 'POST', path, json({ type: 'chat', data: `m${i}` }))));
    const refill = Math.ceil((Date.now() - t0) / 1000);
    const ok = answers.filter((a) => a.status === 204).length;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(5 + refill);
    expect(answers.every((a) => a.status === 204 || a.status === 429)).toBe(true);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json).toMatchObject({ code: 429, message: 'Too many signals' });
    expect((refused.json as { description: string }).description).toContain('restSignalRatePerProject');
    // The per-connection route shares the project's bucket (admitted ones get 404: no such connection).
    const perConnection = await Promise.all(Array.from({ length: 8 }, () => call(server!, 'POST', `/v2/project/${KEY_A}/session/${sid}/connection/abc/signal`, json({ data: 'x' }))));
    expect(perConnection.some((a) => a.status === 429)).toBe(true);
    // Project B has its own.
    const sidB = await createSessionId(server, 'p2p.preference=disabled', { key: KEY_B, secret: SECRET_B });
    expect((await call(server, 'POST', `/v2/project/${KEY_B}/session/${sidB}/signal`, { ...json({ data: 'x' }), key: KEY_B, secret: SECRET_B })).status).toBe(204);
    // 1 per second: after 2.1 s it takes signals again.
    await new Promise((r) => setTimeout(r, 2100));
    expect((await call(server, 'POST', path, json({ data: 'later' }))).status).toBe(204);
  });
});

describe('concurrent archives (maxArchivesPerSession, maxArchivesPerProject)', () => {
  /** An archive recording now, as the archiver records one (the cap counts what the store says is recording). */
  function recording(s: TokhostServer, apiKey: string, sessionId: string, multiArchiveTag: string): void {
    const now = Date.now();
    const archive: ArchiveJson = {
      id: randomUUID(),
      status: 'started',
      name: null,
      reason: '',
      sessionId,
      projectId: apiKey,
      partnerId: apiKey,
      createdAt: now,
      updatedAt: now,
      size: 0,
      duration: 0,
      outputMode: 'composed',
      hasAudio: true,
      hasVideo: true,
      streamMode: 'auto',
      url: null,
      sha256sum: '',
      password: '',
      multiArchiveTag,
    };
    s.store.createArchive({ apiKey, archive });
  }
  const count = (s: TokhostServer, apiKey: string) => s.store.listArchives(apiKey, { count: 1000 }).items.length;

  it('answers 429 naming the limit, keeps the one-archive-per-session 409, and counts each project alone', async () => {
    server = await startServer({ maxArchivesPerSession: 2, maxArchivesPerProject: 3 });
    const s1 = await createSessionId(server);
    const s2 = await createSessionId(server);
    recording(server, KEY_A, s1, 't1');
    recording(server, KEY_A, s1, 't2');
    const start = (sessionId: string, tag?: string, auth: { key?: string; secret?: string } = {}) =>
      call(server!, 'POST', `/v2/project/${auth.key ?? KEY_A}/archive`, { ...json({ sessionId, ...(tag ? { multiArchiveTag: tag } : {}) }), ...auth });

    // The existing rule first: without a distinct tag, 409 "Recording already in progress".
    expect((await start(s1)).status).toBe(409);
    const perSession = await start(s1, 't3');
    expect(perSession.status).toBe(429);
    expect(perSession.json).toMatchObject({ code: 429, message: 'Too many archives' });
    expect((perSession.json as { description: string }).description).toContain('maxArchivesPerSession');
    recording(server, KEY_A, s2, 'a');
    const perProject = await start(s2, 'b');
    expect(perProject.status).toBe(429);
    expect((perProject.json as { description: string }).description).toContain('maxArchivesPerProject');
    // Nothing was recorded by the refused calls.
    expect(count(server, KEY_A)).toBe(3);
    // Project B is not held by A's archives: its start goes on to the next check (no clients connected).
    const sB = await createSessionId(server, 'p2p.preference=disabled', { key: KEY_B, secret: SECRET_B });
    const b = await start(sB, 'x', { key: KEY_B, secret: SECRET_B });
    expect(b.status).not.toBe(429);
    expect(b.json).toMatchObject({ message: 'No clients are connected to the session' });
  });
});
