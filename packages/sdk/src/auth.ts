/**
 * The two credential kinds and what each signs: the short-lived REST JWT (reference §1.3, §1.5) and
 * client tokens (§5.3), plus legacy `T1==` tokens (§5.2) for key/secret credentials.
 *
 * - {@link TokenSigner}: a project's API key and secret; HS256, REST auth in `X-OPENTOK-AUTH`.
 * - {@link ApplicationSigner}: an application ID (UUID) and its RSA private key, as Vonage accounts
 *   have had since 2024; RS256, REST auth in `Authorization: Bearer`, with the claims opentok-node
 *   2.23's Vonage mode writes (`shared/reference/vonage-video-api.md`).
 *
 * Token generation is on the hot path of most apps (one token per join), so the signers keep the
 * key prepared, precompute the base64url JOSE header and write the claims JSON by template instead
 * of building and serialising an object.
 */
import { createHmac, createPrivateKey, randomUUID, sign as rsaSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { stringify as formEncode } from 'node:querystring';
import { LIMITS } from '@tokhost/protocol';
import type { Role } from '@tokhost/protocol';
import { ArgumentError } from './errors.js';

/** `{"alg":"HS256","typ":"JWT"}` in base64url, the header opentok-node writes. */
const JOSE_HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}', 'utf8').toString('base64url');
/** `{"alg":"RS256","typ":"JWT"}` in base64url, the header opentok-node's Vonage mode (jsonwebtoken) writes. */
const JOSE_HEADER_RS256 = Buffer.from('{"alg":"RS256","typ":"JWT"}', 'utf8').toString('base64url');

/** Claims that vary per client token; everything else is fixed by the signer. */
export interface ClientTokenInput {
  sessionId: string;
  role: Role;
  /** Creation time, seconds since the epoch. */
  createTime: number;
  /** Expiry, seconds since the epoch. */
  expireTime: number;
  /** Connection data, omitted from the token when `undefined`. */
  data: string | undefined;
  /** Space-joined layout classes (`""` when none). */
  initialLayoutClassList: string;
  nonce: number;
}

/** What the transport and the token generator need from a set of credentials. */
interface CredentialSigner {
  /** `"project"`: API key + secret (HS256). `"application"`: application ID + private key (RS256). */
  readonly kind: 'project' | 'application';
  /** A fresh REST JWT (what `OpenTok#generateJwt` returns). */
  projectJwt(nowSeconds?: number): string;
  /** The header that authenticates one REST request, with a fresh JWT. */
  authHeader(): readonly [name: string, value: string];
  /** A JWT client token. */
  clientJwt(t: ClientTokenInput): string;
}

/** Signs project-auth JWTs and client tokens for one API key/secret pair. */
export class TokenSigner implements CredentialSigner {
  readonly kind = 'project';
  readonly #apiKey: string;
  readonly #secret: Buffer;
  readonly #issJson: string;

  constructor(apiKey: string, apiSecret: string) {
    this.#apiKey = apiKey;
    this.#secret = Buffer.from(apiSecret, 'utf8');
    this.#issJson = JSON.stringify(apiKey);
  }

  /**
   * A fresh `X-OPENTOK-AUTH` token: claims `iss`, `ist: "project"`, `iat`, `exp = iat + 300`, `jti`.
   * A new `jti` on every call lets a server reject replays without the SDK keeping state.
   */
  projectJwt(nowSeconds = Math.floor(Date.now() / 1000)): string {
    const exp = nowSeconds + LIMITS.restJwtLifetimeSeconds;
    const payload = `{"iss":${this.#issJson},"ist":"project","iat":${nowSeconds},"exp":${exp},"jti":"${randomUUID()}"}`;
    return this.#sign(payload);
  }

  authHeader(): readonly [string, string] {
    return ['X-OPENTOK-AUTH', this.projectJwt()];
  }

  /**
   * A JWT client token with the claims, in the order, opentok-node 2.23 writes them: `iss`, `ist`,
   * `iat`, `exp`, `session_id`, `create_time`, `nonce`, `role`, `expire_time`, `connection_data`
   * (only with data), `initial_layout_class_list`, `scope`.
   */
  clientJwt(t: ClientTokenInput): string {
    const data = t.data === undefined ? '' : `,"connection_data":${JSON.stringify(t.data)}`;
    const payload =
      `{"iss":${this.#issJson},"ist":"project","iat":${t.createTime},"exp":${t.expireTime},` +
      `"session_id":${JSON.stringify(t.sessionId)},"create_time":${t.createTime},"nonce":${t.nonce},` +
      `"role":"${t.role}","expire_time":${t.expireTime}${data},` +
      `"initial_layout_class_list":${JSON.stringify(t.initialLayoutClassList)},"scope":"session.connect"}`;
    return this.#sign(payload);
  }

  /**
   * A legacy `T1==` token: base64(`partner_id=<key>&sig=<hex HMAC-SHA1>:<dataString>`), the data
   * string form-encoded in opentok-node's field order.
   */
  clientT1(t: ClientTokenInput): string {
    const fields: Record<string, string | number> = {
      session_id: t.sessionId,
      create_time: t.createTime,
      nonce: t.nonce,
      role: t.role,
      expire_time: t.expireTime,
    };
    if (t.data !== undefined) fields['connection_data'] = t.data;
    fields['initial_layout_class_list'] = t.initialLayoutClassList;
    fields['scope'] = 'session.connect';
    const dataString = formEncode(fields);
    const sig = createHmac('sha1', this.#secret).update(dataString, 'utf8').digest('hex');
    return 'T1==' + Buffer.from(`partner_id=${this.#apiKey}&sig=${sig}:${dataString}`, 'utf8').toString('base64');
  }

  #sign(payloadJson: string): string {
    const signingInput = JOSE_HEADER + '.' + Buffer.from(payloadJson, 'utf8').toString('base64url');
    return signingInput + '.' + createHmac('sha256', this.#secret).update(signingInput, 'latin1').digest('base64url');
  }
}

/** UUID of an application, the form opentok-node 2.23 looks for to switch to its Vonage mode. */
const APPLICATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PEM_PRIVATE_KEY = /^\s*-----BEGIN (RSA )?PRIVATE KEY-----/;

/** The smallest RSA key the Vonage SDKs (and Tokhost servers) accept. */
export const MIN_RSA_BITS = 2048;

/**
 * Which kind of credentials `(apiKey, apiSecret)` are. Application credentials are an application ID
 * and a PEM private key: opentok-node 2.23 switches on a UUID and a PKCS#8 PEM (`-----BEGIN PRIVATE
 * KEY`); a PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY`) is accepted here too, since `openssl genrsa`
 * writes that form. Anything else is a key and secret.
 * @throws {ArgumentError} for a PEM that cannot be application credentials (a non-UUID key, a public key …).
 */
export function credentialKind(apiKey: string, apiSecret: string): 'project' | 'application' {
  const uuid = APPLICATION_ID.test(apiKey);
  if (PEM_PRIVATE_KEY.test(apiSecret)) {
    if (!uuid) throw new ArgumentError('apiKey must be an application ID (a UUID) when apiSecret is a private key');
    return 'application';
  }
  if (/^\s*-----BEGIN /.test(apiSecret)) {
    throw new ArgumentError('apiSecret is a PEM but not a private key: application credentials need "-----BEGIN PRIVATE KEY" (PKCS#8) or "-----BEGIN RSA PRIVATE KEY"');
  }
  return 'project';
}

/**
 * Signs REST JWTs and client tokens with an application's RSA private key (RS256), with the claims
 * opentok-node 2.23 writes in its Vonage mode.
 */
export class ApplicationSigner implements CredentialSigner {
  readonly kind = 'application';
  readonly #key: KeyObject;
  readonly #appIdJson: string;

  /**
   * @param applicationId The application ID (a UUID).
   * @param privateKeyPem The application's RSA private key, PEM (PKCS#8 or PKCS#1).
   * @throws {ArgumentError} with a message naming `apiSecret` when the PEM is not an RSA private key of at least 2048 bits.
   */
  constructor(applicationId: string, privateKeyPem: string) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: privateKeyPem, format: 'pem' });
    } catch (cause) {
      throw new ArgumentError(`apiSecret is not a readable PEM private key (${cause instanceof Error ? cause.message : String(cause)})`);
    }
    if (key.asymmetricKeyType !== 'rsa') throw new ArgumentError(`apiSecret must be an RSA private key (got ${key.asymmetricKeyType ?? 'unknown'})`);
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new ArgumentError(`apiSecret must be an RSA key of at least ${MIN_RSA_BITS} bits (got ${bits})`);
    this.#key = key;
    this.#appIdJson = JSON.stringify(applicationId);
  }

  /** Claims `iss`, `ist: "project"`, `iat`, `exp = iat + 300`, `application_id`, `jti`, in opentok-node's order. */
  projectJwt(nowSeconds = Math.floor(Date.now() / 1000)): string {
    const exp = nowSeconds + LIMITS.restJwtLifetimeSeconds;
    const payload =
      `{"iss":${this.#appIdJson},"ist":"project","iat":${nowSeconds},"exp":${exp},` +
      `"application_id":${this.#appIdJson},"jti":"${randomUUID()}"}`;
    return this.#sign(payload);
  }

  authHeader(): readonly [string, string] {
    return ['Authorization', `Bearer ${this.projectJwt()}`];
  }

  /**
   * A client token with the claims, in the order, opentok-node 2.23's Vonage mode (and
   * `@vonage/video`'s `generateClientToken`) writes: `scope`, `session_id`, `role`,
   * `initial_layout_class_list`, `exp`, `sub: "video"`, `acl`, `connection_data` (only with data),
   * `jti`, `iat`, `application_id`. No `nonce`, `create_time` or `expire_time`.
   */
  clientJwt(t: ClientTokenInput): string {
    const data = t.data === undefined ? '' : `,"connection_data":${JSON.stringify(t.data)}`;
    const payload =
      `{"scope":"session.connect","session_id":${JSON.stringify(t.sessionId)},"role":"${t.role}",` +
      `"initial_layout_class_list":${JSON.stringify(t.initialLayoutClassList)},"exp":${t.expireTime},` +
      `"sub":"video","acl":{"paths":{"/session/**":{}}}${data},"jti":"${randomUUID()}","iat":${t.createTime},` +
      `"application_id":${this.#appIdJson}}`;
    return this.#sign(payload);
  }

  #sign(payloadJson: string): string {
    const signingInput = JOSE_HEADER_RS256 + '.' + Buffer.from(payloadJson, 'utf8').toString('base64url');
    // RSASSA-PKCS1-v1_5 with SHA-256 (RS256) is node:crypto's default for an RSA key.
    return signingInput + '.' + rsaSign('sha256', Buffer.from(signingInput, 'latin1'), this.#key).toString('base64url');
  }
}

/** Either kind of credentials; `kind` tells them apart. */
export type Signer = TokenSigner | ApplicationSigner;
