import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { StoreError } from './store.js';
import { TokhostError } from '../errors.js';

/** One SQL statement with its `$n` parameters. */
export interface Statement {
  sql: string;
  params?: readonly unknown[];
}

/** A failed statement as PostgreSQL reported it (`sqlState`, e.g. 23505 unique_violation). */
export class PgQueryError extends TokhostError<'ERR_STORE_QUERY'> {
  override readonly name = 'PgQueryError';
  constructor(
    message: string,
    readonly sqlState: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super('ERR_STORE_QUERY', message);
  }
}

/** A PostgreSQL connection with a synchronous API (see {@link openSyncPg}). */
export interface SyncPg {
  /** Run statements in order and return the rows of each; with `transaction`, inside BEGIN … COMMIT. */
  run(statements: readonly Statement[], transaction?: boolean): Record<string, unknown>[][];
  /**
   * The same without blocking: resolves with the rows once PostgreSQL answered. Runs in order with
   * the blocking calls (one connection, one queue).
   */
  runAsync(statements: readonly Statement[], transaction?: boolean): Promise<Record<string, unknown>[][]>;
  /** Counts NOTIFY messages received on the listened channels; changes when another node wrote. */
  notifications(): number;
  /** Ends the connections (waits for the worker, up to the timeout). */
  close(): void;
}

export interface SyncPgOptions {
  url: string;
  /** Channels to LISTEN on (through a second connection). Default none. */
  listen?: readonly string[];
  /** Longest wait for one call, ms. Default 15000. */
  timeoutMs?: number;
}

// The worker: one `pg` client that runs jobs strictly one after another (so a node reads its own
// writes in order) and a second one that LISTENs. A reply is posted on the port, then the shared
// flag is raised, which wakes the caller blocked in Atomics.wait.
const WORKER = `
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pg);
pg.types.setTypeParser(20, (v) => Number(v));
const state = new Int32Array(workerData.state);
const port = workerData.port;
const client = new pg.Client({ connectionString: workerData.url });
let broken = null;
client.on('error', (err) => { broken = err; });
const ready = (async () => {
  await client.connect();
  if (workerData.listen.length > 0) {
    const listener = new pg.Client({ connectionString: workerData.url });
    listener.on('error', () => {});
    await listener.connect();
    listener.on('notification', () => Atomics.add(state, 1, 1));
    for (const ch of workerData.listen) await listener.query('LISTEN ' + ch);
    port.once('close', () => listener.end().catch(() => {}));
  }
})();
ready.catch((err) => { broken = err; });
const reply = (m) => { port.postMessage(m); Atomics.store(state, 0, 1); Atomics.notify(state, 0); };
const run = async (job) => {
  await ready;
  if (broken) throw broken;
  const out = [];
  if (job.transaction) await client.query('BEGIN');
  try {
    for (const s of job.statements) out.push((await client.query(s.sql, s.params)).rows);
    if (job.transaction) await client.query('COMMIT');
  } catch (err) {
    if (job.transaction) await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return out;
};
let chain = Promise.resolve();
port.on('message', (job) => {
  if (job === 'close') {
    chain = chain.then(() => client.end()).catch(() => {}).then(() => { reply({ closed: true }); port.close(); });
    return;
  }
  chain = chain.then(() => run(job)).then(
    (rows) => reply({ id: job.id, rows }),
    (err) => reply({ id: job.id, error: { message: String(err && err.message), code: err && err.code, constraint: err && err.constraint } }),
  );
});
`;

/**
 * A PostgreSQL connection the synchronous {@link Store} interface can use: `pg` runs in a worker
 * thread and the calling thread blocks on `Atomics.wait` until the answer is there, the way
 * better-sqlite3 blocks on the disk. One round trip per call (tenths of a millisecond on a LAN),
 * every write committed before the call returns. synckit does the same for one function per
 * worker; this keeps one ordered connection for every query plus a LISTEN counter in the shared
 * memory, which synckit has no room for.
 */
export function openSyncPg(options: SyncPgOptions): SyncPg {
  const state = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { url: options.url, pg: createRequire(import.meta.url).resolve('pg'), state: state.buffer, port: port2, listen: options.listen ?? [] },
    transferList: [port2],
  });
  worker.unref();
  const timeoutMs = options.timeoutMs ?? 15_000;
  let nextId = 1;
  let closed = false;

  type Reply = { id?: number; closed?: boolean; rows?: Record<string, unknown>[][]; error?: { message: string; code?: string; constraint?: string } };
  const waiting = new Map<number, { resolve(rows: Record<string, unknown>[][]): void; reject(err: Error): void }>();
  /** Settle an asynchronous call's promise; true when `m` was one. */
  const settleAsync = (m: Reply): boolean => {
    const w = m.id === undefined ? undefined : waiting.get(m.id);
    if (!w) return false;
    waiting.delete(m.id!);
    if (m.error) w.reject(new PgQueryError(m.error.message, m.error.code, m.error.constraint));
    else w.resolve(m.rows!);
    return true;
  };
  // Replies of asynchronous calls arrive here, or in waitFor when a blocking call is waiting.
  port1.on('message', (m: Reply) => void settleAsync(m));
  port1.unref();
  /** Block until the worker's reply that `mine` accepts (stale replies of timed-out calls are skipped). */
  const waitFor = (mine: (m: Reply) => boolean): Reply => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = receiveMessageOnPort(port1) as { message: Reply } | undefined;
      if (got) {
        if (mine(got.message)) return got.message;
        settleAsync(got.message);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new StoreError('ERR_STORE_CLOSED', `PostgreSQL did not answer within ${timeoutMs} ms`);
      Atomics.wait(state, 0, 0, left);
      Atomics.store(state, 0, 0);
    }
  };

  return {
    run(statements, transaction = false) {
      if (closed) throw new StoreError('ERR_STORE_CLOSED', 'The store is closed');
      const id = nextId++;
      port1.postMessage({ id, statements, transaction });
      const m = waitFor((r) => r.id === id);
      if (m.error) throw new PgQueryError(m.error.message, m.error.code, m.error.constraint);
      return m.rows!;
    },
    runAsync(statements, transaction = false) {
      if (closed) return Promise.reject(new StoreError('ERR_STORE_CLOSED', 'The store is closed'));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        port1.postMessage({ id, statements, transaction });
      });
    },
    notifications: () => Atomics.load(state, 1),
    close() {
      if (closed) return;
      closed = true;
      port1.postMessage('close');
      try {
        waitFor((r) => r.closed === true);
        for (const w of waiting.values()) w.reject(new StoreError('ERR_STORE_CLOSED', 'The store closed before PostgreSQL answered'));
        waiting.clear();
      } catch {
        // Not answering: terminating the thread drops the connection anyway.
      }
      port1.close();
      void worker.terminate();
    },
  };
}
