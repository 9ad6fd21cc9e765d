import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const OpenTok = createRequire(import.meta.url)('opentok') as new (k: string, s: string) => { generateToken(s: string, o?: object): string };

/**
 * What the SIP tests call on a server as one project: its REST API with a fresh project JWT per
 * call, a routed session, and a publisher token from the official SDK. `baseUrl` is read at each
 * call (the server starts in `beforeAll`).
 */
export function projectRest(baseUrl: () => string, apiKey: string, apiSecret: string) {
  const jwt = (): string => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: apiKey, ist: 'project', iat: now, exp: now + 60, jti: randomBytes(6).toString('hex') })}`;
    return `${head}.${createHmac('sha256', apiSecret).update(head).digest('base64url')}`;
  };
  const rest = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await fetch(`${baseUrl()}/v2/project/${apiKey}${path}`, { method, headers: { 'X-OPENTOK-AUTH': jwt(), ...(body ? { 'Content-Type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const session = async (): Promise<string> => {
    const r = await fetch(`${baseUrl()}/session/create`, { method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt(), 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: 'p2p.preference=disabled' });
    return ((await r.json()) as { session_id: string }[])[0]!.session_id;
  };
  const token = (sessionId: string): string => new OpenTok(apiKey, apiSecret).generateToken(sessionId, { role: 'publisher' });
  return { jwt, rest, session, token };
}
