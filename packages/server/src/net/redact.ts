/**
 * The one redaction function for anything the server logs or returns in an error that may hold a
 * credential: RTMP stream keys, `user:password@` in URLs and query-string values (tokens, keys).
 */

/** What a redacted part is replaced with. */
export const REDACTED = '[redacted]';

// scheme://[userinfo@]rest-up-to-whitespace-or-quote
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]{1,20}:\/\/)([^\s"'<>]*)/gi;

function redactUrlBody(body: string): string {
  // userinfo: everything before the last @ of the authority.
  const authorityEnd = body.search(/[/?#]/);
  const authority = authorityEnd === -1 ? body : body.slice(0, authorityEnd);
  let rest = authorityEnd === -1 ? '' : body.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  const host = at === -1 ? authority : `${REDACTED}@${authority.slice(at + 1)}`;
  // Query values: keep the names (they help debugging), drop the values.
  rest = rest.replace(/([?&;][^=&;#\s]*=)[^&;#\s]*/g, `$1${REDACTED}`);
  return host + rest;
}

/**
 * Redact `text`: every occurrence of each of `secrets` (e.g. a stream key; its URL-encoded form
 * too), then the userinfo and query values of every URL in it. Safe on any string; `undefined`
 * stays `undefined`.
 *
 * @example
 * redact('rtmp://u:p@cdn.example/live/KEY?t=1: refused', ['KEY']) // 'rtmp://[redacted]@cdn.example/live/[redacted]?t=[redacted]: refused'
 */
export function redact(text: string, secrets?: readonly string[]): string;
export function redact(text: string | undefined, secrets?: readonly string[]): string | undefined;
export function redact(text: string | undefined, secrets: readonly string[] = []): string | undefined {
  if (text === undefined || text === '') return text;
  let out = text;
  for (const s of secrets) {
    if (s.length < 1) continue;
    for (const form of new Set([s, encodeURIComponent(s), encodeURI(s), s.replace(/^\/+/, '')])) {
      if (form.length > 0) out = out.split(form).join(REDACTED);
    }
  }
  // A trailing ':' or '.' is the sentence's (ffmpeg writes "<url>: <error>"), not the URL's.
  return out.replace(URL_IN_TEXT, (_m, scheme: string, body: string) => {
    const tail = /[:.,;]+$/.exec(body)?.[0] ?? '';
    return scheme + redactUrlBody(body.slice(0, body.length - tail.length)) + tail;
  });
}

/** An RTMP output as it may be logged: the server URL redacted, the stream key replaced. */
export function rtmpForLog(serverUrl: string, streamName: string): string {
  return `${redact(serverUrl, [streamName]).replace(/\/+$/, '')}/${REDACTED}`;
}
