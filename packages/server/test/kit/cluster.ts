/**
 * Cluster tests: `tokhost serve` nodes on one PostgreSQL database and one Redis, and TCP
 * balancers in front of them (as a load balancer with health checks: a node whose port refuses
 * is skipped). PostgreSQL and Redis themselves: `../cluster/services.ts`.
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { serve, stop } from '../cli/spawn.js';
import type { ServeProcess } from '../cli/spawn.js';

/** A running {@link startBalancer}. */
export interface Balancer {
  /** `http://127.0.0.1:<port>`: the one URL the clients use. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A TCP balancer on loopback: each connection goes to the first port of `upstreams()` (asked
 * anew per connection) that accepts it. Pass a fixed preference order, or {@link roundRobin}.
 */
export async function startBalancer(upstreams: () => number[]): Promise<Balancer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    // A killed node resets its side mid-write: that ends the pair, it is not a test error.
    client.on('error', () => client.destroy());
    client.on('close', () => sockets.delete(client));
    client.pause();
    const tryNext = (list: number[]) => {
      const port = list[0];
      if (port === undefined) {
        client.destroy();
        return;
      }
      const up = connect(port, '127.0.0.1');
      up.once('error', () => {
        if (!up.readyState || up.connecting) tryNext(list.slice(1));
        else client.destroy();
      });
      up.once('connect', () => {
        up.on('error', () => up.destroy());
        sockets.add(up);
        up.on('close', () => {
          sockets.delete(up);
          client.destroy();
        });
        client.on('close', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    };
    tryNext(upstreams());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  };
}

/** Upstream order for {@link startBalancer}: each connection starts at the next port of `ports()` (the rest follow as fallbacks). */
export function roundRobin(ports: () => number[]): () => number[] {
  let next = 0;
  return () => {
    const list = ports();
    if (list.length === 0) return list;
    const first = next++ % list.length;
    return [...list.slice(first), ...list.slice(0, first)];
  };
}

/** Nodes of a test cluster by ID. */
export interface ClusterNodes {
  readonly nodes: ReadonlyMap<string, ServeProcess>;
  /** The node's own URL (no balancer). */
  url(id: string): string;
  /** The ports of the nodes whose process still runs, in the order of `ids` given. */
  alivePorts(ids?: readonly string[]): number[];
  /** The running node whose realtime layer holds the one session of the test (its /metrics count one), or null. */
  ownerOfOnlySession(): Promise<string | null>;
  /** SIGKILL one node and wait for its exit. */
  kill(id: string): Promise<void>;
  /** Stop every node still running (SIGKILL: the tests' cleanup). */
  stopAll(): Promise<void>;
}

/** Options of {@link startClusterNodes}: what every node shares. */
export interface ClusterNodesOptions {
  ids: readonly string[];
  apiKey: string;
  apiSecret: string;
  masterKey: string;
  databaseUrl: string;
  redisUrl: string;
  /** The data directory every node shares (archives, recordings). */
  dataDir: string;
  /** More `tokhost serve` flags for every node. */
  extraArgs?: readonly string[];
}

/** Start one `tokhost serve` per ID, one after the other, on loopback with free ports. */
export async function startClusterNodes(o: ClusterNodesOptions): Promise<ClusterNodes> {
  const nodes = new Map<string, ServeProcess>();
  const running = (p: ServeProcess) => p.child.exitCode === null && p.child.signalCode === null;
  const handle: ClusterNodes = {
    nodes,
    url: (id) => nodes.get(id)!.url,
    alivePorts: (ids = o.ids) => ids.filter((id) => nodes.has(id) && running(nodes.get(id)!)).map((id) => Number(new URL(nodes.get(id)!.url).port)),
    async ownerOfOnlySession() {
      for (const [id, n] of nodes) {
        if (!running(n)) continue;
        const text = await (await fetch(`${n.url}/metrics`)).text();
        if (/^tokhost_realtime_sessions 1$/m.test(text)) return id;
      }
      return null;
    },
    async kill(id) {
      const p = nodes.get(id)!;
      p.child.kill('SIGKILL');
      await p.exited;
    },
    stopAll: async () => void (await Promise.all([...nodes.values()].map((n) => stop(n, 'SIGKILL')))),
  };
  try {
    for (const id of o.ids) {
      const p = await serve(
        [
          ...['--port', '0', '--host', '127.0.0.1', '--outbound-allow', '127.0.0.0/8', '--data-dir', o.dataDir, '--database-url', o.databaseUrl, '--master-key', o.masterKey],
          ...['--redis-url', o.redisUrl, '--node-id', id, '--api-key', o.apiKey, '--api-secret', o.apiSecret, '--media-workers', '1', '--log-level', process.env['TEST_LOG'] ?? 'warn'],
          ...(o.extraArgs ?? []),
        ],
        { TOKHOST_CONFIG: '' },
      );
      nodes.set(id, p);
    }
  } catch (err) {
    await handle.stopAll();
    throw err;
  }
  return handle;
}
