import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, what: string, log: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`${what} did not listen on ${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stopChild = (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });

/** The newest Debian PostgreSQL server binaries (`/usr/lib/postgresql/<v>/bin`). */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres'))) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server not installed (Debian package postgresql)');
  return join(base, versions.sort((a, b) => Number(b) - Number(a))[0]!, 'bin');
}

export interface RunningPostgres {
  /** `postgres://tokhost@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  /** Create an empty database. */
  createDatabase(name: string): string;
  stop(): Promise<void>;
}

/**
 * A throw-away PostgreSQL server: initdb in a temp dir, `postgres` on 127.0.0.1 (Unix socket in
 * the same dir), trust authentication for user `tokhost`. initdb refuses to run as root, so as
 * root the server runs as the `postgres` system user. `fsync=off` unless `durable`: the tests
 * kill Tokhost nodes, never the database server.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-pg-'));
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const [c, a] = wrap(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'tokhost', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  execFileSync(c, a, { stdio: 'pipe' });
  const port = await freePort();
  const settings = ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'max_connections=200', ...(opts.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'])];
  const [pc, pa] = wrap(join(bin, 'postgres'), ['-D', data, '-p', String(port), ...settings]);
  const child = spawn(pc, pa, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitForPort(port, child, 'postgres', () => log);
  const urlFor = (db: string) => `postgres://tokhost@127.0.0.1:${port}/${db}`;
  // Accepting TCP is not yet accepting logins: wait for a query to work.
  const psql = (sql: string) => execFileSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'tokhost', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: 'pipe' }).toString();
  for (let i = 0; ; i++) {
    try {
      psql('SELECT 1');
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url: urlFor('postgres'),
    port,
    urlFor,
    createDatabase(name) {
      psql(`CREATE DATABASE ${name}`);
      return urlFor(name);
    },
    async stop() {
      // SIGINT: PostgreSQL's "fast" shutdown (disconnects clients).
      await stopChild(child, 'SIGINT');
      // Should runuser have been killed without passing the signal on, stop the postmaster itself.
      try {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // Stopped already: no pid file.
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export interface RunningRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A throw-away redis-server on 127.0.0.1 without persistence. */
export async function startRedis(): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitForPort(port, child, 'redis-server', () => log);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export interface RunningBalancer {
  /** `http://127.0.0.1:<port>`: what clients and apps are given. */
  url: string;
  stop(): Promise<void>;
}

/**
 * nginx (Debian's) as a round-robin HTTP and WebSocket load balancer in front of `upstreams`
 * (`http://127.0.0.1:<port>` each), on a loopback port, its files in a temp dir. No upstream
 * keep-alive, so consecutive requests land on consecutive nodes.
 */
export async function startBalancer(upstreams: readonly string[]): Promise<RunningBalancer> {
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-lb-'));
  const port = await freePort();
  const servers = upstreams.map((u) => `    server ${new URL(u).host};`).join('\n');
  const conf = `error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream tokhost {
${servers}
  }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://tokhost;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_read_timeout 3600s;
      proxy_buffering off;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitForPort(port, child, 'nginx', () => log + (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await stopChild(child, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
