/**
 * Routed-mode adapter for the realtime layer: maps the client protocol's peer links
 * (`@tokhost/protocol` realtime messages) onto a `MediaRoom`, so the realtime code for a routed
 * session is a handful of calls. Nothing here knows about WebSockets; the realtime layer passes
 * a sink per connection that turns calls into its `sdp`/`ice` server messages (with `end: 'server'`).
 *
 * Peer-link IDs follow the protocol: the publisher's link to the router is identified by the
 * stream ID, a subscriber's link by its subscriber ID. The router offers to subscribers, so the
 * browser SDK's subscriber side is the same in both media modes; a routed publisher sends its
 * offer in the `publish` request and gets the answer back as an `sdp` message.
 */
import type { RtIceCandidate, RtSessionDescription } from '@tokhost/protocol';
import { MediaError } from './errors.js';
import type { IceCandidateInit, MediaRoom, MediaRouter, PublisherMediaEvent, SubscriberMediaEvent } from './types.js';

/** Where the adapter sends what the router says to one client connection. */
export interface RoutedPeerSink {
  /** Send `{ type: 'sdp', peerId, end: 'server', description }`. */
  sdp(peerId: string, description: RtSessionDescription): void;
  /** Send `{ type: 'ice', peerId, end: 'server', candidate }`. */
  ice(peerId: string, candidate: RtIceCandidate): void;
}

function toRt(c: IceCandidateInit): RtIceCandidate {
  return { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null };
}

/**
 * The media side of one routed session.
 *
 * @example
 * const media = await RoutedSessionMedia.open(router, sessionId);
 * // publish request with req.offer:
 * await media.publish(streamId, req.offer, sinkFor(conn), (e) => …);
 * // subscribe request:
 * await media.subscribe(subscriberId, streamId, { audio: req.audio, video: req.video }, sinkFor(conn), (e) => conn.send(…));
 * // sdp / ice requests:
 * await media.sdp(req.peerId, req.end, req.description);
 * await media.ice(req.peerId, req.end, req.candidate);
 */
export class RoutedSessionMedia {
  private readonly subscriberOf = new Map<string, string>();

  private constructor(readonly room: MediaRoom) {}

  /** The router room of `sessionId` (created on the least loaded worker on first use). */
  static async open(router: MediaRouter, sessionId: string): Promise<RoutedSessionMedia> {
    return new RoutedSessionMedia(await router.room(sessionId));
  }

  /**
   * A routed publisher's offer: the answer goes to the sink as an `sdp` message for peer link
   * `streamId` (and is also returned), followed by the router's candidates.
   */
  async publish(streamId: string, offer: RtSessionDescription, sink: RoutedPeerSink, onEvent?: (e: PublisherMediaEvent) => void, audioFallback = false): Promise<RtSessionDescription> {
    if (offer?.type !== 'offer' || typeof offer.sdp !== 'string') throw new MediaError('ERR_MEDIA_INVALID_SDP', 'offer must be {type: "offer", sdp}');
    const { answerSdp } = await this.room.publish({
      publisherId: streamId,
      offerSdp: offer.sdp,
      onCandidate: (c) => sink.ice(streamId, toRt(c)),
      ...(onEvent ? { onEvent } : {}),
      audioFallback,
    });
    const answer: RtSessionDescription = { type: 'answer', sdp: answerSdp };
    sink.sdp(streamId, answer);
    return answer;
  }

  /** Starts forwarding `streamId` to a subscriber: the router's offer goes to the sink. */
  async subscribe(
    subscriberId: string,
    streamId: string,
    media: { audio: boolean; video: boolean },
    sink: RoutedPeerSink,
    onEvent?: (e: SubscriberMediaEvent) => void,
  ): Promise<void> {
    const { offerSdp } = await this.room.subscribe({
      subscriberId,
      publisherId: streamId,
      audio: media.audio,
      video: media.video,
      onCandidate: (c) => sink.ice(subscriberId, toRt(c)),
      ...(onEvent ? { onEvent } : {}),
    });
    this.subscriberOf.set(subscriberId, streamId);
    sink.sdp(subscriberId, { type: 'offer', sdp: offerSdp });
  }

  /** An `sdp` request from a client: only a subscriber's answer is expected in routed sessions. */
  async sdp(peerId: string, end: 'publisher' | 'subscriber', description: RtSessionDescription): Promise<void> {
    if (end !== 'subscriber' || description?.type !== 'answer') {
      throw new MediaError('ERR_MEDIA_INVALID_STATE', 'in routed sessions only a subscriber sends SDP (its answer); a publisher offers in its publish request');
    }
    await this.room.setSubscriberAnswer(peerId, description.sdp);
  }

  /** An `ice` request: `end` says which link (publisher: peerId is the stream ID). `null` ends the candidates. */
  async ice(peerId: string, end: 'publisher' | 'subscriber', candidate: RtIceCandidate | null): Promise<void> {
    if (candidate === null || candidate.candidate === '') return; // end-of-candidates: nothing to do for libjuice
    const c: IceCandidateInit = { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null };
    if (end === 'publisher') await this.room.addPublisherCandidate(peerId, c);
    else await this.room.addSubscriberCandidate(peerId, c);
  }

  /** `subscribeToAudio/subscribeToVideo`. */
  subscriberMedia(subscriberId: string, media: { audio?: boolean; video?: boolean }): Promise<void> {
    return this.room.setSubscriberMedia(subscriberId, media);
  }

  /** Force-mute (and its undo) of a stream's audio. */
  muteStream(streamId: string, muted: boolean): Promise<void> {
    return this.room.setPublisherAudioMuted(streamId, muted);
  }

  /** The stream left (unpublished, force-unpublished, owner disconnected): its subscribers close too. */
  async unpublish(streamId: string): Promise<void> {
    for (const [sub, s] of this.subscriberOf) if (s === streamId) this.subscriberOf.delete(sub);
    await this.room.unpublish(streamId).catch(ignoreNotFound);
  }

  async unsubscribe(subscriberId: string): Promise<void> {
    this.subscriberOf.delete(subscriberId);
    await this.room.unsubscribe(subscriberId).catch(ignoreNotFound);
  }

  /** The session ended (last connection left). */
  close(): Promise<void> {
    this.subscriberOf.clear();
    return this.room.close();
  }
}

function ignoreNotFound(e: unknown): void {
  // Already gone (its publisher left first, or the peer failed): the caller's intent holds.
  if (e instanceof MediaError && (e.code === 'ERR_MEDIA_PUBLISHER_NOT_FOUND' || e.code === 'ERR_MEDIA_SUBSCRIBER_NOT_FOUND')) return;
  throw e;
}
