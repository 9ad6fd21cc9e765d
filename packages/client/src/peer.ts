import type { RtIceCandidate, RtIceServer, RtPeerEnd, RtSessionDescription } from '@tokhost/protocol';
import { opusSdp, sdpWantsStereo } from './media.js';

export interface PeerSignaling {
  sendSdp(description: RtSessionDescription): void;
  sendIce(candidate: RtIceCandidate | null): void;
}

/**
 * One RTCPeerConnection of a publisher→subscriber link, with trickle ICE. Remote candidates that
 * arrive before the remote description are held until it is set.
 */
export class PeerLink {
  readonly pc: RTCPeerConnection;
  private early: RTCIceCandidateInit[] = [];
  private haveRemote = false;
  closed = false;
  /** Rewrites this end's offer before it is applied and sent (the publisher's Opus settings). */
  mungeLocal: ((sdp: string) => string) | undefined;

  constructor(
    readonly peerId: string,
    readonly end: RtPeerEnd,
    iceServers: RtIceServer[],
    private readonly signaling: PeerSignaling,
    /** Extra RTCPeerConnection settings (e2ee's `encodedInsertableStreams` fallback). */
    extra: Record<string, unknown> = {},
  ) {
    this.pc = new RTCPeerConnection({ iceServers: iceServers as RTCIceServer[], ...extra });
    this.pc.onicecandidate = (ev) => {
      if (this.closed) return;
      this.signaling.sendIce(ev.candidate ? { candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid, sdpMLineIndex: ev.candidate.sdpMLineIndex } : null);
    };
  }

  /** Publisher end: offer to the subscriber. */
  async offer(): Promise<void> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription({ type: 'offer', sdp: this.mungeLocal ? this.mungeLocal(offer.sdp ?? '') : offer.sdp });
    this.signaling.sendSdp({ type: 'offer', sdp: this.pc.localDescription!.sdp });
  }

  async onRemoteDescription(d: RtSessionDescription): Promise<void> {
    if (this.closed) return;
    await this.pc.setRemoteDescription(d);
    this.haveRemote = true;
    for (const c of this.early.splice(0)) await this.pc.addIceCandidate(c).catch(() => undefined);
    if (d.type === 'offer') {
      const answer = await this.pc.createAnswer();
      // A stereo offer (OpenTok.js `enableStereo`) needs a stereo answer, or the receiver decodes mono.
      await this.pc.setLocalDescription({ type: 'answer', sdp: sdpWantsStereo(d.sdp) ? opusSdp(answer.sdp ?? '', { stereo: true }) : answer.sdp });
      this.signaling.sendSdp({ type: 'answer', sdp: this.pc.localDescription!.sdp });
    }
  }

  async onRemoteCandidate(c: RtIceCandidate | null): Promise<void> {
    if (this.closed || c === null) return;
    const init: RTCIceCandidateInit = { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null };
    if (!this.haveRemote) this.early.push(init);
    else await this.pc.addIceCandidate(init).catch(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
  }
}
