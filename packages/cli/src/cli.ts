import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { build } from 'pino-pretty';
import { resolve as resolvePath } from 'node:path';
import {
  ApplicationError,
  CONFIG_FIELDS,
  resolveOperatorToken,
  resetOperatorToken,
  createApplication,
  deleteApplication,
  rotateApplicationKey,
  ConfigError,
  createPostgresStore,
  createProject,
  createServer,
  createSqliteStore,
  loadConfig,
  ProjectError,
  rotateProjectSecret,
  setProjectWebhook,
  StoreError,
} from '@tokhost/server';
import { CliUsageError } from './usage-error.js';
import { REMOTE_COMMANDS, runRemoteCli } from './remote.js';
import type { ApplicationRecord, CreatedApplication, ProjectRecord, ServerConfig, Store, TokhostServer } from '@tokhost/server';

/** Where the CLI reads and writes; `bin.ts` passes the process's, tests their own. */
export interface CliIo {
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** stdout is a terminal: colours, progress lines and readable logs (default false). */
  isTTY?: boolean;
  /** Colours allowed (a TTY without NO_COLOR; default false). */
  color?: boolean;
  /** Writes without a newline (a progress line on stderr); absent: no progress is shown. */
  progress?: (text: string) => void;
  /** Where `serve` writes its log lines (default: stdout). */
  logStream?: NodeJS.WritableStream;
  /** Called by `serve` once listening, with the running server (tests use it to stop it). */
  onServing?: (server: TokhostServer) => void;
}

export { CliUsageError };

export const USAGE = `Usage: tokhost <command> [options]

Commands:
  serve                              run the server (REST API, realtime, demo)
  project create [--name N] [--api-key K --api-secret S]
  project list
  project show <apiKey>              prints the secret too
  project rotate-secret <apiKey>     replaces the secret and prints the new one
  project set-webhook <apiKey> <url> session-monitoring webhook (--clear to remove)
  application create <apiKey> [--public-key FILE] [--name N]
                                     a Vonage-style application (UUID + RSA key) of the project;
                                     without --public-key a key pair is made and the private key
                                     printed once (PKCS#8 PEM)
  application list [<apiKey>]
  application show <applicationId>   prints the public key
  application rotate-key <applicationId> [--public-key FILE]
                                     replaces the key (new pair printed once without FILE)
  application delete <applicationId>
  operator-token                     makes the operator token if none exists yet and prints it once
                                     (only its hash is kept); else says where it comes from
  operator-token --reset             replaces it with a new one, printed once (a running server
                                     takes it at its next start)

Remote commands (talk to a running server over its REST API; see docs/cli.md). Each takes
--url U --api-key K --api-secret S (env TOKHOST_URL, TOKHOST_API_KEY, TOKHOST_API_SECRET, or a
profile saved by "tokhost login" in ~/.config/tokhost/profiles.json; --profile NAME) and --json:
  login                              check the credentials and save them as a profile (mode 0600)
  session create [--routed] [--archive-mode always|manual] [--e2ee]
  session list                       the sessions live now: connections (client kind, data, since
                                     when) and streams
  session show <sessionId>           live connections and streams
  token <sessionId> [--role publisher|subscriber|moderator|publisheronly] [--data D] [--expire SECONDS]
  signal <sessionId> --type T --data D [--to connectionId]
  disconnect <sessionId> <connectionId>
  mute <sessionId> <streamId> | mute <sessionId> --all [--exclude id,id]
  archive list [--session-id S] | show <id> | start <sessionId> [--name N] [--output-mode composed|individual]
  archive stop <id> | delete <id> | download <id> [-o FILE]  (SHA-256 checked against the server's)
  broadcast list [--session-id S] | show <id> | start <sessionId> [--hls] [--rtmp rtmp://host/app/name] | stop <id>
  webhook deliveries [--offset N] [--count N]   recent callbacks: event, status, attempts, last answer
  webhook deliveries --retry <id>    deliver one again
  load-test [--publishers 1] [--subscribers 1] [--duration 20s] [--routed]
                                     a new session with N publishers and M subscribers (Node clients
                                     of the realtime protocol, real WebRTC); prints join and media
                                     connect times (p50/p95), packets/s, bitrate and loss per
                                     direction; exits 1 when a client or link did not connect
  help                               this text

Every command takes --data-dir DIR (default ./data, env TOKHOST_DATA_DIR) and --config FILE
(JSON; default ./tokhost.config.json when present, env TOKHOST_CONFIG). project and application
commands take --json,
and work on PostgreSQL with --database-url URL --master-key HEX (env TOKHOST_DATABASE_URL,
TOKHOST_MASTER_KEY), as the cluster's nodes do.

serve options (each also settable as env TOKHOST_* or in the config file; see docs/config.md):
${Object.entries(CONFIG_FIELDS)
  .map(([key, f]) => `  --${f.flag.padEnd(26)} ${f.help} (env ${f.env}, file "${key}")`)
  .join('\n')}
`;

const CONFIG_FLAG_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  config: { type: 'string' },
  ...Object.fromEntries(Object.values(CONFIG_FIELDS).map((f) => [f.flag, { type: f.flag === 'demo' || f.flag === 'metrics-session-labels' || f.flag === 'metrics-public' ? ('boolean' as const) : ('string' as const) }])),
};

function parse(argv: string[], extra: NonNullable<ParseArgsConfig['options']>): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...CONFIG_FLAG_OPTIONS, ...extra, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
}

function configFrom(values: Record<string, unknown>, io: CliIo, only?: string[]): ServerConfig {
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k === 'help' || k === 'json' || k === 'name' || k === 'clear' || k === 'public-key') continue;
    if (only && !only.includes(k)) continue;
    if (typeof v === 'string' || typeof v === 'boolean') flags[k] = v;
  }
  return loadConfig({ flags, env: io.env, cwd: io.cwd });
}

/**
 * Run the `tokhost` command line. Resolves with the exit code (for `serve`, once the server has
 * been stopped by SIGINT/SIGTERM).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest, io);
      case 'project':
        return projectCommand(rest, io);
      case 'application':
        return applicationCommand(rest, io);
      case 'operator-token':
        return operatorTokenCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default: {
        if (!REMOTE_COMMANDS.has(command)) throw new CliUsageError(`unknown command "${command}"`);
        const code = await runRemoteCli(command, rest, io);
        if (code === null) io.stdout(USAGE);
        return code ?? 0;
      }
    }
  } catch (err) {
    if (err instanceof CliUsageError) {
      io.stderr(`tokhost: ${err.message}\nRun "tokhost help" for usage.`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr(`tokhost: ${err.message}`);
      return 2;
    }
    if (err instanceof ProjectError || err instanceof StoreError || err instanceof ApplicationError) {
      io.stderr(`tokhost: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

async function serve(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliUsageError(`serve takes no arguments (got ${positionals.join(' ')})`);
  const config = configFrom(values, io);
  // Log lines wait here until the banner is printed, so the banner comes first.
  const held = new PassThrough();
  const sink = io.logStream ?? process.stdout;
  const releaseLogs = () => {
    const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && io.isTTY === true);
    held.pipe(pretty ? build({ colorize: io.color === true, destination: sink, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' }) : sink, { end: false });
  };
  let server: TokhostServer;
  try {
    server = await createServer(config, { logStream: held });
  } catch (err) {
    releaseLogs();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      io.stderr(`tokhost: port ${config.port} on ${config.host} is in use (try --port 0 for a free port)`);
      return 1;
    }
    throw err;
  }
  io.stdout(`tokhost listening on ${server.url}`);
  io.stdout(`  REST API (opentok apiUrl): ${server.url}    OpenAPI: ${server.url}/openapi.json`);
  io.stdout(`  data: ${config.databaseUrl !== null ? 'PostgreSQL (--database-url)' : config.store === 'memory' ? 'in memory (nothing is kept)' : config.dataDir}`);
  const seeded = server.defaultProject;
  if (seeded.project && seeded.created && !config.apiKey) {
    io.stdout(`  created project ${seeded.project.apiKey} — shown once, keep it:`);
    io.stdout(`    API key:    ${seeded.project.apiKey}`);
    io.stdout(`    API secret: ${seeded.project.apiSecret}`);
    io.stdout(`    e.g. new OpenTok('${seeded.project.apiKey}', '<secret>', '${server.url}')`);
  } else if (seeded.project) {
    io.stdout(`  project ${seeded.project.apiKey} uses the API key and secret given in the configuration`);
  } else {
    const keys = server.store.listProjects().map((p) => p.apiKey);
    io.stdout(`  projects: ${keys.join(', ')} (secrets: tokhost project show <apiKey> --data-dir ${config.dataDir})`);
  }
  if (server.operator.generated) {
    io.stdout(`  operator token — shown once, keep it (Authorization: Bearer <token> on /metrics and the admin API, any project):`);
    io.stdout(`    ${server.operator.generated}`);
    if (config.databaseUrl === null && config.store === 'memory') io.stdout('    (memory store: a new one at every start; set --operator-token to keep one)');
  } else {
    io.stdout(`  operator token: ${server.operator.source === 'config' ? 'from the configuration' : 'generated at the first start (tokhost operator-token --reset replaces it)'}`);
  }
  if (config.metricsPublic) io.stdout('  /metrics: public (--metrics-public), no operator token needed');
  releaseLogs();
  io.onServing?.(server);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.stdout(`tokhost: ${signal}, shutting down`);
      // Cluster nodes hand their clients to the other nodes before they stop.
      const drained = server.nodeId !== null && signal === 'SIGTERM' ? server.drain(5000).catch(() => undefined) : Promise.resolve();
      drained.then(() => server.close()).then(
        () => resolve(0),
        (err: unknown) => {
          io.stderr(`tokhost: shutdown failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    server.httpServer.once('close', () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(0);
    });
  });
}

/**
 * `tokhost operator-token`: says where the operator token comes from; when none exists yet,
 * makes one in the store (as the first start would) and prints it once. Only its hash is kept.
 */
function operatorTokenCommand(argv: string[], io: CliIo): number {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, reset: { type: 'boolean' } });
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliUsageError(`operator-token takes no arguments (got ${positionals.join(' ')})`);
  const config = configFrom(values, io, ['config', 'data-dir', 'database-url', 'master-key', 'operator-token']);
  if (values.reset === true) {
    if (config.operatorToken !== null) {
      throw new CliUsageError('the operator token is set in the configuration (--operator-token / TOKHOST_OPERATOR_TOKEN / file): change it there; --reset replaces only a generated one');
    }
    const token = withConfiguredStore(config, (store) => resetOperatorToken(store));
    io.stdout(
      values.json
        ? JSON.stringify({ source: 'reset', token })
        : `new operator token — shown once, keep it (Authorization: Bearer <token>):\n  ${token}\nA running server keeps accepting the old token until it restarts; from its next start only this one works.`,
    );
    return 0;
  }
  if (config.operatorToken !== null) {
    io.stdout(values.json ? JSON.stringify({ source: 'config' }) : 'the operator token is set in the configuration (--operator-token / TOKHOST_OPERATOR_TOKEN / file)');
    return 0;
  }
  const operator = withConfiguredStore(config, (store) => resolveOperatorToken(store, null));
  if (operator.generated) {
    io.stdout(values.json ? JSON.stringify({ source: 'generated', token: operator.generated }) : `operator token — shown once, keep it (Authorization: Bearer <token> on /metrics):\n  ${operator.generated}`);
  } else {
    io.stdout(
      values.json
        ? JSON.stringify({ source: 'store' })
        : 'an operator token was generated earlier; only its SHA-256 is kept, so it cannot be shown again. To replace it: tokhost operator-token --reset (or set --operator-token, env TOKHOST_OPERATOR_TOKEN).',
    );
  }
  return 0;
}

function describe(p: ProjectRecord, withSecret: boolean): string {
  return [
    `API key:    ${p.apiKey}`,
    ...(withSecret ? [`API secret: ${p.apiSecret}`] : []),
    `name:       ${p.name}`,
    `created:    ${new Date(p.createdAt).toISOString()}`,
    `webhook:    ${p.webhookUrl ?? '(none)'}`,
  ].join('\n');
}

/**
 * Run `fn` on the same store the server uses: PostgreSQL when a database URL is configured (flag,
 * env or file), else the SQLite file in the data directory.
 */
function withConfiguredStore<T>(config: ServerConfig, fn: (store: Store) => T): T {
  const store =
    config.databaseUrl !== null
      ? createPostgresStore({ url: config.databaseUrl, masterKey: config.masterKey! })
      : createSqliteStore({ dataDir: config.dataDir, backgroundCheckpoint: false, groupCommit: false });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

function projectCommand(argv: string[], io: CliIo): number {
  const { values, positionals } = parse(argv, { name: { type: 'string' }, json: { type: 'boolean' }, clear: { type: 'boolean' } });
  const [sub, ...args] = positionals;
  if (values.help || !sub) {
    io.stdout(USAGE);
    return values.help ? 0 : 2;
  }
  const config = configFrom(values, io, ['config', 'data-dir', 'database-url', 'master-key']);
  const out = (p: ProjectRecord | ProjectRecord[], withSecret: boolean, text: string) => {
    const strip = (r: ProjectRecord) => (withSecret ? r : { ...r, apiSecret: undefined });
    io.stdout(values.json ? JSON.stringify(Array.isArray(p) ? p.map(strip) : strip(p), null, 2) : text);
  };
  const needKey = (n: number) => {
    if (args.length !== n) throw new CliUsageError(`project ${sub} takes ${n === 1 ? '<apiKey>' : '<apiKey> <url>'}`);
    return args[0]!;
  };
  const withStore = <T>(fn: (store: Store) => T): T => withConfiguredStore(config, fn);
  switch (sub) {
    case 'create': {
      if (args.length > 0) throw new CliUsageError('project create takes no arguments');
      if ((config.apiKey === null) !== (config.apiSecret === null)) throw new CliUsageError('--api-key and --api-secret go together');
      const key = typeof values['api-key'] === 'string' ? values['api-key'] : undefined;
      const secret = typeof values['api-secret'] === 'string' ? values['api-secret'] : undefined;
      if ((key === undefined) !== (secret === undefined)) throw new CliUsageError('--api-key and --api-secret go together');
      const p = withStore((s) =>
        createProject(s, { ...(typeof values.name === 'string' ? { name: values.name } : {}), ...(key ? { apiKey: key } : {}), ...(secret ? { apiSecret: secret } : {}) }),
      );
      out(p, true, `created project\n${describe(p, true)}`);
      return 0;
    }
    case 'list': {
      const all = withStore((s) => s.listProjects());
      out(all, false, all.length === 0 ? 'no projects' : all.map((p) => `${p.apiKey}  ${p.name}  ${new Date(p.createdAt).toISOString()}${p.webhookUrl ? `  webhook ${p.webhookUrl}` : ''}`).join('\n'));
      return 0;
    }
    case 'show': {
      const key = needKey(1);
      const p = withStore((s) => s.getProject(key));
      if (!p) throw new ProjectError('ERR_PROJECT_NOT_FOUND', `Project ${key} does not exist`);
      out(p, true, describe(p, true));
      return 0;
    }
    case 'rotate-secret': {
      const p = withStore((s) => rotateProjectSecret(s, needKey(1)));
      out(p, true, `new secret for project ${p.apiKey} (the old one no longer works)\n${describe(p, true)}`);
      return 0;
    }
    case 'set-webhook': {
      const p = values.clear ? withStore((s) => setProjectWebhook(s, needKey(1), null)) : withStore((s) => setProjectWebhook(s, needKey(2), args[1]!));
      out(p, false, describe(p, false));
      return 0;
    }
    default:
      throw new CliUsageError(`unknown project command "${sub}"`);
  }
}

function describeApplication(a: ApplicationRecord, withKey: boolean): string {
  return [
    `application ID: ${a.applicationId}`,
    `API key:        ${a.apiKey}`,
    `name:           ${a.name}`,
    `created:        ${new Date(a.createdAt).toISOString()}`,
    ...(withKey ? [`public key:\n${a.publicKey.trimEnd()}`] : []),
  ].join('\n');
}

/** `tokhost application …`: Vonage-style application credentials (docs/applications.md). */
function applicationCommand(argv: string[], io: CliIo): number {
  const { values, positionals } = parse(argv, { name: { type: 'string' }, json: { type: 'boolean' }, 'public-key': { type: 'string' } });
  const [sub, ...args] = positionals;
  if (values.help || !sub) {
    io.stdout(USAGE);
    return values.help ? 0 : 2;
  }
  const config = configFrom(values, io, ['config', 'data-dir', 'database-url', 'master-key']);
  const withStore = <T>(fn: (store: Store) => T): T => withConfiguredStore(config, fn);
  const one = (what: string) => {
    if (args.length !== 1) throw new CliUsageError(`application ${sub} takes ${what}`);
    return args[0]!;
  };
  const publicKeyFile = (): string | undefined => {
    const file = values['public-key'];
    if (file === undefined) return undefined;
    if (typeof file !== 'string' || file === '') throw new CliUsageError('--public-key takes a PEM file');
    try {
      return readFileSync(resolvePath(io.cwd, file), 'utf8');
    } catch (err) {
      throw new CliUsageError(`--public-key: cannot read ${file} (${(err as Error).message})`);
    }
  };
  /** The created or re-keyed application; the private key, when made here, is shown this once. */
  const made = (r: CreatedApplication, headline: string) => {
    const { application: a, privateKey } = r;
    if (values.json) {
      io.stdout(JSON.stringify({ applicationId: a.applicationId, apiKey: a.apiKey, ...(privateKey ? { privateKey } : {}) }, null, 2));
      return;
    }
    const lines = [headline, describeApplication(a, false)];
    if (privateKey) lines.push('private key (shown once, keep it with your app; Tokhost keeps only the public key):', privateKey.trimEnd());
    lines.push(`e.g. new Video({ applicationId: '${a.applicationId}', privateKey }, { videoHost: '<server URL>' })`);
    io.stdout(lines.join('\n'));
  };
  switch (sub) {
    case 'create': {
      const apiKey = one('<apiKey>');
      const publicKey = publicKeyFile();
      const r = withStore((s) => createApplication(s, { apiKey, ...(publicKey !== undefined ? { publicKey } : {}), ...(typeof values.name === 'string' ? { name: values.name } : {}) }));
      made(r, `created application of project ${r.application.apiKey}`);
      return 0;
    }
    case 'list': {
      if (args.length > 1) throw new CliUsageError('application list takes at most <apiKey>');
      const all = withStore((s) => s.listApplications(args[0]));
      io.stdout(
        values.json
          ? JSON.stringify(all, null, 2)
          : all.length === 0
            ? 'no applications'
            : all.map((a) => `${a.applicationId}  project ${a.apiKey}  ${a.name}  ${new Date(a.createdAt).toISOString()}`).join('\n'),
      );
      return 0;
    }
    case 'show': {
      const id = one('<applicationId>');
      const a = withStore((s) => s.getApplication(id.toLowerCase()));
      if (!a) throw new ApplicationError('ERR_APPLICATION_NOT_FOUND', `Application ${id} does not exist`);
      io.stdout(values.json ? JSON.stringify(a, null, 2) : describeApplication(a, true));
      return 0;
    }
    case 'rotate-key': {
      const id = one('<applicationId>');
      const publicKey = publicKeyFile();
      const r = withStore((s) => rotateApplicationKey(s, id, publicKey));
      made(r, `new key for application ${r.application.applicationId} (tokens signed with the old key no longer work)`);
      return 0;
    }
    case 'delete': {
      const id = one('<applicationId>');
      withStore((s) => deleteApplication(s, id));
      io.stdout(values.json ? JSON.stringify({ applicationId: id.toLowerCase(), deleted: true }) : `deleted application ${id.toLowerCase()}`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown application command "${sub}"`);
  }
}
