import type { AdminProjectJson, ListJson, LiveSessionJson } from '@tokhost/protocol';
import type { LiveSessionInfo } from '../../live/index.js';
import type { AdminRoute, Route } from '../route-table.js';

/**
 * `GET /v2/project/{apiKey}/session`: the sessions live on this server now, with their
 * connections and streams (the console's and `tokhost session list`'s view). Project credentials
 * or the operator token; the live state is per node, so in a cluster each node lists the
 * sessions it runs (docs/rest-api.md, Admin API).
 */
export const liveSessionRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v2/project/:key/session',
    summary: 'Admin API: the sessions live now on this node, with their connections and streams',
    success: 200,
    handler(ctx) {
      const { store, live } = ctx.deps;
      const items = live.listLiveSessions(ctx.project.apiKey).map((s) => liveSessionJson(s, store.getSession(s.sessionId)?.createdAt ?? null));
      const json: ListJson<LiveSessionJson> = { count: items.length, items };
      return { status: 200, json };
    },
  },
];

/** A live session as the admin API answers it; `createdAt` falls back to its oldest connection's. */
export function liveSessionJson(s: LiveSessionInfo, createdAt: number | null): LiveSessionJson {
  return {
    sessionId: s.sessionId,
    mediaMode: s.mediaMode,
    createdAt: createdAt ?? s.connections[0]?.createdAt ?? Date.now(),
    connections: s.connections.map((c) => ({ connectionId: c.connectionId, data: c.data, clientKind: c.clientKind, createdAt: c.createdAt })),
    streams: s.streams.map((x) => ({ streamId: x.streamId, connectionId: x.connectionId, name: x.name, videoType: x.videoType, hasAudio: x.hasAudio, hasVideo: x.hasVideo, createdAt: x.creationTime })),
  };
}

/** The operator's routes: `GET /v2/admin/projects` (the projects, never their secrets). */
export const adminRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: '/v2/admin/projects',
    summary: 'Admin API (operator token): every project, without secrets',
    success: 200,
    handler(ctx) {
      const items: AdminProjectJson[] = ctx.deps.store.listProjects().map((p) => ({ apiKey: p.apiKey, name: p.name, createdAt: p.createdAt }));
      const json: ListJson<AdminProjectJson> = { count: items.length, items };
      return { status: 200, json };
    },
  },
];
