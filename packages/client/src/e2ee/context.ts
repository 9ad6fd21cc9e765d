import { OTError } from '../errors.js';
import type { FromWorker, ToWorker, TransformOptions } from './worker.js';
import { e2eeWorkerSource } from './worker.js';

/** OpenTok.js: a secret is a string of 8 to 256 characters. */
export function isValidEncryptionSecret(secret: unknown): secret is string {
  return typeof secret === 'string' && secret.length >= 8 && secret.length <= 256;
}

export const invalidSecret = (why: string) => new OTError('OT_INVALID_ENCRYPTION_SECRET', 1011, `encryptionSecret ${why}: it must be a string of 8 to 256 characters`);

/** How long frames under the previous secret still decrypt after `setEncryptionSecret`. */
export const PREVIOUS_KEY_GRACE_MS = 10_000;
/**
 * How long after `setEncryptionSecret` this client still sends under the previous secret, while
 * already decrypting under both: clients that switch within this delay of each other lose no frame.
 */
export const SEND_SWITCH_DELAY_MS = 1000;
/**
 * PBKDF2 rounds turning the secret (a passphrase) into the SFrame base key; the salt is the
 * session ID, so one secret gives unrelated keys in different sessions.
 */
const PBKDF2_ITERATIONS = 100_000;

type Mode = 'script' | 'streams';

/**
 * The SFrame base key of `secret` in `sessionId` (PBKDF2-HMAC-SHA256, 16 bytes). Exported so the
 * session can start it while the WebSocket connects.
 */
export async function deriveBaseKey(secret: string, sessionId: string): Promise<ArrayBuffer> {
  const raw = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), 'PBKDF2', false, ['deriveBits']);
  return crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new TextEncoder().encode(`tokhost-e2ee/v1 ${sessionId}`), iterations: PBKDF2_ITERATIONS }, raw, 128);
}

function transformMode(): Mode | null {
  if (typeof Worker !== 'function' || typeof crypto === 'undefined' || !crypto.subtle) return null;
  if (typeof (globalThis as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform === 'function') return 'script';
  if (typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype) return 'streams';
  return null;
}

/** OpenTok.js `OT.hasEndToEndEncryptionSupport()`: encoded transforms, workers and WebCrypto. */
export function hasEndToEndEncryptionSupport(): boolean {
  return transformMode() !== null;
}

/** `RTCPeerConnection` options an encrypted link needs (the `createEncodedStreams` fallback only). */
export function e2eePeerConfig(): { encodedInsertableStreams?: boolean } {
  return transformMode() === 'streams' ? { encodedInsertableStreams: true } : {};
}

type EncodedStreamsEndpoint = { createEncodedStreams(): { readable: ReadableStream; writable: WritableStream } };
type ScriptTransformCtor = new (worker: Worker, options: TransformOptions) => unknown;

/**
 * The end-to-end encryption of one connected session: the worker holding the keys, the secret
 * (re)keying, and the transforms on each routed sender and receiver.
 */
export class E2eeContext {
  private readonly worker: Worker;
  private readonly url: string;
  private readonly mode: Mode;
  private secretId = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly acks = new Map<number, () => void>();
  private readonly listeners = new Map<string, (state: 'mismatch' | 'match', kind: 'audio' | 'video') => void>();
  private counter = 0;

  constructor(private readonly sessionId: string) {
    const mode = transformMode();
    if (!mode) throw new OTError('OT_UNSUPPORTED_BROWSER', 1013, 'this browser cannot encrypt media end to end (no encoded transforms or WebCrypto)');
    this.mode = mode;
    this.url = URL.createObjectURL(new Blob([e2eeWorkerSource()], { type: 'text/javascript' }));
    this.worker = new Worker(this.url, { name: 'tokhost-e2ee' });
    this.worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.type === 'secretSet') {
        this.acks.get(m.secretId)?.();
        this.acks.delete(m.secretId);
      } else this.listeners.get(m.id)?.(m.type, m.kind);
    };
  }

  /**
   * Derive the base key from `secret` (or take `derived`, already started from it) and make it
   * current; the previous one stays for a grace period. Resolves once the worker has it.
   */
  setSecret(secret: string, derived?: Promise<ArrayBuffer>): Promise<void> {
    const run = async () => {
      const base = await (derived ?? deriveBaseKey(secret, this.sessionId));
      const secretId = ++this.secretId;
      await new Promise<void>((resolve) => {
        this.acks.set(secretId, resolve);
        this.post({ type: 'secret', base, secretId, graceMs: PREVIOUS_KEY_GRACE_MS, switchDelayMs: SEND_SWITCH_DELAY_MS }, [base]);
      });
    };
    // Calls apply in order even though each derivation is asynchronous.
    const p = this.chain.then(run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Encrypt what `sender` sends. */
  attachSender(sender: RTCRtpSender, kind: 'audio' | 'video'): void {
    this.attach(sender, { op: 'encrypt', kind, id: `s${++this.counter}` });
  }

  /** Decrypt what `receiver` gets; `onState` hears `mismatch` when frames stop decrypting and `match` when they decrypt again. */
  attachReceiver(receiver: RTCRtpReceiver, kind: 'audio' | 'video', onState: (state: 'mismatch' | 'match', kind: 'audio' | 'video') => void): () => void {
    const id = `r${++this.counter}`;
    this.listeners.set(id, onState);
    this.attach(receiver, { op: 'decrypt', kind, id });
    return () => this.listeners.delete(id);
  }

  private attach(end: RTCRtpSender | RTCRtpReceiver, options: TransformOptions): void {
    if (this.mode === 'script') {
      const Ctor = (globalThis as unknown as { RTCRtpScriptTransform: ScriptTransformCtor }).RTCRtpScriptTransform;
      (end as unknown as { transform: unknown }).transform = new Ctor(this.worker, options);
      return;
    }
    const { readable, writable } = (end as unknown as EncodedStreamsEndpoint).createEncodedStreams();
    this.post({ type: 'streams', readable, writable, options }, [readable as unknown as Transferable, writable as unknown as Transferable]);
  }

  private post(msg: ToWorker, transfer: Transferable[]): void {
    this.worker.postMessage(msg, transfer);
  }

  close(): void {
    this.worker.terminate();
    URL.revokeObjectURL(this.url);
    this.listeners.clear();
    for (const done of this.acks.values()) done();
    this.acks.clear();
  }
}
