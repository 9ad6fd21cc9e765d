import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { LIMIT_DEFAULTS } from './limits.js';
import type { LimitsConfig } from './limits.js';
import { parseOutboundAllow } from './net/outbound.js';
import { TokhostError } from './errors.js';

/** A STUN/TURN server handed to browsers (RTCIceServer shape). */
export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * The validated, frozen server configuration. Built once by {@link validateConfig} (or
 * {@link loadConfig} for file + environment + flags) and injected everywhere; nothing below the
 * composition root reads `process.env`.
 */
export interface ServerConfig extends LimitsConfig {
  /** TCP port; `0` picks a free one. Default 3000. */
  readonly port: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host: string;
  /** Absolute data directory (SQLite database and `master.key`). Default `./data`. */
  readonly dataDir: string;
  /** Store implementation. Default `sqlite`; `memory` keeps nothing across restarts (tests). */
  readonly store: 'sqlite' | 'memory';
  /** Seed a project with exactly this key (with `apiSecret`). Default none. */
  readonly apiKey: string | null;
  /** Secret of the seeded project (with `apiKey`). Default none. */
  readonly apiSecret: string | null;
  /** pino log level. Default `info`. */
  readonly logLevel: LogLevel;
  /** Largest accepted request body, bytes. Default 102400 (100 KiB). */
  readonly maxBodyBytes: number;
  /** Clock skew tolerated on REST JWT `iat`/`exp` and on client tokens' creation time (`iat`, `nbf`, `create_time`), seconds. Default 30. */
  readonly authClockSkewSeconds: number;
  /**
   * Serve the demo (`/demo`, `/demo/join`), which hands publisher tokens of its own project to
   * visitors whose `Host` names this server. Default false: the demo routes answer 404.
   */
  readonly demo: boolean;
  /** Most demo rooms (each one session of the demo project); further room names are refused. Default 100. */
  readonly demoMaxRooms: number;
  /**
   * The operator token (`Authorization: Bearer …` on `/metrics`, and the console). Default none:
   * one is generated at the first start, its hash stored (SQLite database or PostgreSQL), and
   * `tokhost serve` prints it once.
   */
  readonly operatorToken: string | null;
  /** Serve `/metrics` without the operator token even on a non-loopback address. Default false. */
  readonly metricsPublic: boolean;
  /** Serve the web console at `/console` (docs/console.md). Default true. */
  readonly console: boolean;
  /** Seconds between two samples of the metrics history behind the console's charts (360 are kept). Default 10. */
  readonly metricsHistoryIntervalSeconds: number;
  /** Streams whose thumbnails are decoded at once, server-wide (one ffmpeg each, closed 10 s after the last request). Default 2. */
  readonly thumbnailMaxConcurrent: number;
  /**
   * How `tokhost serve` writes log lines: `auto` (readable on a TTY, JSON otherwise), `json`, or
   * `pretty`. Default `auto`. The server library itself always logs JSON to its stream.
   */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  /** Label `/metrics` per-session figures with session IDs (they name the tenant's API key). Default false. */
  readonly metricsSessionLabels: boolean;
  /** Public IP announced in ICE candidates by the media engine. Default none (auto). */
  readonly publicIp: string | null;
  /** ICE servers handed to browsers. Default `[]`. */
  readonly iceServers: readonly IceServerConfig[];
  /** Shared secret for TURN REST credentials (coturn `static-auth-secret`). Default none. */
  readonly turnSecret: string | null;
  /** Lowest UDP port for media. Default none (engine picks). */
  readonly rtcMinPort: number | null;
  /** Highest UDP port for media. Default none (engine picks). */
  readonly rtcMaxPort: number | null;
  /** Media worker processes of the router (routed sessions). Default none: one per CPU. */
  readonly mediaWorkers: number | null;
  /** SIP gateway (`dial`, docs/sip.md). Default true; its sockets open at the first dial. */
  readonly sip: boolean;
  /** Address the SIP and RTP sockets bind to. Default: `host` when it is an IP address, else 0.0.0.0. */
  readonly sipBindAddress: string | null;
  /** Address written in SIP Via/Contact and SDP (behind 1:1 NAT). Default: `publicIp`, else the bind address. */
  readonly sipPublicAddress: string | null;
  /** SIP UDP and TCP port; 0 picks a free one. Default 5060. */
  readonly sipPort: number;
  /** Speech recogniser of live captions: `moonshine` (built in: Moonshine tiny from npm, en-US), `pocketsphinx` (Debian's, en-US), `vosk` (a Vosk-protocol WebSocket server at `captionsVoskUrl`) or `none`. Default `moonshine`. */
  readonly captionsEngine: 'moonshine' | 'pocketsphinx' | 'vosk' | 'none';
  /** `ws://` URL of the Vosk-protocol recogniser (`captionsEngine: vosk`). Default null. */
  readonly captionsVoskUrl: string | null;
  /** Languages the Vosk recogniser's model transcribes (BCP 47). Default `['en-US']`. */
  readonly captionsVoskLanguages: readonly string[];
  /** SIP TLS listener port (with `sipTlsCert`/`sipTlsKey`). Default 5061. */
  readonly sipTlsPort: number;
  /** PEM certificate file of the SIP TLS listener. Default none (outgoing TLS still works). */
  readonly sipTlsCert: string | null;
  /** PEM key file of the SIP TLS listener. */
  readonly sipTlsKey: string | null;
  /** Extra CA certificate file (PEM) trusted for outgoing SIP TLS. Default none (system CAs). */
  readonly sipTlsCa: string | null;
  /** Check SIP TLS peers' certificates. Default true. */
  readonly sipTlsVerify: boolean;
  /** Lowest UDP port of SIP calls' RTP. Default none (any). */
  readonly sipRtpMinPort: number | null;
  /** Highest UDP port of SIP calls' RTP. */
  readonly sipRtpMaxPort: number | null;
  /**
   * Symmetric-RTP latching for SIP far ends behind NAT. Default false: a call accepts media only
   * from the address and port its SDP answer named. True: the first packet within 5 s / 10 packets
   * of the answer from the same IP at another port moves the call there, once (docs/sip.md).
   */
  readonly sipRtpLatching: boolean;
  /** A dialled call not answered within this long is cancelled, seconds. Default 60. */
  readonly sipRingTimeoutSeconds: number;
  /** A call without inbound media this long is hung up, seconds. Default 300. */
  readonly sipMediaTimeoutSeconds: number;
  /** Longest SIP call, seconds. Default 21600 (6 h). */
  readonly sipMaxDurationSeconds: number;
  /** Experience Composer: renders (headless browsers) running at once on this server; 0 refuses every render. Default 2. */
  readonly renderMaxConcurrent: number;
  /** Experience Composer: the Chromium executable. Default `/usr/bin/chromium` (Debian's). */
  readonly renderChromium: string;
  /** Experience Composer: the user render browsers run as when the server runs as root; empty: the server's user. Default `nobody`. */
  readonly renderUser: string | null;
  /** Experience Composer: a page that has not loaded within this long fails ("Could not load URL"), seconds. Default 30. */
  readonly renderLoadTimeoutSeconds: number;
  /** Lifetime of TURN REST credentials, seconds. Default 86400. */
  readonly turnTtlSeconds: number;
  /** How long a dropped client may reconnect into its connection, ms. Default 20000. */
  readonly reconnectGraceMs: number;
  /** WebSocket ping interval, ms. Default 10000. */
  readonly pingIntervalMs: number;
  /** Delays between webhook delivery attempts, ms. Default none (the webhook sender's own). */
  readonly webhookRetryDelaysMs: readonly number[] | null;
  /** One webhook delivery attempt is given up after this long, ms. Default 5000. */
  readonly webhookTimeoutMs: number;
  /** Deliveries in flight at once per webhook URL. Default 4. */
  readonly webhookConcurrency: number;
  /** A webhook event not delivered this long after it happened is dropped (and counted), seconds. Default 600. */
  readonly webhookMaxAgeSeconds: number;
  /** Most undelivered events kept per webhook URL; past it the oldest are dropped (and counted). Default 1000. */
  readonly webhookOutboxMax: number;
  /** Webhook delivery records kept per project for the admin API (`/v2/project/{key}/webhook/deliveries`); the oldest go. Default 1000. */
  readonly webhookDeliveriesKept: number;
  /**
   * Targets the server may connect to although the outbound policy refuses their addresses
   * (loopback, private, link-local …): CIDR ranges, addresses and host names (`*.example.com`
   * for every name below it). Applies to RTMP servers, SIP targets, webhook URLs and ICE
   * candidates. Default none.
   */
  readonly outboundAllow: readonly string[];
  /** Extra ranges permitted for ICE candidates only (e.g. the LAN of the clients). Default none. */
  readonly iceAllow: readonly string[];
  /** PostgreSQL store instead of SQLite: `postgres://user:password@host:port/db`. Default none. */
  readonly databaseUrl: string | null;
  /** Key of the secrets at rest with `databaseUrl` (64 hex characters, the same on every node). Default none. */
  readonly masterKey: string | null;
  /** Cluster mode: the Redis server that routes live sessions between nodes. Default none (one node). */
  readonly redisUrl: string | null;
  /** Cluster mode: shared secret of the node-to-node calls (at least 16 characters). Default: derived from `masterKey`. */
  readonly clusterSecret: string | null;
  /** Cluster mode: the URL other nodes reach this one at. Default `http://<host>:<port>` (with the real port). */
  readonly advertiseUrl: string | null;
  /** Cluster mode: this node's name in the registry and in logs. Default a random ID per start. */
  readonly nodeId: string | null;
  /** Keep finished archives in this S3 bucket instead of `archivesDir` (credentials: the AWS SDK's chain). Default none. */
  readonly archiveS3Bucket: string | null;
  /** S3-compatible endpoint of `archiveS3Bucket` (MinIO, Ceph …). Default AWS. */
  readonly archiveS3Endpoint: string | null;
  /** Region of `archiveS3Bucket`. Default `us-east-1`. */
  readonly archiveS3Region: string;
  /** Key prefix in `archiveS3Bucket`. Default none. */
  readonly archiveS3Prefix: string;
  /** Base URL in links the server hands out (archive downloads, broadcast HLS URLs), e.g. behind a proxy. Default none: `http://<Host header>`. */
  readonly publicUrl: string | null;
  /** Seconds a broadcast's HLS playlist and segments stay served after it stops; then they are deleted. Default 600. */
  readonly hlsRetentionSeconds: number;
  /** Directory of finished archive files. Default `<dataDir>/archives`. */
  readonly archivesDir: string | null;
  /** Longest archive, seconds; it stops with reason `maximum duration exceeded`. Default 7200 (OpenTok's 120 minutes). */
  readonly archiveMaxDurationSeconds: number;
  /** An archive stops this long after the last client left its session, seconds. Default 60 (OpenTok). */
  readonly archiveIdleStopSeconds: number;
  /** Lifetime of an archive's signed download `url`, seconds. Default 600 (OpenTok's 10 minutes). */
  readonly archiveUrlTtlSeconds: number;
}

/** What callers may pass: any subset, values not yet checked (strings from env/flags are coerced). */
export type ServerConfigInput = { [K in keyof ServerConfig]?: unknown };

/** Every problem found in a configuration, reported at once. */
export class ConfigError extends TokhostError<'ERR_CONFIG_INVALID'> {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super('ERR_CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Parser = (value: unknown, name: string, problems: string[]) => unknown;

interface Field {
  /** `--flag` name of `tokhost serve`. */
  flag: string;
  /** Environment variable. */
  env: string;
  default: unknown;
  parse: Parser;
  help: string;
}

function int(min: number, max: number): Parser {
  return (value, name, problems) => {
    const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return n;
  };
}
function str(pattern: RegExp, what: string): Parser {
  return (value, name, problems) => {
    if (typeof value !== 'string' || !pattern.test(value)) {
      problems.push(`${name} must be ${what} (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return value;
  };
}
function oneOf<T extends string>(values: readonly T[]): Parser {
  return (value, name, problems) => {
    if (typeof value !== 'string' || !values.includes(value as T)) {
      problems.push(`${name} must be one of ${values.join(', ')} (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return value;
  };
}
const bool: Parser = (value, name, problems) => {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1' || value === '') return true;
  if (value === 'false' || value === '0') return false;
  problems.push(`${name} must be true or false (got ${JSON.stringify(value)})`);
  return undefined;
};
const ipAddress: Parser = (value, name, problems) => {
  if (typeof value !== 'string' || isIP(value) === 0) {
    problems.push(`${name} must be an IPv4 or IPv6 address (got ${JSON.stringify(value)})`);
    return undefined;
  }
  return value;
};
const nullable =
  (p: Parser): Parser =>
  (value, name, problems) =>
    value === null ? null : p(value, name, problems);

const iceServers: Parser = (value, name, problems) => {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      problems.push(`${name} must be a JSON array of {urls, username?, credential?}`);
      return undefined;
    }
  }
  if (!Array.isArray(v)) {
    problems.push(`${name} must be an array of {urls, username?, credential?}`);
    return undefined;
  }
  const out: IceServerConfig[] = [];
  v.forEach((s: unknown, i) => {
    const entry = s as Record<string, unknown>;
    const urls = typeof entry?.urls === 'string' ? [entry.urls] : entry?.urls;
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && /^(stun|stuns|turn|turns):\S+$/.test(u))) {
      problems.push(`${name}[${i}].urls must be stun:/turn:/turns: URLs`);
      return;
    }
    for (const k of ['username', 'credential'] as const) {
      if (entry[k] !== undefined && typeof entry[k] !== 'string') problems.push(`${name}[${i}].${k} must be a string`);
    }
    out.push(Object.freeze({ urls: entry.urls as string | string[], ...(entry.username ? { username: entry.username as string } : {}), ...(entry.credential ? { credential: entry.credential as string } : {}) }));
  });
  return Object.freeze(out);
};

const langList: Parser = (value, name, problems) => {
  const list = typeof value === 'string' ? value.split(',').map((x) => x.trim()) : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string' || !/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(x))) {
    problems.push(`${name} must be a non-empty list of language codes such as en-US (got ${JSON.stringify(value)})`);
    return undefined;
  }
  return Object.freeze([...list]);
};

const allowList: Parser = (value, name, problems) => {
  const { entries, problems: bad } = parseOutboundAllow(value, name);
  problems.push(...bad);
  return bad.length > 0 ? undefined : Object.freeze(entries);
};

/** The schema: one entry per setting, with its flag, environment variable and default. */
export const CONFIG_FIELDS: { readonly [K in keyof ServerConfig]: Field } = {
  port: { flag: 'port', env: 'TOKHOST_PORT', default: 3000, parse: int(0, 65535), help: 'TCP port, 0 picks a free one' },
  host: { flag: 'host', env: 'TOKHOST_HOST', default: '127.0.0.1', parse: str(/^[A-Za-z0-9.:\-[\]%]{1,253}$/, 'a host name or IP address'), help: 'interface to listen on' },
  dataDir: { flag: 'data-dir', env: 'TOKHOST_DATA_DIR', default: './data', parse: str(/^.{1,4096}$/s, 'a directory path'), help: 'SQLite database and master.key' },
  store: { flag: 'store', env: 'TOKHOST_STORE', default: 'sqlite', parse: oneOf(['sqlite', 'memory'] as const), help: 'sqlite or memory' },
  apiKey: { flag: 'api-key', env: 'TOKHOST_API_KEY', default: null, parse: nullable(str(/^[0-9]{1,20}$/, 'a numeric string of up to 20 digits')), help: 'seed a project with this API key' },
  apiSecret: { flag: 'api-secret', env: 'TOKHOST_API_SECRET', default: null, parse: nullable(str(/^[\x21-\x7e]{8,256}$/, '8 to 256 printable ASCII characters without spaces')), help: 'secret of the seeded project' },
  logLevel: { flag: 'log-level', env: 'TOKHOST_LOG_LEVEL', default: 'info', parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), help: 'pino log level' },
  maxBodyBytes: { flag: 'max-body-bytes', env: 'TOKHOST_MAX_BODY_BYTES', default: 102_400, parse: int(1024, 64 * 1024 * 1024), help: 'largest request body, bytes' },
  authClockSkewSeconds: { flag: 'auth-clock-skew', env: 'TOKHOST_AUTH_CLOCK_SKEW', default: 30, parse: int(0, 600), help: 'tolerated clock skew on REST JWTs and client-token creation times, seconds' },
  demo: { flag: 'demo', env: 'TOKHOST_DEMO', default: false, parse: bool, help: 'serve the demo page (/demo)' },
  demoMaxRooms: { flag: 'demo-max-rooms', env: 'TOKHOST_DEMO_MAX_ROOMS', default: 100, parse: int(1, 100_000), help: 'most demo rooms' },
  operatorToken: {
    flag: 'operator-token',
    env: 'TOKHOST_OPERATOR_TOKEN',
    default: null,
    parse: nullable(str(/^[\x21-\x7e]{16,1024}$/, '16 to 1024 printable ASCII characters without spaces')),
    help: 'operator token for /metrics (default: generated once, printed at first start)',
  },
  metricsPublic: { flag: 'metrics-public', env: 'TOKHOST_METRICS_PUBLIC', default: false, parse: bool, help: 'serve /metrics without the operator token, on any listen address' },
  console: { flag: 'console', env: 'TOKHOST_CONSOLE', default: true, parse: bool, help: 'serve the web console at /console' },
  metricsHistoryIntervalSeconds: { flag: 'metrics-history-interval', env: 'TOKHOST_METRICS_HISTORY_INTERVAL', default: 10, parse: int(1, 600), help: 'seconds between samples of the console charts (360 kept)' },
  thumbnailMaxConcurrent: { flag: 'thumbnail-max-concurrent', env: 'TOKHOST_THUMBNAIL_MAX_CONCURRENT', default: 2, parse: int(1, 64), help: 'streams whose thumbnails are decoded at once' },
  logFormat: { flag: 'log-format', env: 'TOKHOST_LOG_FORMAT', default: 'auto', parse: oneOf(['auto', 'json', 'pretty'] as const), help: 'auto (readable on a TTY, JSON otherwise), json or pretty' },
  metricsSessionLabels: { flag: 'metrics-session-labels', env: 'TOKHOST_METRICS_SESSION_LABELS', default: false, parse: bool, help: 'per-session /metrics figures labelled with session IDs' },
  publicIp: {
    flag: 'public-ip',
    env: 'TOKHOST_PUBLIC_IP',
    default: null,
    parse: nullable(ipAddress),
    help: 'public IP for ICE candidates',
  },
  iceServers: { flag: 'ice-servers', env: 'TOKHOST_ICE_SERVERS', default: [], parse: iceServers, help: 'JSON array of ICE servers for browsers' },
  turnSecret: { flag: 'turn-secret', env: 'TOKHOST_TURN_SECRET', default: null, parse: nullable(str(/^\S{16,512}$/, 'at least 16 characters without spaces')), help: 'TURN REST shared secret' },
  rtcMinPort: { flag: 'rtc-min-port', env: 'TOKHOST_RTC_MIN_PORT', default: null, parse: nullable(int(1024, 65535)), help: 'lowest UDP media port' },
  rtcMaxPort: { flag: 'rtc-max-port', env: 'TOKHOST_RTC_MAX_PORT', default: null, parse: nullable(int(1024, 65535)), help: 'highest UDP media port' },
  mediaWorkers: { flag: 'media-workers', env: 'TOKHOST_MEDIA_WORKERS', default: null, parse: nullable(int(1, 256)), help: 'media worker processes (default: one per CPU)' },
  sip: { flag: 'sip', env: 'TOKHOST_SIP', default: true, parse: bool, help: 'SIP gateway for dial (docs/sip.md)' },
  sipBindAddress: { flag: 'sip-bind', env: 'TOKHOST_SIP_BIND', default: null, parse: nullable(ipAddress), help: 'address of the SIP and RTP sockets' },
  sipPublicAddress: { flag: 'sip-public-address', env: 'TOKHOST_SIP_PUBLIC_ADDRESS', default: null, parse: nullable(ipAddress), help: 'address in SIP Contact/Via and SDP' },
  captionsEngine: { flag: 'captions-engine', env: 'TOKHOST_CAPTIONS_ENGINE', default: 'moonshine', parse: oneOf(['moonshine', 'pocketsphinx', 'vosk', 'none'] as const), help: 'live captions recogniser: moonshine (built in, Moonshine tiny, en-US), pocketsphinx (Debian\'s, en-US), vosk (a Vosk-protocol WebSocket server) or none' },
  captionsVoskUrl: { flag: 'captions-vosk-url', env: 'TOKHOST_CAPTIONS_VOSK_URL', default: null, parse: nullable(str(/^wss?:\/\/.{1,2000}$/, 'a ws:// or wss:// URL')), help: 'URL of the Vosk-protocol recogniser (captionsEngine vosk)' },
  captionsVoskLanguages: { flag: 'captions-vosk-languages', env: 'TOKHOST_CAPTIONS_VOSK_LANGUAGES', default: ['en-US'], parse: langList, help: 'comma-separated languages (BCP 47) the Vosk recogniser transcribes' },
  sipPort: { flag: 'sip-port', env: 'TOKHOST_SIP_PORT', default: 5060, parse: int(0, 65535), help: 'SIP UDP/TCP port' },
  sipTlsPort: { flag: 'sip-tls-port', env: 'TOKHOST_SIP_TLS_PORT', default: 5061, parse: int(0, 65535), help: 'SIP TLS port (with a certificate)' },
  sipTlsCert: { flag: 'sip-tls-cert', env: 'TOKHOST_SIP_TLS_CERT', default: null, parse: nullable(str(/^.{1,4096}$/s, 'a file path')), help: 'PEM certificate of the SIP TLS listener' },
  sipTlsKey: { flag: 'sip-tls-key', env: 'TOKHOST_SIP_TLS_KEY', default: null, parse: nullable(str(/^.{1,4096}$/s, 'a file path')), help: 'PEM key of the SIP TLS listener' },
  sipTlsCa: { flag: 'sip-tls-ca', env: 'TOKHOST_SIP_TLS_CA', default: null, parse: nullable(str(/^.{1,4096}$/s, 'a file path')), help: 'extra CA (PEM) for SIP TLS peers' },
  sipTlsVerify: { flag: 'sip-tls-verify', env: 'TOKHOST_SIP_TLS_VERIFY', default: true, parse: bool, help: 'verify SIP TLS peer certificates' },
  sipRtpMinPort: { flag: 'sip-rtp-min-port', env: 'TOKHOST_SIP_RTP_MIN_PORT', default: null, parse: nullable(int(1024, 65535)), help: 'lowest RTP port of SIP calls' },
  sipRtpMaxPort: { flag: 'sip-rtp-max-port', env: 'TOKHOST_SIP_RTP_MAX_PORT', default: null, parse: nullable(int(1024, 65535)), help: 'highest RTP port of SIP calls' },
  sipRtpLatching: { flag: 'sip-rtp-latching', env: 'TOKHOST_SIP_RTP_LATCHING', default: false, parse: bool, help: 'SIP media: latch once to the far end\'s real port on the SDP\'s IP (NAT); off: only the SDP address:port' },
  sipRingTimeoutSeconds: { flag: 'sip-ring-timeout', env: 'TOKHOST_SIP_RING_TIMEOUT', default: 60, parse: int(1, 600), help: 'cancel an unanswered SIP call after, seconds' },
  sipMediaTimeoutSeconds: { flag: 'sip-media-timeout', env: 'TOKHOST_SIP_MEDIA_TIMEOUT', default: 300, parse: int(1, 86_400), help: 'hang up a SIP call without media after, seconds' },
  sipMaxDurationSeconds: { flag: 'sip-max-duration', env: 'TOKHOST_SIP_MAX_DURATION', default: 21_600, parse: int(1, 7 * 86_400), help: 'longest SIP call, seconds' },
  renderMaxConcurrent: { flag: 'render-max-concurrent', env: 'TOKHOST_RENDER_MAX_CONCURRENT', default: 2, parse: int(0, 1000), help: 'Experience Composer renders (headless browsers) at once on this server' },
  renderChromium: { flag: 'render-chromium', env: 'TOKHOST_RENDER_CHROMIUM', default: '/usr/bin/chromium', parse: str(/^\/.{0,4095}$/s, 'an absolute file path'), help: 'Chromium executable of the renders' },
  renderUser: { flag: 'render-user', env: 'TOKHOST_RENDER_USER', default: 'nobody', parse: (v, name, problems) => (v === '' || v === null ? null : str(/^[a-z_][a-z0-9_-]{0,31}$/i, 'a user name (or empty for the server\'s user)')(v, name, problems)), help: 'user render browsers run as when the server is root (empty: the server\'s)' },
  renderLoadTimeoutSeconds: { flag: 'render-load-timeout', env: 'TOKHOST_RENDER_LOAD_TIMEOUT', default: 30, parse: int(1, 600), help: 'a render page must load within, seconds' },
  turnTtlSeconds: { flag: 'turn-ttl', env: 'TOKHOST_TURN_TTL', default: 86_400, parse: int(60, 7 * 86_400), help: 'TURN credential lifetime, seconds' },
  reconnectGraceMs: { flag: 'reconnect-grace-ms', env: 'TOKHOST_RECONNECT_GRACE_MS', default: 20_000, parse: int(0, 300_000), help: 'client reconnection window, ms' },
  pingIntervalMs: { flag: 'ping-interval-ms', env: 'TOKHOST_PING_INTERVAL_MS', default: 10_000, parse: int(100, 600_000), help: 'WebSocket ping interval, ms' },
  webhookRetryDelaysMs: {
    flag: 'webhook-retry-delays-ms',
    env: 'TOKHOST_WEBHOOK_RETRY_DELAYS_MS',
    default: null,
    parse: nullable((value, name, problems) => {
      const list = typeof value === 'string' ? value.split(',').map((v) => v.trim()) : value;
      if (!Array.isArray(list) || list.length > 20 || !list.every((v) => /^\d{1,9}$/.test(String(v)))) {
        problems.push(`${name} must be a list of up to 20 delays in ms (got ${JSON.stringify(value)})`);
        return undefined;
      }
      return Object.freeze(list.map(Number));
    }),
    help: 'comma-separated webhook retry delays, ms',
  },
  webhookTimeoutMs: { flag: 'webhook-timeout-ms', env: 'TOKHOST_WEBHOOK_TIMEOUT_MS', default: 5000, parse: int(100, 120_000), help: 'one webhook delivery attempt times out after, ms' },
  webhookConcurrency: { flag: 'webhook-concurrency', env: 'TOKHOST_WEBHOOK_CONCURRENCY', default: 4, parse: int(1, 64), help: 'webhook deliveries in flight per URL' },
  webhookMaxAgeSeconds: { flag: 'webhook-max-age', env: 'TOKHOST_WEBHOOK_MAX_AGE', default: 600, parse: int(1, 7 * 86_400), help: 'drop webhook events older than this, seconds' },
  webhookOutboxMax: { flag: 'webhook-outbox-max', env: 'TOKHOST_WEBHOOK_OUTBOX_MAX', default: 1000, parse: int(1, 1_000_000), help: 'most undelivered webhook events per URL (oldest dropped)' },
  webhookDeliveriesKept: { flag: 'webhook-deliveries-kept', env: 'TOKHOST_WEBHOOK_DELIVERIES_KEPT', default: 1000, parse: int(1, 100_000), help: 'webhook delivery records kept per project for the admin API (oldest dropped)' },
  outboundAllow: { flag: 'outbound-allow', env: 'TOKHOST_OUTBOUND_ALLOW', default: [], parse: allowList, help: 'CIDRs/hosts the server may connect to despite the outbound policy (comma-separated)' },
  iceAllow: { flag: 'ice-allow', env: 'TOKHOST_ICE_ALLOW', default: [], parse: allowList, help: 'extra CIDRs permitted for clients\' ICE candidates only (comma-separated)' },
  databaseUrl: {
    flag: 'database-url',
    env: 'TOKHOST_DATABASE_URL',
    default: null,
    parse: nullable(str(/^postgres(ql)?:\/\/\S{1,4000}$/, 'a postgres:// URL')),
    help: 'PostgreSQL store (cluster mode) instead of SQLite',
  },
  masterKey: { flag: 'master-key', env: 'TOKHOST_MASTER_KEY', default: null, parse: nullable(str(/^[0-9a-fA-F]{64}$/, '64 hex characters')), help: 'key of the secrets at rest with --database-url' },
  redisUrl: { flag: 'redis-url', env: 'TOKHOST_REDIS_URL', default: null, parse: nullable(str(/^rediss?:\/\/\S{1,4000}$/, 'a redis:// URL')), help: 'cluster mode: Redis for live routing' },
  clusterSecret: { flag: 'cluster-secret', env: 'TOKHOST_CLUSTER_SECRET', default: null, parse: nullable(str(/^\S{16,512}$/, 'at least 16 characters without spaces')), help: 'cluster mode: secret of node-to-node calls' },
  advertiseUrl: { flag: 'advertise-url', env: 'TOKHOST_ADVERTISE_URL', default: null, parse: nullable(str(/^https?:\/\/\S{1,2000}$/, 'an http(s):// URL')), help: 'cluster mode: URL other nodes reach this node at' },
  archiveS3Bucket: { flag: 'archive-s3-bucket', env: 'TOKHOST_ARCHIVE_S3_BUCKET', default: null, parse: nullable(str(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')), help: 'keep archives in this S3 bucket' },
  archiveS3Endpoint: { flag: 'archive-s3-endpoint', env: 'TOKHOST_ARCHIVE_S3_ENDPOINT', default: null, parse: nullable(str(/^https?:\/\/\S{1,2000}$/, 'an http(s):// URL')), help: 'S3-compatible endpoint of the archive bucket' },
  archiveS3Region: { flag: 'archive-s3-region', env: 'TOKHOST_ARCHIVE_S3_REGION', default: 'us-east-1', parse: str(/^[a-z0-9-]{1,32}$/, 'an AWS region name'), help: 'region of the archive bucket' },
  archiveS3Prefix: { flag: 'archive-s3-prefix', env: 'TOKHOST_ARCHIVE_S3_PREFIX', default: '', parse: str(/^[A-Za-z0-9!_.*'()/-]{0,200}$/, 'an S3 key prefix'), help: 'key prefix in the archive bucket' },
  nodeId: { flag: 'node-id', env: 'TOKHOST_NODE_ID', default: null, parse: nullable(str(/^[A-Za-z0-9_.-]{1,64}$/, 'up to 64 letters, digits, _ . -')), help: 'cluster mode: name of this node' },
  publicUrl: { flag: 'public-url', env: 'TOKHOST_PUBLIC_URL', default: null, parse: nullable(str(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'an http:// or https:// URL without query')), help: 'base URL of links handed out (archive downloads, HLS)' },
  hlsRetentionSeconds: { flag: 'hls-retention', env: 'TOKHOST_HLS_RETENTION', default: 600, parse: int(0, 7 * 86_400), help: 'seconds HLS files stay after a broadcast stops' },
  archivesDir: { flag: 'archives-dir', env: 'TOKHOST_ARCHIVES_DIR', default: null, parse: nullable(str(/^.{1,4096}$/s, 'a directory path')), help: 'finished archive files (default <data-dir>/archives)' },
  archiveMaxDurationSeconds: { flag: 'archive-max-duration', env: 'TOKHOST_ARCHIVE_MAX_DURATION', default: 7200, parse: int(1, 86_400), help: 'longest archive, seconds' },
  archiveIdleStopSeconds: { flag: 'archive-idle-stop', env: 'TOKHOST_ARCHIVE_IDLE_STOP', default: 60, parse: int(0, 86_400), help: 'stop an archive this long after the last client left, seconds' },
  archiveUrlTtlSeconds: { flag: 'archive-url-ttl', env: 'TOKHOST_ARCHIVE_URL_TTL', default: 600, parse: int(10, 7 * 86_400), help: 'archive download link lifetime, seconds' },
  maxConnectionsPerToken: { flag: 'max-connections-per-token', env: 'TOKHOST_MAX_CONNECTIONS_PER_TOKEN', default: LIMIT_DEFAULTS.maxConnectionsPerToken, parse: int(1, 1_000_000), help: 'WebSocket connections at once with one client token' },
  maxConnectionsPerProject: { flag: 'max-connections-per-project', env: 'TOKHOST_MAX_CONNECTIONS_PER_PROJECT', default: LIMIT_DEFAULTS.maxConnectionsPerProject, parse: int(1, 10_000_000), help: 'WebSocket connections at once per project' },
  signalRatePerConnection: { flag: 'signal-rate', env: 'TOKHOST_SIGNAL_RATE', default: LIMIT_DEFAULTS.signalRatePerConnection, parse: int(1, 1_000_000), help: 'signals per second per connection' },
  signalBurstPerConnection: { flag: 'signal-burst', env: 'TOKHOST_SIGNAL_BURST', default: LIMIT_DEFAULTS.signalBurstPerConnection, parse: int(1, 10_000_000), help: 'signal burst per connection' },
  restSignalRatePerProject: { flag: 'rest-signal-rate', env: 'TOKHOST_REST_SIGNAL_RATE', default: LIMIT_DEFAULTS.restSignalRatePerProject, parse: int(1, 1_000_000), help: 'REST signals per second per project (burst 5x)' },
  maxSubscriptionsPerConnection: { flag: 'max-subscriptions-per-connection', env: 'TOKHOST_MAX_SUBSCRIPTIONS_PER_CONNECTION', default: LIMIT_DEFAULTS.maxSubscriptionsPerConnection, parse: int(1, 1_000_000), help: 'subscriptions at once per connection' },
  maxArchivesPerSession: { flag: 'max-archives-per-session', env: 'TOKHOST_MAX_ARCHIVES_PER_SESSION', default: LIMIT_DEFAULTS.maxArchivesPerSession, parse: int(1, 1000), help: 'archives recording at once per session' },
  maxArchivesPerProject: { flag: 'max-archives-per-project', env: 'TOKHOST_MAX_ARCHIVES_PER_PROJECT', default: LIMIT_DEFAULTS.maxArchivesPerProject, parse: int(1, 100_000), help: 'archives recording at once per project' },
  maxBroadcastsPerSession: { flag: 'max-broadcasts-per-session', env: 'TOKHOST_MAX_BROADCASTS_PER_SESSION', default: LIMIT_DEFAULTS.maxBroadcastsPerSession, parse: int(1, 1000), help: 'broadcasts at once per session' },
  maxBroadcastsPerProject: { flag: 'max-broadcasts-per-project', env: 'TOKHOST_MAX_BROADCASTS_PER_PROJECT', default: LIMIT_DEFAULTS.maxBroadcastsPerProject, parse: int(1, 100_000), help: 'broadcasts at once per project' },
  maxSipCallsPerSession: { flag: 'max-sip-calls-per-session', env: 'TOKHOST_MAX_SIP_CALLS_PER_SESSION', default: LIMIT_DEFAULTS.maxSipCallsPerSession, parse: int(1, 100_000), help: 'SIP calls at once per session' },
  maxSipCallsPerProject: { flag: 'max-sip-calls-per-project', env: 'TOKHOST_MAX_SIP_CALLS_PER_PROJECT', default: LIMIT_DEFAULTS.maxSipCallsPerProject, parse: int(1, 1_000_000), help: 'SIP calls at once per project' },
  sendBufferMaxBytes: { flag: 'send-buffer-max-bytes', env: 'TOKHOST_SEND_BUFFER_MAX_BYTES', default: LIMIT_DEFAULTS.sendBufferMaxBytes, parse: int(65_536, 1024 * 1024 * 1024), help: 'bytes queued for a non-reading client socket before it is cut' },
};

/**
 * Validate a configuration against the schema: defaults filled in, strings coerced, every problem
 * collected into one {@link ConfigError}. The result is frozen.
 *
 * @param cwd base for a relative `dataDir` (default `process.cwd()`).
 * @example
 * const config = validateConfig({ port: 0, store: 'memory' });
 */
export function validateConfig(input: ServerConfigInput, cwd: string = process.cwd()): ServerConfig {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object') throw new ConfigError(['configuration must be an object']);
  for (const key of Object.keys(input)) {
    if (!(key in CONFIG_FIELDS)) problems.push(`unknown setting "${key}"`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(CONFIG_FIELDS) as [keyof ServerConfig, Field][]) {
    const raw = input[key];
    out[key] = raw === undefined ? field.default : field.parse(raw, key, problems);
  }
  if ((out.apiKey === null) !== (out.apiSecret === null)) problems.push('apiKey and apiSecret must be given together');
  if ((out.rtcMinPort === null) !== (out.rtcMaxPort === null)) problems.push('rtcMinPort and rtcMaxPort must be given together');
  if (typeof out.rtcMinPort === 'number' && typeof out.rtcMaxPort === 'number' && out.rtcMinPort > out.rtcMaxPort) {
    problems.push('rtcMinPort must not be greater than rtcMaxPort');
  }
  if ((out.sipRtpMinPort === null) !== (out.sipRtpMaxPort === null)) problems.push('sipRtpMinPort and sipRtpMaxPort must be given together');
  if (typeof out.sipRtpMinPort === 'number' && typeof out.sipRtpMaxPort === 'number' && out.sipRtpMinPort > out.sipRtpMaxPort) problems.push('sipRtpMinPort must not be greater than sipRtpMaxPort');
  if ((out.sipTlsCert === null) !== (out.sipTlsKey === null)) problems.push('sipTlsCert and sipTlsKey must be given together');
  if (out.captionsEngine === 'vosk' && out.captionsVoskUrl === null) problems.push('captionsVoskUrl is required with captionsEngine vosk');
  if (out.databaseUrl !== null && out.masterKey === null) problems.push('masterKey is required with databaseUrl (the secrets at rest are encrypted with it; every node needs the same one)');
  if (out.redisUrl !== null && out.databaseUrl === null) problems.push('redisUrl (cluster mode) needs databaseUrl: the nodes share their records in PostgreSQL');
  if (problems.length > 0) throw new ConfigError(problems);
  for (const k of ['sipTlsCert', 'sipTlsKey', 'sipTlsCa'] as const) if (typeof out[k] === 'string' && !isAbsolute(out[k] as string)) out[k] = resolve(cwd, out[k] as string);
  if (typeof out.dataDir === 'string' && !isAbsolute(out.dataDir)) out.dataDir = resolve(cwd, out.dataDir);
  if (typeof out.archivesDir === 'string' && !isAbsolute(out.archivesDir)) out.archivesDir = resolve(cwd, out.archivesDir);
  return Object.freeze(out) as unknown as ServerConfig;
}

/** Sources of {@link loadConfig}; the CLI passes `process.env` and the parsed flags. */
export interface LoadConfigOptions {
  /** Flags by their `--name` (without dashes), e.g. `{ port: '0', 'data-dir': '/tmp/x' }`. */
  flags?: Record<string, string | boolean | undefined>;
  /** Environment variables (`TOKHOST_*`). */
  env?: Record<string, string | undefined>;
  /** Working directory for relative paths and the default config file. */
  cwd?: string;
  /** Path of a JSON config file; else `TOKHOST_CONFIG`, else `./tokhost.config.json` if present. */
  configFile?: string;
}

/**
 * Load the configuration from a JSON file, `TOKHOST_*` environment variables and command-line
 * flags (later sources win), then {@link validateConfig} it once.
 */
export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? {};
  const flags = options.flags ?? {};
  const problems: string[] = [];
  const merged: Record<string, unknown> = {};

  const explicitFile = options.configFile ?? (typeof flags.config === 'string' ? flags.config : undefined) ?? env.TOKHOST_CONFIG;
  const file = explicitFile ? resolve(cwd, explicitFile) : resolve(cwd, 'tokhost.config.json');
  if (explicitFile || existsSync(file)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) problems.push(`config file ${file} must hold a JSON object`);
      else Object.assign(merged, parsed);
    } catch (err) {
      problems.push(`config file ${file}: ${(err as Error).message}`);
    }
  }
  for (const [key, field] of Object.entries(CONFIG_FIELDS)) {
    const v = env[field.env];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  const knownFlags = new Map(Object.entries(CONFIG_FIELDS).map(([k, f]) => [f.flag, k]));
  for (const [flag, v] of Object.entries(flags)) {
    if (v === undefined || flag === 'config') continue;
    const key = knownFlags.get(flag);
    if (!key) problems.push(`unknown flag --${flag}`);
    else merged[key] = v;
  }
  let config: ServerConfig | undefined;
  try {
    config = validateConfig(merged, cwd);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return config;
}
