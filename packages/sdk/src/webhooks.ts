/**
 * Verification of the signature a Tokhost server puts on its webhook (callback) requests.
 *
 * Header: `X-Tokhost-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(apiSecret, "<t>.<rawBody>")>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Options of {@link verifyWebhookSignature}. */
export interface VerifyWebhookOptions {
  /** Largest accepted distance between `t` and now, seconds. Default 300. */
  toleranceSeconds?: number;
  /** "Now" in unix seconds (for tests and replays). Default: the clock. */
  now?: number;
}

/** The request header carrying the signature. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Tokhost-Signature';

/**
 * Check a webhook's signature. Returns `false` (never throws) for a missing or malformed header, a
 * timestamp outside the tolerance or a wrong signature. Pass the body exactly as received (before
 * JSON parsing): the signature covers its bytes.
 *
 * @example
 * app.post('/tokhost/events', express.raw({ type: '*\/*' }), (req, res) => {
 *   if (!verifyWebhookSignature(req.body, req.get('X-Tokhost-Signature') ?? '', apiSecret)) return res.sendStatus(401);
 *   handle(JSON.parse(req.body.toString('utf8')));
 *   res.sendStatus(204);
 * });
 */
export function verifyWebhookSignature(
  rawBody: string | Buffer,
  signatureHeader: string,
  apiSecret: string,
  options: VerifyWebhookOptions = {},
): boolean {
  if (typeof signatureHeader !== 'string' || typeof apiSecret !== 'string' || apiSecret.length === 0) return false;
  let t: string | undefined;
  const signatures: string[] = [];
  for (const part of signatureHeader.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1') signatures.push(value);
  }
  if (t === undefined || !/^\d+$/.test(t) || signatures.length === 0) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > tolerance) return false;

  const hmac = createHmac('sha256', apiSecret);
  hmac.update(`${t}.`, 'utf8');
  hmac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  const expected = hmac.digest();
  let ok = false;
  for (const sig of signatures) {
    if (!/^[0-9a-f]{64}$/.test(sig)) continue;
    // Compare every candidate (no early exit) in constant time per candidate.
    if (timingSafeEqual(Buffer.from(sig, 'hex'), expected)) ok = true;
  }
  return ok;
}

/**
 * Produce a signature header value (what a Tokhost server sends); useful for testing receivers.
 */
export function signWebhook(rawBody: string | Buffer, apiSecret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const hmac = createHmac('sha256', apiSecret);
  hmac.update(`${timestamp}.`, 'utf8');
  hmac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  return `t=${timestamp},v1=${hmac.digest('hex')}`;
}
