import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArchiveStorage } from '../../src/recording/storage.js';

/** Builds a fresh, empty storage per test. */
export interface ArchiveStorageHarness {
  open(): ArchiveStorage | Promise<ArchiveStorage>;
  cleanup?(): void | Promise<void>;
}

const drain = async (s: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
};

/** The behaviour every `ArchiveStorage` must have (local directory, S3, …). */
export function archiveStorageContract(name: string, harness: ArchiveStorageHarness): void {
  describe(`ArchiveStorage contract: ${name}`, () => {
    let storage: ArchiveStorage;
    let work: string;
    const file = (bytes: Buffer) => {
      const p = join(work, `f-${randomBytes(4).toString('hex')}`);
      writeFileSync(p, bytes);
      return p;
    };
    beforeEach(async () => {
      work = mkdtempSync(join(tmpdir(), 'tokhost-storage-work-'));
      storage = await harness.open();
    });
    afterEach(async () => {
      rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      await harness.cleanup?.();
    });

    it('stores a file under its key, removes the local copy, and reads it back whole and by range', async () => {
      const bytes = randomBytes(300_000);
      const local = file(bytes);
      expect(await storage.put('123/4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11.mp4', local)).toEqual({ size: bytes.length });
      expect(existsSync(local)).toBe(false);
      expect(await storage.stat('123/4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11.mp4')).toEqual({ size: bytes.length });
      const whole = await storage.read('123/4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11.mp4');
      expect(whole?.size).toBe(bytes.length);
      expect((await drain(whole!.stream)).equals(bytes)).toBe(true);
      const part = await storage.read('123/4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11.mp4', { start: 1000, end: 1999 });
      expect(part?.size).toBe(bytes.length);
      expect((await drain(part!.stream)).equals(bytes.subarray(1000, 2000))).toBe(true);
    });

    it('answers undefined / false for missing keys, replaces on put, and deletes', async () => {
      expect(await storage.stat('123/missing.zip')).toBeUndefined();
      expect(await storage.read('123/missing.zip')).toBeUndefined();
      expect(await storage.delete('123/missing.zip')).toBe(false);
      await storage.put('123/a.zip', file(Buffer.from('first')));
      await storage.put('123/a.zip', file(Buffer.from('second!')));
      expect(await storage.stat('123/a.zip')).toEqual({ size: 7 });
      expect((await drain((await storage.read('123/a.zip'))!.stream)).toString()).toBe('second!');
      expect(await storage.delete('123/a.zip')).toBe(true);
      expect(await storage.stat('123/a.zip')).toBeUndefined();
      // Keys of another project are other objects.
      await storage.put('456/a.zip', file(Buffer.from('x')));
      expect(await storage.stat('123/a.zip')).toBeUndefined();
    });

    it('refuses keys that are not <apiKey>/<id>.<mp4|zip>', async () => {
      for (const bad of ['../etc/passwd', '123/../x.mp4', '123/x.txt', '/abs/x.mp4', '123/x y.mp4', '']) {
        await expect(storage.stat(bad)).rejects.toThrow(/invalid archive storage key/);
      }
    });
  });
}
