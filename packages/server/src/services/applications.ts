import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { ApplicationRecord, Store } from '../storage/store.js';
import { TokhostError, type ApplicationErrorCode } from '../errors.js';

/** Errors of the application service (CLI). */
export class ApplicationError extends TokhostError<ApplicationErrorCode> {
  override readonly name = 'ApplicationError';
}

/** Application IDs are UUIDs (any version), as Vonage issues them; stored lowercase. */
export const APPLICATION_ID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Smallest RSA modulus accepted, bits (what `@vonage/video`'s jsonwebtoken requires too). */
export const MIN_RSA_BITS = 2048;

/** Whether `id` has the shape of an application ID (not whether it exists). */
export function isApplicationId(id: string): boolean {
  return APPLICATION_ID_PATTERN.test(id);
}

/**
 * Parse an RSA public key for an application: SPKI PEM (`BEGIN PUBLIC KEY`), also the PKCS#1
 * `BEGIN RSA PUBLIC KEY` form and an X.509 certificate's key, all normalised to SPKI PEM. Refuses
 * anything that is not RSA, shorter than {@link MIN_RSA_BITS}, or a private key (which must never
 * reach the server).
 */
export function parsePublicKey(pem: string): { key: KeyObject; spki: string } {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN')) throw new ApplicationError('ERR_APPLICATION_INVALID', 'public key must be a PEM text (-----BEGIN PUBLIC KEY-----)');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new ApplicationError('ERR_APPLICATION_INVALID', 'public key is a private key: give the public half (openssl pkey -in key.pem -pubout) and keep the private key with the app');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new ApplicationError('ERR_APPLICATION_INVALID', `public key is not a readable PEM public key (${(cause as Error).message})`, { cause });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new ApplicationError('ERR_APPLICATION_INVALID', `public key must be an RSA key (RS256), not ${key.asymmetricKeyType ?? 'unknown'}`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw new ApplicationError('ERR_APPLICATION_INVALID', `public key has ${bits} bits; RSA keys need at least ${MIN_RSA_BITS}`);
  return { key, spki: key.export({ type: 'spki', format: 'pem' }) as string };
}

/** Options of {@link createApplication}. */
export interface CreateApplicationOptions {
  /** The project it belongs to (must exist). */
  apiKey: string;
  /** RSA public key (PEM). Without it a 2048-bit key pair is generated and the private half returned once. */
  publicKey?: string;
  /** Default `Application <first 8 characters of the ID>`. */
  name?: string;
  /** Default a random UUID (v4). */
  applicationId?: string;
  now?: number;
}

/** What {@link createApplication} made: the record and, when the key pair was generated here, the private key (PKCS#8 PEM). */
export interface CreatedApplication {
  application: ApplicationRecord;
  privateKey?: string;
}

function generatePair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

/**
 * Create an application of a project. The private key, when generated, is returned and never
 * stored: show it once.
 *
 * @throws {ApplicationError} `ERR_APPLICATION_INVALID` for a bad key or ID, `ERR_APPLICATION_NOT_FOUND` for an unknown project
 * @example
 * const { application, privateKey } = createApplication(store, { apiKey: '12345678' });
 */
export function createApplication(store: Store, options: CreateApplicationOptions): CreatedApplication {
  const project = store.getProject(options.apiKey);
  if (!project) throw new ApplicationError('ERR_APPLICATION_NOT_FOUND', `Project ${options.apiKey} does not exist`);
  if (options.applicationId !== undefined && !isApplicationId(options.applicationId)) throw new ApplicationError('ERR_APPLICATION_INVALID', 'applicationId must be a UUID');
  const pair = options.publicKey === undefined ? generatePair() : undefined;
  const publicKey = pair ? pair.publicKey : parsePublicKey(options.publicKey!).spki;
  const applicationId = (options.applicationId ?? randomUUID()).toLowerCase();
  const application: ApplicationRecord = {
    applicationId,
    apiKey: project.apiKey,
    publicKey,
    name: options.name ?? `Application ${applicationId.slice(0, 8)}`,
    createdAt: options.now ?? Date.now(),
  };
  store.createApplication(application);
  return pair ? { application, privateKey: pair.privateKey } : { application };
}

/**
 * Replace an application's public key (key rotation). Tokens signed with the old private key stop
 * verifying at the next request. Without `publicKey` a new pair is generated and the private half
 * returned once.
 */
export function rotateApplicationKey(store: Store, applicationId: string, publicKey?: string): CreatedApplication {
  const id = applicationId.toLowerCase();
  if (!store.getApplication(id)) throw new ApplicationError('ERR_APPLICATION_NOT_FOUND', `Application ${applicationId} does not exist`);
  const pair = publicKey === undefined ? generatePair() : undefined;
  const updated = store.updateApplication(id, { publicKey: pair ? pair.publicKey : parsePublicKey(publicKey!).spki });
  if (!updated) throw new ApplicationError('ERR_APPLICATION_NOT_FOUND', `Application ${applicationId} does not exist`);
  return pair ? { application: updated, privateKey: pair.privateKey } : { application: updated };
}

/** Delete an application; its tokens stop working at the next request. */
export function deleteApplication(store: Store, applicationId: string): void {
  if (!store.deleteApplication(applicationId.toLowerCase())) throw new ApplicationError('ERR_APPLICATION_NOT_FOUND', `Application ${applicationId} does not exist`);
}
