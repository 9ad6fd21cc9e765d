import { randomBytes, randomInt } from 'node:crypto';
import type { ProjectRecord, Store } from '../storage/store.js';
import { StoreError } from '../storage/store.js';
import { TokhostError, type ProjectErrorCode } from '../errors.js';

/** Errors of the project service (CLI and start-up). */
export class ProjectError extends TokhostError<ProjectErrorCode> {
  override readonly name = 'ProjectError';
}

/** API keys look like OpenTok's: numeric strings (8 digits, no leading zero). */
export const API_KEY_PATTERN = /^[0-9]{1,20}$/;

/** A fresh API key that `exists` does not know. */
export function generateApiKey(exists: (apiKey: string) => boolean): string {
  for (;;) {
    const key = String(randomInt(10_000_000, 100_000_000));
    if (!exists(key)) return key;
  }
}

/** 40 lowercase hex characters (160 random bits), OpenTok's secret format. */
export function generateApiSecret(): string {
  return randomBytes(20).toString('hex');
}

/** Options of {@link createProject}. Key and secret are generated unless given. */
export interface CreateProjectOptions {
  name?: string;
  apiKey?: string;
  apiSecret?: string;
  now?: number;
}

/** Create a project; the returned record holds the clear secret (show it once). */
export function createProject(store: Store, options: CreateProjectOptions = {}): ProjectRecord {
  if (options.apiKey !== undefined && !API_KEY_PATTERN.test(options.apiKey)) throw new ProjectError('ERR_PROJECT_INVALID', 'apiKey must be a numeric string of up to 20 digits');
  if (options.apiSecret !== undefined && !/^[\x21-\x7e]{8,256}$/.test(options.apiSecret)) {
    throw new ProjectError('ERR_PROJECT_INVALID', 'apiSecret must be 8 to 256 printable ASCII characters without spaces');
  }
  const apiKey = options.apiKey ?? generateApiKey((k) => store.getProject(k) !== undefined);
  if (store.getProject(apiKey)) throw new ProjectError('ERR_PROJECT_EXISTS', `Project ${apiKey} already exists`);
  const project: ProjectRecord = {
    apiKey,
    apiSecret: options.apiSecret ?? generateApiSecret(),
    name: options.name ?? `Project ${apiKey}`,
    createdAt: options.now ?? Date.now(),
    webhookUrl: null,
  };
  store.createProject(project);
  return project;
}

/** Replace a project's secret with a fresh one and return the updated record. */
export function rotateProjectSecret(store: Store, apiKey: string): ProjectRecord {
  const updated = store.updateProject(apiKey, { apiSecret: generateApiSecret() });
  if (!updated) throw new ProjectError('ERR_PROJECT_NOT_FOUND', `Project ${apiKey} does not exist`);
  return updated;
}

/** Set (or clear with `null`) the session-monitoring webhook URL of a project. */
export function setProjectWebhook(store: Store, apiKey: string, url: string | null): ProjectRecord {
  if (url !== null) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (cause) {
      throw new ProjectError('ERR_PROJECT_INVALID', `webhook URL ${JSON.stringify(url)} is not a URL`, { cause });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ProjectError('ERR_PROJECT_INVALID', 'webhook URL must use http or https');
  }
  const updated = store.updateProject(apiKey, { webhookUrl: url });
  if (!updated) throw new ProjectError('ERR_PROJECT_NOT_FOUND', `Project ${apiKey} does not exist`);
  return updated;
}

/** What start-up did about projects. */
export interface SeedResult {
  /** The seeded or created project, when start-up made or changed one. */
  project: ProjectRecord | null;
  /** True when the project did not exist before (its secret should be shown once). */
  created: boolean;
}

/**
 * Start-up seeding: with `apiKey`/`apiSecret`, make sure that project exists with exactly that
 * secret (created or updated); without them, create a default project when there is none.
 */
export function seedProjects(store: Store, credentials: { apiKey: string | null; apiSecret: string | null }): SeedResult {
  if (credentials.apiKey && credentials.apiSecret) {
    let existing = store.getProject(credentials.apiKey);
    if (!existing) {
      try {
        return { project: createProject(store, { apiKey: credentials.apiKey, apiSecret: credentials.apiSecret, name: 'Seeded project' }), created: true };
      } catch (err) {
        // Cluster nodes started together seed the same project: the one that lost the race uses it.
        if (!(err instanceof StoreError && err.code === 'ERR_STORE_CONFLICT') && !(err instanceof ProjectError && err.code === 'ERR_PROJECT_EXISTS')) throw err;
        existing = store.getProject(credentials.apiKey);
        if (!existing) throw err;
      }
    }
    const project = existing.apiSecret === credentials.apiSecret ? existing : store.updateProject(credentials.apiKey, { apiSecret: credentials.apiSecret })!;
    return { project, created: false };
  }
  if (store.listProjects().length > 0) return { project: null, created: false };
  return { project: createProject(store, { name: 'Default project' }), created: true };
}
