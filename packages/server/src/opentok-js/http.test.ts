import { describe, expect, it } from 'vitest';
import { isMessagingPath, messagingSessionOf } from './http.js';

describe('the messaging socket path (cluster routing reads the session from it)', () => {
  const sid = '1_MX4xMjM0NTY3OH5-MTc5NjY4MTM4Mjk0Mn5tWW1kelFvdWZrd1o3ZlVGeEpwR1lDcnF-fg';

  it('names the session in the proxy form and the bare form, with the client\'s query', () => {
    expect(messagingSessionOf(`/127.0.0.1:3000/opentok-js/messaging/${sid}?socketId=abc&reconnect=true`)).toBe(sid);
    expect(messagingSessionOf(`/opentok-js/messaging/${encodeURIComponent(sid)}?socketId=abc`)).toBe(sid);
    expect(isMessagingPath(`/video.example.com/opentok-js/messaging/${sid}?socketId=abc`)).toBe(true);
  });

  it('the bare path is a messaging socket without a session; other paths are neither', () => {
    expect(isMessagingPath('/127.0.0.1:3000/opentok-js/messaging?socketId=abc')).toBe(true);
    expect(messagingSessionOf('/127.0.0.1:3000/opentok-js/messaging?socketId=abc')).toBeNull();
    for (const url of ['/rtc/v1?session=x', `/opentok-js/messaging/${sid}/more`, '/opentok-js/messagingX', '/opentok-js/messaging/%E0%A4%A']) {
      expect(messagingSessionOf(url)).toBeNull();
    }
    expect(isMessagingPath(`/opentok-js/messaging/${sid}/more`)).toBe(false);
    expect(isMessagingPath('/rtc/v1?session=x')).toBe(false);
  });
});
