import { describe, expect, it } from 'vitest';
import { RT_ERRORS } from '@tokhost/protocol';
import { ERRORS, OTError } from '../src/errors.js';

describe('OpenTok.js error names and codes', () => {
  it('ICE failures are OT_ICE_WORKFLOW_FAILED: 1553 for a publisher, 1554 for a subscriber', () => {
    expect([ERRORS.publisherIceFailed('x').name, ERRORS.publisherIceFailed('x').code]).toEqual(['OT_ICE_WORKFLOW_FAILED', 1553]);
    expect([ERRORS.subscriberIceFailed('x').name, ERRORS.subscriberIceFailed('x').code]).toEqual(['OT_ICE_WORKFLOW_FAILED', 1554]);
  });

  it('a failed publish is OT_STREAM_CREATE_FAILED (1500), the name the server sends for ERR_RT_MEDIA', () => {
    expect([ERRORS.unableToPublish('x').name, ERRORS.unableToPublish('x').code]).toEqual(['OT_STREAM_CREATE_FAILED', 1500]);
    expect(RT_ERRORS.ERR_RT_MEDIA).toEqual({ otName: 'OT_STREAM_CREATE_FAILED', otCode: 1500 });
    const e = OTError.fromWire({ code: 'ERR_RT_MEDIA', name: RT_ERRORS.ERR_RT_MEDIA.otName, otCode: 1500, message: 'router down' } as Parameters<typeof OTError.fromWire>[0]);
    expect([e.name, e.code, e.tokhostCode, e.message]).toEqual(['OT_STREAM_CREATE_FAILED', 1500, 'ERR_RT_MEDIA', 'router down']);
    // Other wire names pass through unchanged.
    expect(OTError.fromWire({ code: 'ERR_RT_TOKEN_SIGNATURE', name: 'OT_AUTHENTICATION_ERROR', otCode: 1004, message: 'bad' } as Parameters<typeof OTError.fromWire>[0]).name).toBe('OT_AUTHENTICATION_ERROR');
  });
});
