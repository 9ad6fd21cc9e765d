import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOutboundPolicy } from '../../src/net/outbound.js';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';
import { createWebhookSender, signWebhookBody, WEBHOOK_DELIVERY_HEADER } from '../../src/webhooks/index.js';
import { until } from '../kit/index.js';

const logger = { warn() {}, debug() {} };
// The endpoints below listen on loopback, which the default outbound policy refuses.
const loopback = createOutboundPolicy({ allow: ['127.0.0.0/8'] });
const SECRET = 'k'.repeat(40);

/** A webhook endpoint that answers `status()` and records what it accepted. */
async function sink(status: () => number): Promise<{ url: string; got: { path: string; body: string; sig: string; delivery: string }[]; server: Server }> {
  const got: { path: string; body: string; sig: string; delivery: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const code = status();
      if (code < 300) got.push({ path: req.url!, body, sig: String(req.headers['x-tokhost-signature']), delivery: String(req.headers[WEBHOOK_DELIVERY_HEADER.toLowerCase()]) });
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server };
}


describe('webhook outbox', () => {
  let dir: string;
  let store: Store;
  const servers: Server[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-outbox-'));
    store = createSqliteStore({ dataDir: dir });
  });
  afterEach(async () => {
    store.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('keeps undelivered callbacks across a restart and delivers them in order, signed, once', async () => {
    let up = false;
    const endpoint = await sink(() => (up ? 204 : 503));
    servers.push(endpoint.server);
    const first = createWebhookSender({ logger, outbound: loopback, outbox: store, retryDelaysMs: [60_000] });
    for (let n = 1; n <= 5; n++) first.send(`${endpoint.url}/hook`, SECRET, { event: 'archive', n });
    await new Promise((r) => setTimeout(r, 200));
    expect(endpoint.got).toEqual([]);
    first.close();
    store.close();

    // The process is gone; a new one opens the same data directory.
    store = createSqliteStore({ dataDir: dir });
    expect(store.listOutbox(`${endpoint.url}/hook`, 10).map((i) => JSON.parse(i.body).n)).toEqual([1, 2, 3, 4, 5]);
    up = true;
    // A generous attempt timeout: on a loaded machine a timed-out attempt that did arrive is sent again.
    const second = createWebhookSender({ logger, outbound: loopback, outbox: store, retryDelaysMs: [50], timeoutMs: 20_000 });
    try {
      await until(() => endpoint.got.length >= 5, { timeoutMs: 8000, intervalMs: 20, what: '5 deliveries' });
      await second.idle();
      expect(endpoint.got.map((g) => JSON.parse(g.body).n)).toEqual([1, 2, 3, 4, 5]);
      for (const g of endpoint.got) expect(g.sig).toBe(signWebhookBody(SECRET, g.body, Number(/t=(\d+)/.exec(g.sig)![1])));
      expect(new Set(endpoint.got.map((g) => g.delivery)).size).toBe(5);
      expect(store.listOutbox(`${endpoint.url}/hook`, 10)).toEqual([]);
    } finally {
      second.close();
    }
  });

  it('two senders draining one outbox deliver every callback once and in order per URL', async () => {
    const endpoint = await sink(() => 200);
    servers.push(endpoint.server);
    const a = createWebhookSender({ logger, outbound: loopback, outbox: store, owner: 'node-a', exclusive: false, pollMs: 50, retryDelaysMs: [50] });
    const b = createWebhookSender({ logger, outbound: loopback, outbox: store, owner: 'node-b', exclusive: false, pollMs: 50, retryDelaysMs: [50] });
    try {
      for (let n = 0; n < 60; n++) (n % 2 ? a : b).send(`${endpoint.url}/u${n % 3}`, SECRET, { n });
      await until(() => endpoint.got.length >= 60, { timeoutMs: 8000, intervalMs: 20, what: '60 deliveries' });
      await new Promise((r) => setTimeout(r, 200));
      expect(endpoint.got.length).toBe(60);
      for (const path of ['/u0', '/u1', '/u2']) {
        const ns = endpoint.got.filter((g) => g.path === path).map((g) => JSON.parse(g.body).n as number);
        expect(ns).toEqual([...ns].sort((x, y) => x - y));
        expect(ns.length).toBe(20);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('a URL held by a dead sender moves to another once its lease expires', async () => {
    let up = false;
    const endpoint = await sink(() => (up ? 200 : 500));
    servers.push(endpoint.server);
    // What a SIGKILLed node leaves behind: its item and its lease on the URL.
    store.enqueueOutbox({ url: `${endpoint.url}/h`, secret: SECRET, body: JSON.stringify({ n: 1 }), createdAt: Date.now() });
    expect(store.claimOutboxUrls('dead', Date.now(), Date.now() + 400)).toEqual([`${endpoint.url}/h`]);
    up = true;
    const started = Date.now();
    const live = createWebhookSender({ logger, outbound: loopback, outbox: store, owner: 'live', exclusive: false, leaseMs: 300, pollMs: 50 });
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(endpoint.got).toEqual([]);
      await until(() => endpoint.got.length >= 1, { timeoutMs: 8000, intervalMs: 20, what: '1 deliveries' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(JSON.parse(endpoint.got[0]!.body)).toEqual({ n: 1 });
    } finally {
      live.close();
    }
  });
});
