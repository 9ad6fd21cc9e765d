/**
 * Audio Connector: stream a session's audio to a WebSocket server (reference §3.7).
 */
import { RequestError } from './errors.js';
import type { Transport } from './transport.js';
import { fail, optionalBoolean, optionalStringArray, optionsObject, requireId } from './validate.js';

/** Options of `websocketConnect`. */
export interface WebsocketConnectOptions {
  /** Only these streams are sent (default: all). */
  streams?: string[];
  /** Headers sent with the WebSocket handshake. */
  headers?: Record<string, string>;
  /** Let the WebSocket server send audio back into the session. */
  bidirectional?: boolean;
  /** Sample rate of the audio, 8000, 16000 or 24000 Hz (Tokhost serves all three; opentok-node does not forward it). */
  audioRate?: 8000 | 16000 | 24000;
}

/** The Audio Connector's connection in the session. */
export interface AudioConnection {
  id: string;
  connectionId: string;
  [extra: string]: unknown;
}

/** Audio Connector operations of one project. */
export class AudioConnectorService {
  readonly #transport: Transport;
  readonly #path: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#path = `/v2/project/${encodeURIComponent(apiKey)}/connect`;
  }

  async connect(sessionId: string, token: string, websocketUri: string, options?: WebsocketConnectOptions): Promise<AudioConnection> {
    requireId('sessionId', sessionId, 'No sessionId given to websocketConnect');
    requireId('token', token, 'No token given to websocketConnect');
    requireId('websocketUri', websocketUri, 'No websocketUri given to websocketConnect');
    if (!/^wss?:\/\//i.test(websocketUri)) fail('websocketUri must be a ws:// or wss:// URL');
    const o = optionsObject<WebsocketConnectOptions>('options', options);
    const websocket: Record<string, unknown> = { uri: websocketUri };
    const streams = optionalStringArray('streams', o.streams);
    if (streams !== undefined) websocket['streams'] = streams;
    if (o.headers !== undefined) {
      const headers = optionsObject<Record<string, string>>('headers', o.headers);
      for (const [name, v] of Object.entries(headers)) if (typeof v !== 'string') fail(`headers["${name}"] must be a string`);
      websocket['headers'] = { ...headers };
    }
    const bidirectional = optionalBoolean('bidirectional', o.bidirectional);
    if (bidirectional !== undefined) websocket['bidirectional'] = bidirectional;
    if (o.audioRate !== undefined) {
      if (o.audioRate !== 8000 && o.audioRate !== 16000 && o.audioRate !== 24000) fail('audioRate must be 8000, 16000 or 24000');
      websocket['audioRate'] = o.audioRate;
    }
    const res = await this.#transport.request({ method: 'POST', path: this.#path, json: { sessionId, token, websocket } });
    if (res.body === null || typeof res.body !== 'object' || Array.isArray(res.body)) {
      throw new RequestError('Unexpected response from OpenTok: the connection is not a JSON object', { status: res.status, body: res.body });
    }
    return res.body as AudioConnection;
  }
}
