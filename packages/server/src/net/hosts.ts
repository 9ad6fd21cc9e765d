/**
 * True when a listen host only accepts connections from this machine (a loopback name or
 * address). `0.0.0.0` and `::` are not: they accept every interface.
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}
