/**
 * Archives in an S3-compatible bucket (AWS S3, MinIO, Ceph, …): the second `ArchiveStorage`, for
 * clusters whose nodes share no directory. Keys are the storage keys (`<apiKey>/<id>.<ext>`)
 * under an optional prefix. Runs the storage contract suite (test/recording/storage.contract.ts)
 * against a local S3-compatible server.
 */
import { createReadStream } from 'node:fs';
import { stat as statFile, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ArchiveStorage } from './storage.js';
import { checkKey } from './storage.js';

export interface S3ArchiveStorageOptions {
  bucket: string;
  /** Prepended to every key, e.g. `tokhost/`. Default none. */
  prefix?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Another S3-compatible endpoint, e.g. `http://minio.internal:9000`. Default AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. Default true with `endpoint`. */
  forcePathStyle?: boolean;
  /** Default: the AWS SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const notFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

export function createS3ArchiveStorage(o: S3ArchiveStorageOptions): ArchiveStorage & { close(): void } {
  const s3 = new S3Client({
    region: o.region ?? 'us-east-1',
    ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: o.forcePathStyle ?? true } : o.forcePathStyle !== undefined ? { forcePathStyle: o.forcePathStyle } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    // The SDK's default since 2025 streams uploads as aws-chunked with a CRC trailer, which many
    // S3-compatible servers store verbatim (framing included): checksums only where S3 requires them.
    ...(o.endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  });
  const name = (key: string) => (o.prefix ?? '') + checkKey(key);
  const head = async (key: string) => {
    try {
      const h = await s3.send(new HeadObjectCommand({ Bucket: o.bucket, Key: name(key) }));
      return { size: Number(h.ContentLength ?? 0) };
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  };
  return {
    kind: 's3',
    async put(key, localPath) {
      const { size } = await statFile(localPath);
      await s3.send(new PutObjectCommand({ Bucket: o.bucket, Key: name(key), Body: createReadStream(localPath), ContentLength: size, ContentType: key.endsWith('.mp4') ? 'video/mp4' : 'application/zip' }));
      await unlink(localPath);
      return { size };
    },
    async read(key, range) {
      const found = await head(key);
      if (!found) return undefined;
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: name(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
        return { stream: got.Body as Readable, size: found.size };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
    stat: head,
    async delete(key) {
      if (!(await head(key))) return false;
      await s3.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: name(key) }));
      return true;
    },
    close() {
      s3.destroy();
    },
  };
}
