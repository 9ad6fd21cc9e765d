/**
 * Where finished archive files live. Keys are `<apiKey>/<archiveId>.<mp4|zip>`. The local
 * implementation keeps them under `<dataDir>/archives/`; a cluster points every node at the same
 * directory (or at another implementation, e.g. S3). Every implementation runs the contract
 * suite in `test/recording/storage.contract.ts`.
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';

export interface StoredObject {
  size: number;
}

export interface ArchiveStorage {
  readonly kind: string;
  /** Store a finished local file under `key` (the local file is moved or copied, then removed). */
  put(key: string, localPath: string): Promise<StoredObject>;
  /** The stored bytes (optionally a byte range, inclusive), or undefined when there is no such key. */
  read(key: string, range?: { start: number; end: number }): Promise<{ stream: Readable; size: number } | undefined>;
  stat(key: string): Promise<StoredObject | undefined>;
  /** Remove the object; false when there was none. */
  delete(key: string): Promise<boolean>;
}

const KEY = /^[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,64}\.(mp4|zip)$/;

/** Refuses keys that are not `<apiKey>/<id>.<ext>`: nothing can escape the directory. */
export function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`invalid archive storage key ${JSON.stringify(key)}`);
  return key;
}

/** Archives on a local (or shared, NFS-mounted) directory. */
export function createLocalArchiveStorage(root: string): ArchiveStorage {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = join(base, checkKey(key));
    if (!p.startsWith(base + sep)) throw new Error('archive key outside the storage directory');
    return p;
  };
  const statOf = async (p: string) => {
    try {
      return await stat(p);
    } catch {
      return undefined;
    }
  };
  return {
    kind: 'local',
    async put(key, localPath) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      const tmp = `${target}.part`;
      try {
        await rename(localPath, tmp);
      } catch {
        // Another file system (shared storage): copy, then drop the original.
        await copyFile(localPath, tmp);
        await unlink(localPath);
      }
      await rename(tmp, target);
      return { size: (await stat(target)).size };
    },
    async read(key, range) {
      const p = pathOf(key);
      const s = await statOf(p);
      if (!s?.isFile()) return undefined;
      return { stream: createReadStream(p, range ? { start: range.start, end: range.end } : {}), size: s.size };
    },
    async stat(key) {
      const s = await statOf(pathOf(key));
      return s?.isFile() ? { size: s.size } : undefined;
    },
    async delete(key) {
      const p = pathOf(key);
      if (!(await statOf(p))) return false;
      await rm(p, { force: true });
      return true;
    },
  };
}
