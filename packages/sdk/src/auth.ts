/**
 * HS256 signing for the two kinds of JWT the SDK makes: the short-lived `X-OPENTOK-AUTH` project
 * token for REST calls (reference §1.3) and client tokens (§5.3), plus legacy `T1==` tokens (§5.2).
 *
 * Token generation is on the hot path of most apps (one token per join), so the signer keeps the
 * secret as a prepared Buffer, precomputes the base64url JOSE header and writes the claims JSON by
 * template instead of building and serialising an object.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { stringify as formEncode } from 'node:querystring';
import { LIMITS } from '@tokhost/protocol';
import type { Role } from '@tokhost/protocol';

/** `{"alg":"HS256","typ":"JWT"}` in base64url, the header opentok-node writes. */
const JOSE_HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}', 'utf8').toString('base64url');

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

/** Signs project-auth JWTs and client tokens for one API key/secret pair. */
export class TokenSigner {
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
