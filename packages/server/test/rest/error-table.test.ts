import { describe, expect, it } from 'vitest';
import { TokhostError } from '../../src/errors.js';
import { restAnswer } from '../../src/http/errors.js';
import { LiveError } from '../../src/live/index.js';
import { ArchiveStateError } from '../../src/recording/archiver.js';
import { SipGatewayError } from '../../src/sip/gateway.js';
import { StoreError } from '../../src/storage/store.js';
import { ProjectError } from '../../src/services/projects.js';

// The REST answers of the errors the routes used to convert one by one (viaLive, recording(),
// gatewayError, the StoreError conflict case): the table answers each exactly as they did.
describe('ERROR_TABLE at the REST edge', () => {
  it('answers a REST code with its row, the error message and description', () => {
    const err = new TokhostError('ERR_SESSION_NOT_FOUND', 'Session not found', { description: 'Session 1_x does not exist in project 1234' });
    expect(restAnswer(err)).toEqual({ status: 404, code: 'ERR_SESSION_NOT_FOUND', body: { code: 404, message: 'Session not found', description: 'Session 1_x does not exist in project 1234' } });
    expect(restAnswer(new TokhostError('ERR_SESSION_NOT_ROUTED', 'Only routed sessions are allowed to initiate archives.'))).toEqual({
      status: 409,
      code: 'ERR_SESSION_NOT_ROUTED',
      body: { code: 15008, message: 'Only routed sessions are allowed to initiate archives.', description: 'Only routed sessions are allowed to initiate archives.' },
    });
    expect(restAnswer(new TokhostError('ERR_SESSION_NO_CLIENTS', 'No clients are connected to the session'))?.status).toBe(400);
  });

  it.each([
    [new LiveError('ERR_LIVE_CONNECTION_NOT_FOUND', 'Connection c1 is not connected to the session'), 404, 404, 'Connection not found'],
    [new LiveError('ERR_LIVE_STREAM_NOT_FOUND', 'Stream s1 is not in the session'), 404, 404, 'Stream not found'],
    [new ArchiveStateError('ERR_RECORDING_NOT_ACTIVE', 'Archive a1 is not recording'), 409, 409, 'Archive is not currently recording'],
    [new ArchiveStateError('ERR_RECORDING_STREAM_MODE', 'The archive was started with streamMode auto'), 405, 405, 'Unsupported Stream Mode'],
    [new ArchiveStateError('ERR_RECORDING_NOT_COMPOSED', 'Layouts apply to composed archives only'), 409, 409, 'Layouts apply to composed archives only'],
    [new SipGatewayError('ERR_SIP_UNSUPPORTED', 'sip.video: composed video to SIP endpoints needs the compositor', 'sip.video'), 501, 501, 'Not supported'],
    [new SipGatewayError('ERR_SIP_UNAVAILABLE', 'the SIP gateway is shut down'), 500, 500, 'SIP gateway unavailable'],
    [new StoreError('ERR_STORE_CONFLICT', 'archive a1 exists'), 409, 409, 'Conflict'],
  ])('%s: %i, body code %i, message %j, its own message as the description', (err, status, bodyCode, message) => {
    expect(restAnswer(err)).toEqual({ status, code: err.code, body: { code: bodyCode, message, description: err.message } });
  });

  it('has no row for the codes of errors a route must not let through (they answer 500)', () => {
    for (const err of [new ProjectError('ERR_PROJECT_NOT_FOUND', 'no project 1'), new StoreError('ERR_STORE_CLOSED', 'closed'), new SipGatewayError('ERR_SIP_DIAL_INVALID', 'sip.uri must name a user', 'sip.uri'), new Error('bug')]) {
      expect(restAnswer(err)).toBeUndefined();
    }
  });
});
