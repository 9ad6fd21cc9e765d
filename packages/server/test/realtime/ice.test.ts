import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { iceServersFor } from '../../src/realtime/ice.js';

describe('iceServersFor (TURN REST API credentials)', () => {
  const servers = [{ urls: 'stun:stun.example.com:3478' }, { urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'] }, { urls: 'turn:static.example.com', username: 'u', credential: 'p' }];

  it('passes servers through unchanged without a secret', () => {
    expect(iceServersFor({ iceServers: servers, turnSecret: null, turnTtlSeconds: 60 }, 'c1')).toEqual(servers);
  });

  it('gives TURN entries without a username "<expiry>:<connectionId>" and base64 HMAC-SHA1 (coturn use-auth-secret)', () => {
    const out = iceServersFor({ iceServers: servers, turnSecret: 'shared-secret-123456', turnTtlSeconds: 3600 }, 'conn-42', 1_000_000);
    expect(out[0]).toEqual(servers[0]);
    expect(out[1]!.username).toBe('1003600:conn-42');
    expect(out[1]!.credential).toBe(createHmac('sha1', 'shared-secret-123456').update('1003600:conn-42').digest('base64'));
    expect(out[1]!.urls).toEqual(servers[1]!.urls);
    // Explicit credentials are the operator's choice and stay as configured.
    expect(out[2]).toEqual(servers[2]);
  });
});
