/**
 * A client of an external recogniser that speaks the Vosk server WebSocket protocol
 * (alphacep/vosk-server, `websocket/asr_server.py`; also spoken by several Whisper servers):
 * one socket per stream; first a text message `{"config": {"sample_rate": 16000}}`, then binary
 * 16-bit little-endian mono PCM; the server answers each message with `{"partial": "…"}` or, at
 * the end of an utterance, `{"text": "…", "result": [...]}`; `{"eof": 1}` asks for the last
 * result, after which the server closes the socket.
 */
import { WebSocket } from 'ws';
import type { Recognition, RecognitionOptions, SpeechRecognizer } from './recognizer.js';

export interface VoskWebSocketOptions {
  /** `ws://` or `wss://` URL of the recogniser (the operator's; not checked against the outbound policy). */
  url: string;
  /** Languages the operator's model transcribes. Default `['en-US']`. */
  languages?: readonly string[];
  /** Default 16000. */
  sampleRate?: 8000 | 16000 | 24000;
  /** How long `end()` waits for the last result after `eof`. Default 30000 ms. */
  endTimeoutMs?: number;
}

export function createVoskWebSocketRecognizer(options: VoskWebSocketOptions): SpeechRecognizer {
  const sampleRate = options.sampleRate ?? 16000;
  const languages = options.languages ?? ['en-US'];
  return {
    name: 'vosk-websocket',
    sampleRate,
    languages,
    start(o: RecognitionOptions): Recognition {
      if (!languages.includes(o.languageCode)) throw new RangeError(`the recogniser at ${options.url} transcribes ${languages.join(', ')} (asked: ${o.languageCode})`);
      const ws = new WebSocket(options.url, { perMessageDeflate: false, handshakeTimeout: 6000 });
      const pending: Buffer[] = [];
      let closed = false;
      let lastPartial = '';
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.on('error', (err) => {
        if (!closed) o.onError(err);
      });
      ws.once('open', () => {
        ws.send(JSON.stringify({ config: { sample_rate: sampleRate } }));
        for (const b of pending.splice(0)) ws.send(b, { binary: true });
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary || closed) return;
        let msg: { partial?: unknown; text?: unknown };
        try {
          msg = JSON.parse(String(data)) as typeof msg;
        } catch {
          return;
        }
        if (typeof msg.text === 'string') {
          lastPartial = '';
          if (msg.text.trim()) o.onResult({ text: msg.text.trim(), isFinal: true });
        } else if (typeof msg.partial === 'string' && o.partials) {
          const p = msg.partial.trim();
          if (p && p !== lastPartial) o.onResult({ text: p, isFinal: false });
          lastPartial = p;
        }
      });
      const send = (b: Buffer | string) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(b, { binary: typeof b !== 'string' });
        else if (ws.readyState === WebSocket.CONNECTING && typeof b !== 'string') pending.push(b);
      };
      return {
        write: (pcm) => send(pcm),
        async end() {
          if (ws.readyState === WebSocket.CONNECTING) await new Promise((r) => ws.once('open', r));
          send('{"eof" : 1}');
          await Promise.race([done, new Promise((r) => setTimeout(r, options.endTimeoutMs ?? 30_000).unref())]);
          ws.close();
        },
        close() {
          closed = true;
          ws.terminate();
        },
      };
    },
  };
}
