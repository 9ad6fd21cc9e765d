import type { ConnectionListJson } from '@tokhost/protocol';
import { createSession, formatCreateDt, parseSessionOptions, requireSession, sessionCreateXml } from '../../services/sessions.js';
import type { SessionRecord } from '../../storage/store.js';
import { parseFormBody } from '../body.js';
import type { Route } from '../route-table.js';

/** True when the client accepts JSON (node, Java, Python); Ruby (`*\/*`) and PHP (none) get XML. */
export function acceptsJson(accept: string | undefined): boolean {
  return typeof accept === 'string' && /application\/(json|\*)|\+json/i.test(accept);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Characters JSON.stringify would escape in a string. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(text)`; the IDs and dates written here never need escaping, and the check is cheaper than the call. */
const quote = (text: string): string => (NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`);

/**
 * `JSON.stringify([sessionCreateItem(s)])`, byte for byte (a test pins that), written as a
 * template: the create answer is the hottest JSON the server writes and its shape is fixed.
 */
export function sessionCreateJson(s: SessionRecord): string {
  const key = quote(s.apiKey);
  return (
    `[{"session_id":${quote(s.sessionId)},"project_id":${key},"partner_id":${key},"create_dt":${quote(formatCreateDt(s.createdAt))},` +
    '"session_status":null,"status_invalid":null,"media_server_hostname":null,"messaging_server_url":null,"messaging_url":null,"symphony_address":null,' +
    '"properties":null,"ice_server":null,"session_segment_id":null,"ice_servers":null,"ice_credential_expiration":null,"media_server_url":""}]'
  );
}

/** `POST /session/create` (reference §3.1) and list connections. */
export const sessionRoutes: Route[] = [
  {
    method: 'POST',
    path: '/session/create',
    summary: 'Create a session (form-encoded body; JSON array or XML answer by Accept)',
    success: 200,
    body: {
      'p2p.preference': 'enabled = relayed, disabled = routed (default disabled)',
      archiveMode: 'manual (default) | always (routed only)',
      location: 'IPv4 location hint',
      e2ee: 'true | false (routed, not with archiveMode=always)',
      archiveName: 'name of automatic archives, ≤80 characters (archiveMode=always only)',
      archiveResolution: 'resolution of automatic archives (archiveMode=always only)',
    },
    async handler(ctx) {
      const fields = parseFormBody(ctx.req, await ctx.raw());
      const options = parseSessionOptions(fields, ctx.project.apiKey);
      const session = createSession(ctx.deps.store, ctx.project.apiKey, options);
      // Answer only once the session is committed: a client must never hold an ID that a crash
      // right after the answer would lose.
      await ctx.deps.store.flush();
      if (acceptsJson(ctx.req.headers.accept)) return { status: 200, text: sessionCreateJson(session), contentType: JSON_TYPE };
      return { status: 200, text: sessionCreateXml(session), contentType: 'text/xml; charset=utf-8' };
    },
  },
  {
    method: 'GET',
    path: '/v2/project/:key/session/:sessionId/connection',
    summary: 'List the connections of a session',
    success: 200,
    handler(ctx) {
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      const items = ctx.deps.live.listConnections(session.sessionId);
      const json: ConnectionListJson = { count: items.length, projectId: ctx.project.apiKey, sessionId: session.sessionId, items };
      return { status: 200, json };
    },
  },
];
