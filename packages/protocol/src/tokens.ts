import type { Role } from './rest.js';

/** Claims of a JWT client token as opentok-node 2.23 writes them (reference §5.3). */
export interface ClientTokenClaims {
  iss: string;
  ist: 'project';
  iat: number;
  exp?: number;
  session_id: string;
  create_time?: number;
  nonce?: number | string;
  role: Role;
  expire_time?: number;
  connection_data?: string;
  initial_layout_class_list?: string;
  scope: 'session.connect';
  jti?: string;
}

/** Claims of the `X-OPENTOK-AUTH` project JWT (reference §1.3). */
export interface ProjectAuthClaims {
  iss: string | number;
  ist?: 'project';
  iat: number;
  exp: number;
  jti?: string;
}

/** The decoded, verified content of a client token of either format. */
export interface VerifiedToken {
  format: 'jwt' | 't1';
  /** The project's API key (for an application's token: the project the application belongs to). */
  apiKey: string;
  /**
   * Set when the token was signed (RS256) by a Vonage-style application: its ID, which a client
   * may have been given in place of the API key (docs/applications.md).
   */
  applicationId?: string;
  sessionId: string;
  role: Role;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
  /** Creation, seconds since the epoch. */
  createdAt: number;
  connectionData: string;
  initialLayoutClassList: string[];
}
