import type { ArchiveMode, MediaMode, Resolution } from '@tokhost/protocol';

/**
 * Persistent state behind one interface. Implementations: memory (tests) and SQLite (default).
 * Both run the shared contract suite in `test/storage/store.contract.ts`.
 *
 * Secrets: `ProjectRecord.apiSecret` is the clear secret as callers need it for HMAC checks;
 * how it is kept at rest is the implementation's concern (SQLite encrypts it, see docs/config.md).
 */
export interface ProjectRecord {
  apiKey: string;
  apiSecret: string;
  name: string;
  createdAt: number;
  /** Session-monitoring webhook URL, or `null` when none is set. */
  webhookUrl: string | null;
}

export interface SessionRecord {
  sessionId: string;
  apiKey: string;
  mediaMode: MediaMode;
  archiveMode: ArchiveMode;
  archiveName: string | null;
  archiveResolution: Resolution | null;
  location: string | null;
  e2ee: boolean;
  createdAt: number;
}

/** The store. Methods are synchronous because better-sqlite3 is; keep them short. */
export interface Store {
  createProject(project: ProjectRecord): void;
  getProject(apiKey: string): ProjectRecord | undefined;
  listProjects(): ProjectRecord[];
  updateProject(apiKey: string, changes: Partial<Pick<ProjectRecord, 'apiSecret' | 'name' | 'webhookUrl'>>): ProjectRecord | undefined;

  createSession(session: SessionRecord): void;
  getSession(sessionId: string): SessionRecord | undefined;

  /** Release resources (close the database). */
  close(): void;
}
