import type { SipGatewayMetrics } from './gateway.js';

/**
 * The SIP gateway's counters in Prometheus text format, appended to `/metrics`:
 * `tokhost_sip_calls` (calls in progress) and `tokhost_sip_rtp_dropped_packets_total` by
 * `reason`: `source` (not from the address and port of the far end's SDP: a third party
 * sending to the call's RTP port, or a NAT'd far end without `sipRtpLatching`) and `srtp_auth`
 * (failed SRTP authentication on a `secure: true` call).
 */
export function sipMetricsText(m: SipGatewayMetrics): string {
  return [
    '# HELP tokhost_sip_calls SIP calls in progress.',
    '# TYPE tokhost_sip_calls gauge',
    `tokhost_sip_calls ${m.calls}`,
    '# HELP tokhost_sip_rtp_dropped_packets_total Inbound RTP packets of SIP calls that were dropped: from another address than the SDP answer named (source), or failing SRTP authentication (srtp_auth).',
    '# TYPE tokhost_sip_rtp_dropped_packets_total counter',
    `tokhost_sip_rtp_dropped_packets_total{reason="source"} ${m.rtpDroppedSource}`,
    `tokhost_sip_rtp_dropped_packets_total{reason="srtp_auth"} ${m.rtpRejectedSrtp}`,
    '',
  ].join('\n');
}
