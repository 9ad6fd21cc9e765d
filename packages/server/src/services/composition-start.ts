/**
 * The one rule for starting a composition output (an archive or a broadcast), checked before any
 * state changes. OpenTok's order: the session exists in the caller's project, is not end-to-end
 * encrypted, uses routed media; an untagged start finds no output of its kind running, a tagged
 * one finds none with its tag (OpenTok's `multiArchiveTag` / `multiBroadcastTag`); the concurrency limits hold; a client is connected.
 * The two kinds differ only in their words and codes (below), which OpenTok's SDKs surface.
 */
import type { SessionRecord, Store } from '../storage/store.js';
import { TokhostError } from '../errors.js';
import { checkConcurrent } from '../limits.js';
import type { LimitsConfig } from '../limits.js';
import { requireNotE2ee, requireSession } from './sessions.js';

export type CompositionKind = 'archive' | 'broadcast';

/** What runs now, as the caller's service keeps it. */
export interface RunningOutputs {
  /** The outputs of this kind running in the session, with their tags. */
  inSession: readonly { tag: string | null | undefined }[];
  /** How many outputs of this kind the project runs (all sessions). */
  inProject: number;
}

const RULES = {
  archive: {
    what: 'archiving',
    notRouted: () => new TokhostError('ERR_SESSION_NOT_ROUTED', 'Only routed sessions are allowed to initiate archives.'),
    inProgress: (sessionId: string) =>
      new TokhostError('ERR_ARCHIVE_IN_PROGRESS', 'Recording already in progress', { description: `Session ${sessionId} is already being recorded; use a distinct multiArchiveTag` }),
    limit: { plural: 'archives', perSession: 'maxArchivesPerSession', perProject: 'maxArchivesPerProject', message: 'Too many archives', prefix: 'Archive limit reached' },
    nothingTo: 'record',
  },
  broadcast: {
    what: 'broadcasting',
    notRouted: () => new TokhostError('ERR_BROADCAST_NOT_ROUTED', 'Only routed sessions can be broadcast', { description: 'The session uses relayed media (p2p.preference=enabled)' }),
    inProgress: () =>
      new TokhostError('ERR_BROADCAST_IN_PROGRESS', 'The broadcast has already started for the session', { description: 'Use a distinct multiBroadcastTag for another broadcast of the same session' }),
    limit: { plural: 'broadcasts', perSession: 'maxBroadcastsPerSession', perProject: 'maxBroadcastsPerProject', message: 'Too many broadcasts', prefix: 'Broadcast limit reached' },
    nothingTo: 'broadcast',
  },
} as const;

/**
 * Checks every precondition of starting an archive or broadcast of `sessionId` in `apiKey`'s
 * project and returns the session; throws the error OpenTok answers with otherwise.
 * `running` is read only once the session is known to be routed and unencrypted.
 */
export function requireCompositionStart(o: {
  kind: CompositionKind;
  store: Store;
  apiKey: string;
  sessionId: unknown;
  /** The `multiArchiveTag` / `multiBroadcastTag` asked for. */
  tag: string | undefined;
  running: (session: SessionRecord) => RunningOutputs;
  limits: Pick<LimitsConfig, 'maxArchivesPerSession' | 'maxArchivesPerProject' | 'maxBroadcastsPerSession' | 'maxBroadcastsPerProject'>;
  connectionCount: (sessionId: string) => number;
}): SessionRecord {
  const rule = RULES[o.kind];
  const session = requireSession(o.store, o.apiKey, o.sessionId);
  requireNotE2ee(session, rule.what);
  if (session.mediaMode !== 'routed') throw rule.notRouted();
  const running = o.running(session);
  // A start without a tag needs the session idle; a tagged one only needs its tag free. So a
  // tagged archive starts while an untagged one records, as OpenTok requires "when manually
  // starting an archive in a session that is automatically archived" (the Ruby and PHP SDKs'
  // suites do exactly that); the same holds for broadcasts and multiBroadcastTag.
  if (running.inSession.some((r) => !o.tag || r.tag === o.tag)) throw rule.inProgress(session.sessionId);
  const overCap = checkConcurrent(
    rule.limit.plural,
    { inSession: running.inSession.length, inProject: running.inProject },
    { perSession: o.limits[rule.limit.perSession], perProject: o.limits[rule.limit.perProject], sessionSetting: rule.limit.perSession, projectSetting: rule.limit.perProject },
  );
  if (overCap) throw new TokhostError('ERR_LIMIT_EXCEEDED', rule.limit.message, { description: `${rule.limit.prefix}: ${overCap}` });
  if (o.connectionCount(session.sessionId) === 0) {
    throw new TokhostError('ERR_SESSION_NO_CLIENTS', 'No clients are connected to the session', { description: `No clients are actively connected to the session, so there is nothing to ${rule.nothingTo}` });
  }
  return session;
}
