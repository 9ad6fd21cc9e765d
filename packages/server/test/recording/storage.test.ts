import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { createS3ArchiveStorage } from '../../src/recording/s3-storage.js';
import { createLocalArchiveStorage } from '../../src/recording/storage.js';
import { freePort } from '../cluster/services.js';
import { archiveStorageContract } from './storage.contract.js';

let dir = '';
archiveStorageContract('local directory', {
  open() {
    dir = mkdtempSync(join(tmpdir(), 'tokhost-archives-'));
    return createLocalArchiveStorage(dir);
  },
  cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }),
});

// A real S3-compatible server from npm (s3rver) on loopback, files in a temp dir.
interface S3rver {
  run(): Promise<unknown>;
  close(): Promise<void>;
}
const S3rverCtor = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rver;
let server: S3rver | undefined;
let s3dir = '';
let endpoint = '';
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
beforeAll(async () => {
  s3dir = mkdtempSync(join(tmpdir(), 'tokhost-s3rver-'));
  const port = await freePort();
  server = new S3rverCtor({ port, address: '127.0.0.1', silent: true, directory: s3dir });
  await server.run();
  endpoint = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server?.close();
  rmSync(s3dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});
let bucketNo = 0;
let current: ReturnType<typeof createS3ArchiveStorage> | undefined;
archiveStorageContract('S3 (s3rver)', {
  async open() {
    const bucket = `archives-${++bucketNo}`;
    const admin = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
    current = createS3ArchiveStorage({ bucket, prefix: 'tokhost/', endpoint, credentials });
    return current;
  },
  cleanup: () => current?.close(),
});
