/** The behaviour every `ArchiveStorage` implementation shares (run by each implementation's test). */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ArchiveStorage } from '../../src/recording/storage.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export function archiveStorageContract(name: string, make: () => Promise<ArchiveStorage>): void {
  describe(`ArchiveStorage contract: ${name}`, () => {
    const local = (content: string) => {
      const f = join(mkdtempSync(join(tmpdir(), 'tokhost-storage-src-')), 'file');
      writeFileSync(f, content);
      return f;
    };

    it('put moves the file in; stat, read and ranges give its bytes', async () => {
      const s = await make();
      const src = local('0123456789');
      expect(await s.put('123/aaaaaaaa-0000-0000-0000-000000000001.mp4', src)).toEqual({ size: 10 });
      expect(existsSync(src)).toBe(false);
      expect(await s.stat('123/aaaaaaaa-0000-0000-0000-000000000001.mp4')).toEqual({ size: 10 });
      const all = await s.read('123/aaaaaaaa-0000-0000-0000-000000000001.mp4');
      expect(all?.size).toBe(10);
      expect(await text(all!.stream)).toBe('0123456789');
      const part = await s.read('123/aaaaaaaa-0000-0000-0000-000000000001.mp4', { start: 2, end: 4 });
      expect(await text(part!.stream)).toBe('234');
    });

    it('a second put replaces; delete removes once', async () => {
      const s = await make();
      await s.put('123/b.zip', local('one'));
      await s.put('123/b.zip', local('second'));
      expect(await text((await s.read('123/b.zip'))!.stream)).toBe('second');
      expect(await s.delete('123/b.zip')).toBe(true);
      expect(await s.delete('123/b.zip')).toBe(false);
      expect(await s.stat('123/b.zip')).toBeUndefined();
      expect(await s.read('123/b.zip')).toBeUndefined();
    });

    it('keys are only <apiKey>/<id>.<mp4|zip>: nothing escapes the storage', async () => {
      const s = await make();
      for (const bad of ['../x.mp4', '123/../../etc.mp4', '123/a.txt', '/abs/a.mp4', '123/a/b.mp4', '']) {
        await expect(s.put(bad, local('x'))).rejects.toThrow(/invalid archive storage key/);
        await expect(s.stat(bad)).rejects.toThrow(/invalid archive storage key/);
      }
    });

    it('unknown keys are absent, not errors', async () => {
      const s = await make();
      expect(await s.stat('999/none.mp4')).toBeUndefined();
      expect(await s.read('999/none.mp4')).toBeUndefined();
      expect(await s.delete('999/none.mp4')).toBe(false);
    });
  });
}
