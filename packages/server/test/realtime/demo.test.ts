import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { REALTIME_PATH } from '@tokhost/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHostAllowed, demoHostNames } from '../../src/demo/index.js';
import { startServer } from '../rest/harness.js';
import { TestClient } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;

/** GET over loopback with a Host header of our choosing (fetch does not let one set Host). */
function get(port: number, path: string, host: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface Creds {
  apiKey: string;
  sessionId: string;
  token: string;
}
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('the demo is off unless --demo', () => {
  it('answers 404 on /demo and /demo/join, also on a loopback listener', async () => {
    const server = await startServer();
    try {
      for (const path of ['/demo', '/demo/', '/demo/join?room=x']) {
        const r = await get(server.port, path, `127.0.0.1:${server.port}`);
        expect(r.status, path).toBe(404);
        expect(JSON.parse(r.text)).toMatchObject({ code: 404 });
      }
      expect(server.store.listProjects().map((p) => p.name)).not.toContain('tokhost-demo');
    } finally {
      await server.close();
    }
  });
});

describe('the demo with --demo', () => {
  let server: Server;
  let host = '';
  beforeAll(async () => {
    server = await startServer({ demo: true, demoMaxRooms: 3 });
    host = `127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it('refuses a Host that does not name this server: 403, no token, nothing created', async () => {
    const before = server.store.listProjects().length;
    for (const foreign of ['evil.example', `evil.example:${server.port}`, `127.0.0.1:${server.port + 1}`, '127.0.0.1', `10.0.0.1:${server.port}`, 'a b']) {
      for (const path of ['/demo', '/demo/join?room=r']) {
        const r = await get(server.port, path, foreign);
        expect(r.status, `${foreign} ${path}`).toBe(403);
        expect(JSON.parse(r.text)).toMatchObject({ code: -1, message: 'Forbidden', description: expect.stringContaining('Host') });
        expect(r.text).not.toContain('token');
      }
    }
    expect(server.store.listProjects().length).toBe(before);
  });

  it('serves the page to its own Host (the listen address, or localhost for a loopback listener)', async () => {
    for (const own of [host, `localhost:${server.port}`, `LOCALHOST:${server.port}`]) {
      const page = await get(server.port, '/demo', own);
      expect(page.status, own).toBe(200);
      expect(page.text).toContain('/js/tokhost.js');
    }
  });

  it('hands out publisher tokens (not moderator) that connect as publisher', async () => {
    const r = await get(server.port, '/demo/join?room=roles', host);
    expect(r.status).toBe(200);
    const creds = JSON.parse(r.text) as Creds;
    expect(claimsOf(creds.token)).toMatchObject({ role: 'publisher', session_id: creds.sessionId, iss: creds.apiKey });
    const { first, client } = await TestClient.connect({ wsUrl: `ws://${host}${REALTIME_PATH}`, apiKey: creds.apiKey }, creds.sessionId, creds.token);
    try {
      expect(first).toMatchObject({ type: 'sessionConnected', role: 'publisher' });
    } finally {
      client.close();
    }
  });

  it('gives the same session for the same room name, another for another name', async () => {
    const a1 = JSON.parse((await get(server.port, '/demo/join?room=same', host)).text) as Creds;
    const a2 = JSON.parse((await get(server.port, '/demo/join?room=same', host)).text) as Creds;
    const b = JSON.parse((await get(server.port, '/demo/join?room=other', host)).text) as Creds;
    expect(a2.sessionId).toBe(a1.sessionId);
    expect(a2.token).not.toBe(a1.token);
    expect(b.sessionId).not.toBe(a1.sessionId);
    expect(server.store.getSession(a1.sessionId)).toMatchObject({ apiKey: a1.apiKey, mediaMode: 'relayed' });
  });

  it('caps the rooms: a new room past demoMaxRooms is refused with a clear error, known rooms still open', async () => {
    // Rooms so far: roles, same, other (demoMaxRooms 3).
    const apiKey = (JSON.parse((await get(server.port, '/demo/join?room=same', host)).text) as Creds).apiKey;
    expect(server.store.listSessions(apiKey).total).toBe(3);
    const refused = await get(server.port, '/demo/join?room=fourth', host);
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.text)).toEqual({ code: 409, message: 'The demo has reached its maximum of 3 rooms', description: expect.stringContaining('demoMaxRooms') });
    expect(server.store.listSessions(apiKey).total).toBe(3);
    expect((await get(server.port, '/demo/join?room=other', host)).status).toBe(200);
  });

  it('refuses a bad room name with 400 naming the field, and other methods with 405', async () => {
    const r = await get(server.port, '/demo/join?room=' + encodeURIComponent('../x'), host);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: 400, message: expect.stringContaining('room') });
    expect((await fetch(`${server.url}/demo/join?room=x`, { method: 'POST' })).status).toBe(405);
  });
});

describe('the demo behind a reverse proxy', () => {
  it('answers to the host of publicUrl as well as to its listen address', async () => {
    const server = await startServer({ demo: true, publicUrl: 'https://video.example.com/base' });
    try {
      expect((await get(server.port, '/demo', 'video.example.com')).status).toBe(200);
      expect((await get(server.port, '/demo', 'video.example.com:443')).status).toBe(200);
      expect((await get(server.port, '/demo', 'video.example.com:8443')).status).toBe(403);
      expect((await get(server.port, '/demo', 'other.example.com')).status).toBe(403);
      expect((await get(server.port, '/demo', `127.0.0.1:${server.port}`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('demoHostNames / demoHostAllowed', () => {
  it('a listener on every interface answers to the machine\'s own addresses only', () => {
    const names = demoHostNames('0.0.0.0');
    const own = Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4').map((i) => i!.address);
    expect(own.length).toBeGreaterThan(0);
    for (const a of own) expect(demoHostAllowed(`${a}:3000`, 3000, names, null)).toBe(true);
    expect(demoHostAllowed('localhost:3000', 3000, names, null)).toBe(true);
    expect(demoHostAllowed('203.0.113.5:3000', 3000, names, null)).toBe(false);
    expect(demoHostAllowed('attacker.example:3000', 3000, names, null)).toBe(false);
    expect(demoHostAllowed(undefined, 3000, names, null)).toBe(false);
  });
  it('a named IPv6 loopback listener answers to [::1] and localhost; the port must be the one the request came to', () => {
    const names = demoHostNames('::1');
    expect(demoHostAllowed('[::1]:8080', 8080, names, null)).toBe(true);
    expect(demoHostAllowed('localhost:8080', 8080, names, null)).toBe(true);
    expect(demoHostAllowed('[::1]:8081', 8080, names, null)).toBe(false);
    expect(demoHostAllowed('[::1]', 8080, names, null)).toBe(false);
    expect(demoHostAllowed('127.0.0.1:8080', 8080, names, null)).toBe(false);
  });
});
