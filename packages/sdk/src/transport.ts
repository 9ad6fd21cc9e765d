/**
 * The one HTTP path every REST call takes: URL building, a fresh auth JWT per request (`X-OPENTOK-AUTH`
 * or `Authorization: Bearer`, by credential kind),
 * a timeout that really aborts (request and body read), response parsing per reference §2.1 and the
 * generic status → error mapping of §2.2 (each resource adds its per-method overrides).
 */
import type { Signer } from './auth.js';
import { AuthError, NotFoundError, RequestError } from './errors.js';
import type { OpenTokError } from './errors.js';
import { OPENTOK_NODE_COMPAT_VERSION, SDK_VERSION } from './version.js';

/** The subset of the WHATWG `fetch` the SDK needs; pass your own for tests or proxies. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One REST request, before auth and serialisation. */
export interface RequestSpec {
  method: HttpMethod;
  /** Path below the API URL, starting with `/`. */
  path: string;
  /** Query parameters in the order they are sent. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** JSON body (sent with `Content-Type: application/json`). */
  json?: unknown;
  /** Form body (sent with `Content-Type: application/x-www-form-urlencoded`). */
  form?: ReadonlyArray<readonly [string, string]>;
}

/** A response with any 2xx or error status, the body parsed. */
export interface ApiResponse {
  status: number;
  /** Parsed JSON when the body is JSON (whatever the Content-Type), else the raw text; `null` when empty. */
  body: unknown;
  /** The raw body text. */
  text: string;
  contentType: string;
}

/** What a failed response carried, for building errors. */
export interface ErrorContext {
  status: number;
  serverCode: number | string | undefined;
  serverMessage: string | undefined;
  body: unknown;
}

/** A per-method override: return an error for statuses the method treats specially, else `undefined`. */
export type ErrorMapper = (ctx: ErrorContext) => OpenTokError | undefined;

export interface TransportConfig {
  apiUrl: string;
  timeout: number;
  uaAddendum: string | undefined;
  fetch: FetchLike;
  signer: Signer;
}

/** Details object for error constructors from an error context. */
export function details(ctx: ErrorContext): { status: number; serverCode: number | string | undefined; serverMessage: string | undefined; body: unknown } {
  return { status: ctx.status, serverCode: ctx.serverCode, serverMessage: ctx.serverMessage, body: ctx.body };
}

function withServerMessage(base: string, ctx: ErrorContext): string {
  return ctx.serverMessage ? `${base}: ${ctx.serverMessage}` : base;
}

/**
 * The generic mapping (reference §2.2): 401/403 → AuthError, 404 → NotFoundError, else RequestError
 * worded as opentok-node words it, `Unexpected response from OpenTok: "{"message":"<server's message>"}"`
 * (apps match on that text); the status is in `error.status`.
 */
export function genericError(ctx: ErrorContext): OpenTokError {
  if (ctx.status === 401 || ctx.status === 403) return new AuthError(withServerMessage('Invalid API key or secret', ctx), details(ctx));
  if (ctx.status === 404) return new NotFoundError(withServerMessage('Not Found', ctx), details(ctx));
  return new RequestError(`Unexpected response from OpenTok: "${JSON.stringify({ message: ctx.serverMessage ?? '' })}"`, details(ctx));
}

function parseBody(text: string, contentType: string): unknown {
  if (text.length === 0) return null;
  // getStream is served with a non-JSON type by servers that cater for opentok-node (§2.1), so a
  // JSON-looking body is parsed whatever the Content-Type says.
  const first = text.trimStart()[0];
  if (contentType === 'application/json' || first === '{' || first === '[') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function errorContext(res: ApiResponse): ErrorContext {
  let serverCode: number | string | undefined;
  let serverMessage: string | undefined;
  const body = res.body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (typeof b['code'] === 'number' || typeof b['code'] === 'string') serverCode = b['code'];
    if (typeof b['message'] === 'string') serverMessage = b['message'];
  } else if (res.text.trim().length > 0) {
    const xml = /<message>([^<]*)<\/message>/.exec(res.text);
    serverMessage = (xml ? xml[1]! : res.text.trim()).slice(0, 500);
  }
  return { status: res.status, serverCode, serverMessage, body };
}

/** Shared HTTP client of every resource module. */
export class Transport {
  readonly #config: TransportConfig;
  readonly #base: string;
  readonly #userAgent: string;

  constructor(config: TransportConfig) {
    this.#config = config;
    // opentok-node concatenates and so sends `//path` for a base URL with a trailing slash (§1.1).
    this.#base = config.apiUrl.replace(/\/+$/, '');
    // Named as what it is compatible with first (docs/compat.md D10), then as itself.
    this.#userAgent = `OpenTok-Node-SDK/${OPENTOK_NODE_COMPAT_VERSION} (compatible; Tokhost-Node-SDK/${SDK_VERSION})` + (config.uaAddendum ? ` ${config.uaAddendum}` : '');
  }

  /** The effective API base URL (no trailing slash). */
  get apiUrl(): string {
    return this.#base;
  }

  /**
   * Send one request. Resolves with any 2xx response; rejects with the error `mapError` returns
   * for the status, else the generic one; rejects with a `RequestError` (`ERR_SDK_NETWORK` or
   * `ERR_SDK_TIMEOUT`) when no response arrives.
   */
  async request(spec: RequestSpec, mapError?: ErrorMapper): Promise<ApiResponse> {
    let url = this.#base + spec.path;
    if (spec.query && spec.query.length > 0) url += '?' + new URLSearchParams(spec.query as Array<[string, string]>).toString();
    const [authName, authValue] = this.#config.signer.authHeader();
    const headers: Record<string, string> = { 'User-Agent': this.#userAgent, Accept: 'application/json', [authName]: authValue };
    let body: string | undefined;
    if (spec.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(spec.form as Array<[string, string]>).toString();
    } else if (spec.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(spec.json);
    }

    const controller = new AbortController();
    let timedOut = false;
    const timeout = this.#config.timeout;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    let res: ApiResponse;
    try {
      const init = { method: spec.method, headers, signal: controller.signal, ...(body === undefined ? {} : { body }) };
      const raw = await this.#config.fetch(url, init);
      const text = await raw.text();
      const contentType = (raw.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      res = { status: raw.status, text, contentType, body: parseBody(text, contentType) };
    } catch (cause) {
      if (timedOut) {
        throw new RequestError(`Request to ${spec.method} ${spec.path} timed out after ${timeout} ms`, { cause }, 'ERR_SDK_TIMEOUT');
      }
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new RequestError(`Request to ${spec.method} ${spec.path} failed: ${reason}`, { cause }, 'ERR_SDK_NETWORK');
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 200 && res.status < 300) return res;
    const ctx = errorContext(res);
    throw mapError?.(ctx) ?? genericError(ctx);
  }
}
