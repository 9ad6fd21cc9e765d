/**
 * ICE candidates a client names in a routed session are targets the media router sends
 * connectivity checks to: the realtime layer drops those the outbound policy refuses, in the SDP
 * a client sends and in trickled candidates, before the router sees them.
 */

/** The connection address of a candidate line (`candidate:…` or `a=candidate:…`), or undefined. */
export function candidateAddress(line: string): string | undefined {
  const body = line.trim().replace(/^a=/, '');
  if (!body.startsWith('candidate:')) return undefined;
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
  return body.split(/\s+/)[4];
}

/** Whether a candidate may be used: true for an address `refuse` does not name a rule for. Names (mDNS `.local`) are refused: the router would have to resolve them. */
export function candidateAllowed(line: string, refuse: (address: string) => string | null): boolean {
  const address = candidateAddress(line);
  if (address === undefined) return true; // not a candidate (end-of-candidates and the like)
  return refuse(address) === null;
}

/**
 * The SDP without the `a=candidate` lines whose address the policy refuses; `dropped` counts them.
 * Line endings are kept as they were.
 */
export function filterSdpCandidates(sdp: string, refuse: (address: string) => string | null): { sdp: string; dropped: number } {
  let dropped = 0;
  const lines = sdp.split(/(?<=\n)/);
  const kept = lines.filter((l) => {
    if (!/^a=candidate:/.test(l)) return true;
    if (candidateAllowed(l, refuse)) return true;
    dropped++;
    return false;
  });
  return { sdp: kept.join(''), dropped };
}
