import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, openSync, closeSync, readFileSync, writeSync } from 'node:fs';
import { StoreError } from './store.js';

/**
 * AES-256-GCM encryption of project secrets at rest. HS256 needs the clear secret, so it cannot
 * be hashed; instead the database holds ciphertext and the key lives in a separate file
 * (`master.key`, mode 0600) beside it, so a leaked database file alone does not expose secrets.
 */
export interface SecretBox {
  seal(plain: string, context: string): string;
  open(sealed: string, context: string): string;
}

const PREFIX = 'v1:';

/** Wrap a 32-byte key. `context` (the API key) is bound as associated data. */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new StoreError('ERR_STORE_MASTER_KEY', 'The master key must be 32 bytes');
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
    },
    open(sealed, context) {
      if (!sealed.startsWith(PREFIX)) throw new StoreError('ERR_STORE_MASTER_KEY', 'Unknown secret encoding in the database');
      const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch (cause) {
        throw new StoreError('ERR_STORE_MASTER_KEY', `Cannot decrypt the secret of project ${context}: master.key does not match the database`, { cause });
      }
    },
  };
}

/**
 * Read the master key file, creating it (64 hex characters, mode 0600) when `create` is true and
 * it does not exist. `O_EXCL` makes two processes starting at once agree on one key.
 */
export function loadMasterKey(path: string, create: boolean): Buffer {
  if (!existsSync(path)) {
    if (!create) throw new StoreError('ERR_STORE_MASTER_KEY', `${path} is missing: the project secrets in the database cannot be decrypted without it`);
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, randomBytes(32).toString('hex') + '\n');
      } finally {
        closeSync(fd);
      }
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError('ERR_STORE_MASTER_KEY', `Cannot create ${path}`, { cause });
    }
  }
  chmodSync(path, 0o600);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new StoreError('ERR_STORE_MASTER_KEY', `${path} must hold 64 hex characters`);
  return Buffer.from(text, 'hex');
}
