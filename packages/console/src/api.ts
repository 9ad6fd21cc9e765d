/**
 * The console's only way to the server: its REST API and documented admin routes, authorised as
 * every other caller is. Project credentials sign a fresh `X-OPENTOK-AUTH` JWT (HS256 with the
 * secret, as the OpenTok server SDKs do) in the browser; the operator token is sent as a bearer
 * token and may act for any project the path names.
 */

/** How the console is signed in. */
export type Credentials = { kind: 'project'; apiKey: string; apiSecret: string } | { kind: 'operator'; token: string };

/** A REST error answer, with the server's `{ code, message, description }` body when there was one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly description: string,
  ) {
    super(message);
  }
}

const b64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const utf8 = (text: string) => new TextEncoder().encode(text);

/** A project JWT for the REST API: `iss` the API key, `ist: project`, valid 3 minutes. */
export async function projectJwt(apiKey: string, apiSecret: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const header = b64url(utf8(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const jti = b64url(crypto.getRandomValues(new Uint8Array(12)));
  const claims = b64url(utf8(JSON.stringify({ iss: apiKey, ist: 'project', iat: nowSeconds, exp: nowSeconds + 180, jti })));
  const key = await crypto.subtle.importKey('raw', utf8(apiSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(`${header}.${claims}`)));
  return `${header}.${claims}.${b64url(signature)}`;
}

/** REST calls with the console's credentials. */
export class Api {
  #jwt: { token: string; until: number } | undefined;

  constructor(readonly credentials: Credentials) {}

  async #headers(): Promise<Record<string, string>> {
    const c = this.credentials;
    if (c.kind === 'operator') return { authorization: `Bearer ${c.token}` };
    // One JWT a minute: it is valid three.
    if (!this.#jwt || this.#jwt.until < Date.now()) this.#jwt = { token: await projectJwt(c.apiKey, c.apiSecret), until: Date.now() + 60_000 };
    return { 'x-opentok-auth': this.#jwt.token };
  }

  async #fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const headers = await this.#headers();
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), cache: 'no-store' });
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      let description = '';
      try {
        const err = (await res.json()) as { message?: string; description?: string };
        if (err.message) message = err.message;
        description = err.description ?? '';
      } catch {
        // not a JSON error body
      }
      throw new ApiError(res.status, message, description);
    }
    return res;
  }

  /** GET a JSON resource. */
  async get<T>(path: string): Promise<T> {
    return (await (await this.#fetch('GET', path)).json()) as T;
  }

  /** POST (or PUT, DELETE) with an optional JSON body; the answer's JSON, or null when it has none. */
  async send<T = unknown>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T | null> {
    const text = await (await this.#fetch(method, path, body)).text();
    return text ? (JSON.parse(text) as T) : null;
  }

  /** GET a binary resource (a thumbnail). */
  async blob(path: string): Promise<Blob> {
    return (await this.#fetch('GET', path)).blob();
  }
}

/** `/v2/project/{key}` plus the rest of a path, each segment encoded. */
export function projectPath(apiKey: string, ...segments: string[]): string {
  return ['/v2/project', apiKey, ...segments].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}
