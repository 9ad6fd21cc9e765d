/**
 * The media router (SFU) contract. Routed sessions publish to and subscribe from the router; the
 * realtime layer relays SDP and trickle-ICE candidates between browsers and this interface.
 * Engines live beside this file (e.g. `ndc/` for node-datachannel) and all run the shared
 * contract suite in `test/media/router.contract.ts`.
 */
export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface MediaRouter {
  /** The room for a routed session, created on first use. */
  room(sessionId: string): Promise<MediaRoom>;
  /** Counters for /metrics. */
  metrics(): MediaMetrics;
  readonly closed: boolean;
  /** Closes every room, publisher and subscriber, and stops the workers. */
  close(): Promise<void>;
}

export interface MediaRoom {
  readonly sessionId: string;
  readonly closed: boolean;
  /**
   * Accept a publisher's offer. Candidates the router gathers are passed to `onCandidate`.
   */
  publish(options: { publisherId: string; offerSdp: string; onCandidate: (c: IceCandidateInit) => void }): Promise<{ answerSdp: string }>;
  addPublisherCandidate(publisherId: string, candidate: IceCandidateInit): Promise<void>;
  /** Start forwarding a publisher to a subscriber: the router makes the offer. */
  subscribe(options: {
    subscriberId: string;
    publisherId: string;
    audio: boolean;
    video: boolean;
    onCandidate: (c: IceCandidateInit) => void;
    /** Audio fallback and quality events for this subscriber. */
    onEvent?: (event: SubscriberMediaEvent) => void;
  }): Promise<{ offerSdp: string }>;
  setSubscriberAnswer(subscriberId: string, answerSdp: string): Promise<void>;
  addSubscriberCandidate(subscriberId: string, candidate: IceCandidateInit): Promise<void>;
  /** `subscribeToAudio/subscribeToVideo`: false stops the forwarding of that kind. */
  setSubscriberMedia(subscriberId: string, media: { audio?: boolean; video?: boolean }): Promise<void>;
  /** Force-mute: stop (or resume) forwarding the publisher's audio to everyone. */
  setPublisherAudioMuted(publisherId: string, muted: boolean): Promise<void>;
  unpublish(publisherId: string): Promise<void>;
  unsubscribe(subscriberId: string): Promise<void>;
  close(): Promise<void>;
}

export type SubscriberMediaEvent =
  | { type: 'videoDisableWarning' }
  | { type: 'videoDisableWarningLifted' }
  | { type: 'videoDisabled'; reason: 'quality' }
  | { type: 'videoEnabled'; reason: 'quality' };

export interface MediaMetrics {
  workers: { pid: number; rooms: number; publishers: number; subscribers: number; packetsPerSecond: number; bitrateBps: number; lossRate: number }[];
  sessions: { sessionId: string; publishers: number; subscribers: number; packetsPerSecond: number; bitrateBps: number; lossRate: number }[];
}
