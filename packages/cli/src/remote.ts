/**
 * The commands that talk to a running server over its REST API (`@tokhost/sdk`): sessions,
 * tokens, moderation, archives and broadcasts. Credentials come from `--url/--api-key/--api-secret`,
 * else `TOKHOST_URL/TOKHOST_API_KEY/TOKHOST_API_SECRET`, else the profile `tokhost login` saved.
 */
import { createHash } from 'node:crypto';
import { chmodSync, createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { styleText } from 'node:util';
import { OpenTok, OpenTokError } from '@tokhost/sdk';
import type { Archive, Broadcast, OpenTok as OpenTokClient } from '@tokhost/sdk';
import { CliUsageError } from './usage-error.js';
import { AdminApi, AdminApiError } from './admin-api.js';
import type { LiveSessionJson, WebhookDeliveryJson } from '@tokhost/protocol';
import type { CliIo } from './cli.js';
import { parseArgs } from 'node:util';

type Values = Record<string, string | boolean | undefined>;

/** The server and credentials a remote command uses. */
export interface RemoteTarget {
  url: string;
  apiKey: string;
  apiSecret: string;
}

/** Where `tokhost login` keeps its profiles: `$XDG_CONFIG_HOME/tokhost/profiles.json` (default `~/.config`). */
export function profilesFile(env: CliIo['env']): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'tokhost', 'profiles.json');
}

function readProfiles(env: CliIo['env']): Record<string, RemoteTarget> {
  try {
    return JSON.parse(readFileSync(profilesFile(env), 'utf8')) as Record<string, RemoteTarget>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliUsageError(`cannot read ${profilesFile(env)}: ${(err as Error).message}`);
  }
}

/** Flags over environment over the saved profile; names the first missing setting. */
export function resolveTarget(values: Values, io: CliIo): RemoteTarget {
  const profileName = typeof values['profile'] === 'string' ? values['profile'] : 'default';
  const profile = readProfiles(io.env)[profileName];
  const pick = (flag: string, env: string, fromProfile: string | undefined): string => {
    const v = typeof values[flag] === 'string' ? (values[flag] as string) : io.env[env] || fromProfile;
    if (!v) throw new CliUsageError(`--${flag} is required (or env ${env}, or a profile saved by "tokhost login")`);
    return v;
  };
  const url = pick('url', 'TOKHOST_URL', profile?.url);
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CliUsageError(`--url must be an http(s) URL (got "${url}")`);
  return { url: url.replace(/\/+$/, ''), apiKey: pick('api-key', 'TOKHOST_API_KEY', profile?.apiKey), apiSecret: pick('api-secret', 'TOKHOST_API_SECRET', profile?.apiSecret) };
}

/** Options every remote command accepts. */
export const REMOTE_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'api-secret': { type: 'string' },
  profile: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Options of the individual remote commands. */
export const REMOTE_COMMAND_OPTIONS = {
  routed: { type: 'boolean' },
  'archive-mode': { type: 'string' },
  e2ee: { type: 'boolean' },
  role: { type: 'string' },
  data: { type: 'string' },
  expire: { type: 'string' },
  to: { type: 'string' },
  type: { type: 'string' },
  all: { type: 'boolean' },
  exclude: { type: 'string' },
  'session-id': { type: 'string' },
  name: { type: 'string' },
  'output-mode': { type: 'string' },
  hls: { type: 'boolean' },
  rtmp: { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  retry: { type: 'string' },
  publishers: { type: 'string' },
  subscribers: { type: 'string' },
  duration: { type: 'string' },
  offset: { type: 'string' },
  count: { type: 'string' },
} as const;

/** The remote commands' names (the first argument). */
export const REMOTE_COMMANDS = new Set(['login', 'session', 'token', 'signal', 'disconnect', 'mute', 'archive', 'broadcast', 'webhook', 'load-test']);

class Out {
  constructor(
    private readonly io: CliIo,
    private readonly values: Values,
  ) {}
  get json(): boolean {
    return this.values['json'] === true;
  }
  /** `--json` prints `data`, else `text()`. */
  print(data: unknown, text: () => string): void {
    this.io.stdout(this.json ? JSON.stringify(data, null, 2) : text());
  }
  style(format: Parameters<typeof styleText>[0], s: string): string {
    return this.io.color ? styleText(format, s) : s;
  }
  status(s: string): string {
    const colour = s === 'available' || s === 'uploaded' || s === 'started' || s === 'delivered' ? 'green' : s === 'failed' ? 'red' : 'yellow';
    return this.style(colour, s);
  }
}

const one = (args: string[], usage: string): string => {
  if (args.length !== 1) throw new CliUsageError(`${usage}`);
  return args[0]!;
};

function enumValue<T extends string>(flag: string, v: unknown, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new CliUsageError(`--${flag} must be one of ${allowed.join(', ')} (got "${String(v)}")`);
  return v as T;
}

function describeArchive(a: Archive, o: Out): string {
  return [
    `archive ${a.id}  ${o.status(a.status)}`,
    `  session:  ${a.sessionId}`,
    `  name:     ${a.name || '(none)'}`,
    `  created:  ${new Date(a.createdAt).toISOString()}`,
    `  mode:     ${a.outputMode}`,
    `  duration: ${a.duration} s   size: ${a.size} bytes`,
    ...(a.sha256sum ? [`  sha256:   ${a.sha256sum}`] : []),
    ...(a.url ? [`  url:      ${a.url}`] : []),
    ...(a.reason ? [`  reason:   ${a.reason}`] : []),
  ].join('\n');
}

function describeBroadcast(b: Broadcast, o: Out): string {
  const urls = b.broadcastUrls as { hls?: string; rtmp?: { serverUrl?: string; streamName?: string; status?: string }[] } | undefined;
  return [
    `broadcast ${b.id}  ${o.status(String(b.status))}`,
    `  session:  ${String(b.sessionId)}`,
    `  created:  ${new Date(Number(b.createdAt)).toISOString()}`,
    ...(urls?.hls ? [`  hls:      ${urls.hls}`] : []),
    ...(urls?.rtmp ?? []).map((r) => `  rtmp:     ${r.serverUrl ?? ''}/${r.streamName ?? ''} ${r.status ?? ''}`),
  ].join('\n');
}

/**
 * Run a remote command. Resolves with the exit code: 0, 1 when the server refused (its message
 * printed), 2 for a usage mistake (thrown as {@link CliUsageError}).
 */
export async function runRemote(command: string, positionals: string[], values: Values, io: CliIo): Promise<number> {
  const o = new Out(io, values);
  if (command === 'login') return login(positionals, values, io, o);
  const target = resolveTarget(values, io);
  const ot: OpenTokClient = new OpenTok(target.apiKey, target.apiSecret, { apiUrl: target.url });
  try {
    return await dispatch(command, positionals, values, io, o, ot, target);
  } catch (err) {
    if (err instanceof OpenTokError || err instanceof AdminApiError) {
      io.stderr(`tokhost: ${err.message}`);
      return 1;
    }
    if (err instanceof TypeError && /fetch failed/.test(err.message)) {
      io.stderr(`tokhost: cannot reach ${target.url} (${(err.cause as Error | undefined)?.message ?? err.message})`);
      return 1;
    }
    throw err;
  }
}

async function login(args: string[], values: Values, io: CliIo, o: Out): Promise<number> {
  if (args.length > 0) throw new CliUsageError('login takes no arguments (--url, --api-key, --api-secret, --profile)');
  const target = resolveTarget(values, io);
  // Check the credentials before keeping them: a list of archives needs a valid project token.
  await new OpenTok(target.apiKey, target.apiSecret, { apiUrl: target.url }).listArchives({ count: 1 }).catch((err: unknown) => {
    throw err instanceof OpenTokError ? new CliUsageError(`login refused by ${target.url}: ${err.message}`) : err;
  });
  const name = typeof values['profile'] === 'string' ? values['profile'] : 'default';
  const file = profilesFile(io.env);
  const profiles = { ...readProfiles(io.env), [name]: target };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(profiles, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  o.print({ profile: name, url: target.url, apiKey: target.apiKey, file }, () => `saved profile "${name}" (${target.url}, project ${target.apiKey}) in ${file}`);
  return 0;
}

async function dispatch(command: string, positionals: string[], values: Values, io: CliIo, o: Out, ot: OpenTokClient, target: RemoteTarget): Promise<number> {
  const [sub, ...args] = positionals;
  switch (command) {
    case 'session':
      switch (sub) {
        case 'create': {
          if (args.length > 0) throw new CliUsageError('session create takes no arguments');
          const archiveMode = enumValue('archive-mode', values['archive-mode'], ['always', 'manual'] as const);
          if (archiveMode === 'always' && values['routed'] !== true) throw new CliUsageError('--archive-mode always needs --routed');
          const s = await ot.createSession({ mediaMode: values['routed'] === true ? 'routed' : 'relayed', ...(archiveMode ? { archiveMode } : {}), ...(values['e2ee'] === true ? { e2ee: true } : {}) });
          o.print({ sessionId: s.sessionId, mediaMode: s.mediaMode, archiveMode: s.archiveMode, e2ee: s.e2ee }, () => s.sessionId);
          return 0;
        }
        case 'list': {
          if (args.length > 0) throw new CliUsageError('session list takes no arguments');
          const list = await new AdminApi(target).liveSessions();
          o.print(list, () => (list.items.length === 0 ? 'no live sessions' : list.items.map((s) => describeLiveSession(s, o)).join('\n')));
          return 0;
        }
        case 'show': {
          const id = one(args, 'session show takes <sessionId>');
          const [connections, streams] = await Promise.all([ot.listConnections(id), ot.listStreams(id)]);
          o.print({ sessionId: id, connections: connections.items, streams }, () =>
            [
              `session ${id}`,
              `${o.style('bold', 'connections')} (${connections.totalCount})`,
              ...connections.items.map((c) => {
                const r = c as unknown as Record<string, unknown>;
                return `  ${String(r['connectionId'])}  ${String(r['connectionState'] ?? '')}  since ${new Date(Number(r['createdAt'])).toISOString()}`;
              }),
              `${o.style('bold', 'streams')} (${streams.length})`,
              ...streams.map((s) => `  ${s.id}  ${s.videoType}  ${s.name || '(no name)'}`),
            ].join('\n'),
          );
          return 0;
        }
        default:
          throw new CliUsageError(sub === undefined ? 'session takes create|list|show' : `unknown session command "${sub}" (create|list|show)`);
      }
    case 'token': {
      const sessionId = one(positionals, 'token takes <sessionId>');
      const role = enumValue('role', values['role'], ['publisher', 'subscriber', 'moderator', 'publisheronly'] as const);
      let expireTime: number | undefined;
      if (values['expire'] !== undefined) {
        const s = Number(values['expire']);
        if (!Number.isInteger(s) || s <= 0 || s > 30 * 86400) throw new CliUsageError(`--expire must be a number of seconds from now, 1 to ${30 * 86400} (got "${String(values['expire'])}")`);
        expireTime = Math.floor(Date.now() / 1000) + s;
      }
      const token = ot.generateToken(sessionId, { ...(role ? { role } : {}), ...(typeof values['data'] === 'string' ? { data: values['data'] } : {}), ...(expireTime ? { expireTime } : {}) });
      o.print({ sessionId, token, ...(expireTime ? { expireTime } : {}) }, () => token);
      return 0;
    }
    case 'signal': {
      const sessionId = one(positionals, 'signal takes <sessionId> --type T --data D [--to connectionId]');
      if (typeof values['type'] !== 'string' || typeof values['data'] !== 'string') throw new CliUsageError('signal needs --type and --data');
      await ot.signal(sessionId, { type: values['type'], data: values['data'] }, typeof values['to'] === 'string' ? values['to'] : null);
      o.print({ sessionId, sent: true }, () => `signal "${String(values['type'])}" sent to ${typeof values['to'] === 'string' ? `connection ${values['to']}` : 'the session'}`);
      return 0;
    }
    case 'disconnect': {
      if (positionals.length !== 2) throw new CliUsageError('disconnect takes <sessionId> <connectionId>');
      await ot.forceDisconnect(positionals[0]!, positionals[1]!);
      o.print({ connectionId: positionals[1], disconnected: true }, () => `disconnected ${positionals[1]!}`);
      return 0;
    }
    case 'mute': {
      if (values['all'] === true) {
        const sessionId = one(positionals, 'mute --all takes <sessionId>');
        const excluded = typeof values['exclude'] === 'string' ? values['exclude'].split(',').filter(Boolean) : undefined;
        await ot.forceMuteAll(sessionId, excluded ? { excludedStreamIds: excluded } : {});
        o.print({ sessionId, muted: 'all' }, () => `muted every stream of ${sessionId}${excluded ? ` but ${excluded.join(', ')}` : ''}`);
        return 0;
      }
      if (positionals.length !== 2) throw new CliUsageError('mute takes <sessionId> <streamId>, or <sessionId> --all');
      await ot.forceMuteStream(positionals[0]!, positionals[1]!);
      o.print({ streamId: positionals[1], muted: true }, () => `muted ${positionals[1]!}`);
      return 0;
    }
    case 'archive':
      return archiveCommand(sub, args, values, io, o, ot, target);
    case 'broadcast':
      return broadcastCommand(sub, args, values, o, ot);
    case 'webhook':
      return webhookCommand(sub, args, values, o, target);
    case 'load-test':
      return loadTest(positionals, values, io, o, ot, target);
    default:
      throw new CliUsageError(`unknown command "${command}"`);
  }
}

/** A live session: its connections (client kind, data, since when) and streams. */
function describeLiveSession(s: LiveSessionJson, o: Out): string {
  const since = (t: number) => new Date(t).toISOString();
  return [
    `${o.style('bold', s.sessionId)}  ${s.mediaMode}  since ${since(s.createdAt)}`,
    `  connections (${s.connections.length})`,
    ...s.connections.map((c) => `    ${c.connectionId}  ${c.clientKind.padEnd(10)}  since ${since(c.createdAt)}  ${c.data ? JSON.stringify(c.data) : ''}`.trimEnd()),
    `  streams (${s.streams.length})`,
    ...s.streams.map((x) => `    ${x.streamId}  ${String(x.videoType ?? '-').padEnd(6)}  audio ${x.hasAudio ? 'on ' : 'off'}  video ${x.hasVideo ? 'on ' : 'off'}  by ${x.connectionId}  ${x.name || '(no name)'}`),
  ].join('\n');
}

function describeDelivery(d: WebhookDeliveryJson, o: Out): string {
  const last = d.lastHttpStatus !== null ? `HTTP ${d.lastHttpStatus}` : (d.lastError ?? '-');
  return `${String(d.id).padStart(6)}  ${o.status(d.status).padEnd(9)}  ${d.event.padEnd(20)}  ${d.attempts} attempt${d.attempts === 1 ? ' ' : 's'}  ${last.padEnd(8)}  ${new Date(d.updatedAt).toISOString()}  ${d.url}`;
}

/** A non-negative integer flag, or undefined when absent. */
function intFlag(values: Values, flag: string, min: number, max: number): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new CliUsageError(`--${flag} must be an integer from ${min} to ${max} (got "${String(v)}")`);
  return Number(v);
}

async function webhookCommand(sub: string | undefined, args: string[], values: Values, o: Out, target: RemoteTarget): Promise<number> {
  if (sub !== 'deliveries') throw new CliUsageError(sub === undefined ? 'webhook takes deliveries' : `unknown webhook command "${sub}" (deliveries)`);
  if (args.length > 0) throw new CliUsageError('webhook deliveries takes no arguments ([--retry ID] [--offset N] [--count N])');
  const api = new AdminApi(target);
  if (values['retry'] !== undefined) {
    const id = intFlag(values, 'retry', 1, Number.MAX_SAFE_INTEGER)!;
    const d = await api.retryWebhookDelivery(id);
    o.print(d, () => `delivery ${d.id} (${d.event}) queued again for ${d.url}`);
    return 0;
  }
  const offset = intFlag(values, 'offset', 0, 1_000_000);
  const count = intFlag(values, 'count', 1, 1000);
  const list = await api.webhookDeliveries({ ...(offset !== undefined ? { offset } : {}), ...(count !== undefined ? { count } : {}) });
  o.print(list, () =>
    list.items.length === 0
      ? 'no webhook deliveries (is a webhook URL set? tokhost project set-webhook)'
      : [`${list.items.length} of ${list.count}, newest first`, ...list.items.map((d) => describeDelivery(d, o))].join('\n'),
  );
  return 0;
}

/** `20s`, `2m`, `500ms` or a number of seconds, as ms; 1 s to 1 h. */
export function parseDuration(flag: string, v: unknown): number {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v) : null;
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000) : NaN;
  if (!(ms >= 1000 && ms <= 3_600_000)) throw new CliUsageError(`--${flag} must be a duration from 1s to 60m, such as 20s, 90s or 2m (got "${String(v)}")`);
  return Math.round(ms);
}

async function loadTest(args: string[], values: Values, io: CliIo, o: Out, ot: OpenTokClient, target: RemoteTarget): Promise<number> {
  if (args.length > 0) throw new CliUsageError('load-test takes no arguments (--publishers N --subscribers M --duration 20s [--routed])');
  const publishers = intFlag(values, 'publishers', 0, 200) ?? 1;
  const subscribers = intFlag(values, 'subscribers', 0, 500) ?? 1;
  if (publishers + subscribers === 0) throw new CliUsageError('load-test needs at least one client (--publishers, --subscribers)');
  const durationMs = parseDuration('duration', values['duration'] ?? '20s');
  const mediaMode = values['routed'] === true ? 'routed' : 'relayed';
  const session = await ot.createSession({ mediaMode });
  if (!o.json) io.stderr(`load test: session ${session.sessionId} (${mediaMode}); ${publishers} publishers, ${subscribers} subscribers for ${durationMs / 1000} s`);
  const { runLoadTest, formatLoadTest } = await import('./load-test.js');
  const report = await runLoadTest({
    url: target.url,
    apiKey: target.apiKey,
    sessionId: session.sessionId,
    mediaMode,
    publishers,
    subscribers,
    durationMs,
    token: (kind, i) => ot.generateToken(session.sessionId, { role: 'publisher', data: `load-test ${kind} ${i}`, expireTime: Math.floor(Date.now() / 1000) + Math.ceil(durationMs / 1000) + 3600 }),
    onJoined: () => {
      if (!o.json) io.stderr('load test: clients joined; running');
    },
  });
  o.print(report, () => formatLoadTest(report));
  const ok = report.clients.failed.length === 0 && report.clients.connected === report.clients.expected && report.mediaLinks.connected >= report.mediaLinks.expected;
  if (!ok) io.stderr(`tokhost: load test incomplete: ${report.clients.connected}/${report.clients.expected} clients, ${report.mediaLinks.connected}/${report.mediaLinks.expected} media links connected`);
  return ok ? 0 : 1;
}

async function archiveCommand(sub: string | undefined, args: string[], values: Values, io: CliIo, o: Out, ot: OpenTokClient, target: RemoteTarget): Promise<number> {
  switch (sub) {
    case 'list': {
      if (args.length > 0) throw new CliUsageError('archive list takes no arguments (--session-id S)');
      const list = await ot.listArchives(typeof values['session-id'] === 'string' ? { sessionId: values['session-id'] } : {});
      o.print(list, () => (list.items.length === 0 ? 'no archives' : list.items.map((a) => `${a.id}  ${o.status(a.status)}  ${a.sessionId}  ${a.duration} s  ${a.size} B  ${a.name}`).join('\n')));
      return 0;
    }
    case 'show': {
      const a = await ot.getArchive(one(args, 'archive show takes <archiveId>'));
      o.print(a, () => describeArchive(a, o));
      return 0;
    }
    case 'start': {
      const sessionId = one(args, 'archive start takes <sessionId>');
      const outputMode = enumValue('output-mode', values['output-mode'], ['composed', 'individual'] as const);
      const a = await ot.startArchive(sessionId, { ...(typeof values['name'] === 'string' ? { name: values['name'] } : {}), ...(outputMode ? { outputMode } : {}) });
      o.print(a, () => describeArchive(a, o));
      return 0;
    }
    case 'stop': {
      const a = await ot.stopArchive(one(args, 'archive stop takes <archiveId>'));
      o.print(a, () => describeArchive(a, o));
      return 0;
    }
    case 'delete': {
      const id = one(args, 'archive delete takes <archiveId>');
      await ot.deleteArchive(id);
      o.print({ id, deleted: true }, () => `deleted archive ${id}`);
      return 0;
    }
    case 'download':
      return download(one(args, 'archive download takes <archiveId> [-o FILE]'), values, io, o, ot, target);
    default:
      throw new CliUsageError(sub === undefined ? 'archive takes list|show|start|stop|delete|download' : `unknown archive command "${sub}" (list|show|start|stop|delete|download)`);
  }
}

/** Fetch the archive's file, hashing it on the way; checks the server's `sha256sum` when it gives one. */
async function download(id: string, values: Values, io: CliIo, o: Out, ot: OpenTokClient, target: RemoteTarget): Promise<number> {
  const a = await ot.getArchive(id);
  if (a.status !== 'available' || !a.url) {
    io.stderr(`tokhost: archive ${id} is ${a.status}; only an available archive can be downloaded`);
    return 1;
  }
  const url = new URL(a.url, target.url + '/');
  const file = resolvePath(io.cwd, typeof values['output'] === 'string' ? values['output'] : `${id}${a.outputMode === 'individual' ? '.zip' : '.mp4'}`);
  const res = await fetch(url);
  if (!res.ok || !res.body) {
    io.stderr(`tokhost: download of archive ${id} failed: HTTP ${res.status}`);
    return 1;
  }
  const total = Number(res.headers.get('content-length') ?? a.size ?? 0);
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  let got = 0;
  let lastDraw = 0;
  const progress = (final: boolean) => {
    if (!io.isTTY || (!final && Date.now() - lastDraw < 100)) return;
    lastDraw = Date.now();
    const pct = total > 0 ? Math.min(100, Math.floor((got / total) * 100)) : 0;
    const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
    io.progress?.(`\r[${bar}] ${pct}%  ${got}/${total || '?'} bytes${final ? '\n' : ''}`);
  };
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      got += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      progress(false);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    rmSync(file, { force: true });
    throw err;
  }
  progress(true);
  const digest = hash.digest();
  const base64 = digest.toString('base64');
  const hex = digest.toString('hex');
  const expected = a.sha256sum || null;
  const matches = expected === null ? null : expected === base64 || expected.toLowerCase() === hex;
  o.print({ id, file, size: got, sha256: base64, sha256Hex: hex, expected, matches }, () =>
    [
      `saved ${file} (${got} bytes)`,
      `sha256 ${base64} (hex ${hex})`,
      matches === null ? 'the server gives no SHA-256 for this archive' : matches ? o.style('green', 'matches the SHA-256 the server gives') : o.style('red', `DOES NOT MATCH the server's SHA-256 ${expected}`),
    ].join('\n'),
  );
  return matches === false ? 1 : 0;
}

async function broadcastCommand(sub: string | undefined, args: string[], values: Values, o: Out, ot: OpenTokClient): Promise<number> {
  switch (sub) {
    case 'list': {
      if (args.length > 0) throw new CliUsageError('broadcast list takes no arguments (--session-id S)');
      const list = await ot.listBroadcasts(typeof values['session-id'] === 'string' ? { sessionId: values['session-id'] } : {});
      o.print(list, () => (list.items.length === 0 ? 'no broadcasts' : list.items.map((b) => `${b.id}  ${o.status(String(b.status))}  ${String(b.sessionId)}`).join('\n')));
      return 0;
    }
    case 'show': {
      const b = await ot.getBroadcast(one(args, 'broadcast show takes <broadcastId>'));
      o.print(b, () => describeBroadcast(b, o));
      return 0;
    }
    case 'start': {
      const sessionId = one(args, 'broadcast start takes <sessionId> (--hls and/or --rtmp URL)');
      const rtmp = (Array.isArray(values['rtmp']) ? (values['rtmp'] as unknown as string[]) : []).map((u, i) => {
        const m = /^(rtmps?:\/\/.+)\/([^/]+)$/.exec(u);
        if (!m) throw new CliUsageError(`--rtmp must be rtmp://host/app/streamName (got "${u}")`);
        return { id: `rtmp${i + 1}`, serverUrl: m[1]!, streamName: m[2]! };
      });
      if (values['hls'] !== true && rtmp.length === 0) throw new CliUsageError('broadcast start needs --hls and/or --rtmp URL');
      const b = await ot.startBroadcast(sessionId, { outputs: { ...(values['hls'] === true ? { hls: {} } : {}), ...(rtmp.length > 0 ? { rtmp } : {}) } });
      o.print(b, () => describeBroadcast(b, o));
      return 0;
    }
    case 'stop': {
      const b = await ot.stopBroadcast(one(args, 'broadcast stop takes <broadcastId>'));
      o.print(b, () => describeBroadcast(b, o));
      return 0;
    }
    default:
      throw new CliUsageError(sub === undefined ? 'broadcast takes list|show|start|stop' : `unknown broadcast command "${sub}" (list|show|start|stop)`);
  }
}

/**
 * Parse and run a remote command, turning usage mistakes into exit code 2. It loads neither the
 * server package nor its native parts, so `bin.ts` calls it directly: a remote command starts fast.
 * Resolves with `null` for `--help`, which the caller answers with the full usage text.
 */
export async function runRemoteCli(command: string, argv: string[], io: CliIo): Promise<number | null> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: { ...REMOTE_OPTIONS, ...REMOTE_COMMAND_OPTIONS, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new CliUsageError((err as Error).message);
    }
    if (parsed.values.help) return null;
    return await runRemote(command, parsed.positionals, parsed.values as Values, io);
  } catch (err) {
    if (err instanceof CliUsageError) {
      io.stderr(`tokhost: ${err.message}\nRun "tokhost help" for usage.`);
      return 2;
    }
    throw err;
  }
}
