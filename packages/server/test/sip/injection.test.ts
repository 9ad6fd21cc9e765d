/**
 * SIP header injection (issue 17, item 1), through createServer and the REST API against a raw
 * loopback UDP listener that plays the far end and keeps the exact bytes of every INVITE.
 *
 * The attack: `latin1` serialisation kept the low byte of each UTF-16 unit, so `\u010d\u010a`
 * became CR LF on the wire (a forged header, a split request line); `auth.username` was not
 * checked at all and a raw CRLF in it landed in the `Authorization` header after a 401. Each bad
 * field must be refused with a 400 naming it before any packet leaves; legitimate non-ASCII text
 * must arrive UTF-8 encoded, byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRest } from './project-rest.js';
import { createServer, type TokhostServer } from '../../src/create-server.js';
import { parseMessage, type SipRequest } from '../../src/sip/message.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A far end that answers every INVITE itself, with hand-written responses (not the serializer
 * under test): a 401 digest challenge first when `challenge` is set, then `finalStatus`.
 */
class RawSipListener {
  readonly sock: Socket = createSocket('udp4');
  port = 0;
  /** Every datagram, as received. */
  readonly packets: Buffer[] = [];
  readonly invites: Buffer[] = [];
  constructor(private readonly o: { challenge?: string; finalStatus: number }) {}

  async start(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    this.port = this.sock.address().port;
    this.sock.on('message', (buf, rinfo) => {
      this.packets.push(buf);
      let req: SipRequest;
      try {
        const m = parseMessage(buf);
        if (m.kind !== 'request' || m.method !== 'INVITE') return;
        req = m;
      } catch {
        return;
      }
      // A retransmission carries the branch of an INVITE already seen.
      const branch = req.headers.get('via');
      if (this.invites.some((b) => parseMessage(b).headers.get('via') === branch)) return;
      this.invites.push(buf);
      const challenge = this.o.challenge !== undefined && this.invites.length === 1;
      const lines = [
        challenge ? 'SIP/2.0 401 Unauthorized' : `SIP/2.0 ${this.o.finalStatus} Refused`,
        ...req.headers.getAll('via').map((v) => `Via: ${v}`),
        `From: ${req.headers.get('from')}`,
        `To: ${req.headers.get('to')};tag=raw`,
        `Call-ID: ${req.headers.get('call-id')}`,
        `CSeq: ${req.headers.get('cseq')}`,
        ...(challenge ? [`WWW-Authenticate: ${this.o.challenge}`] : []),
        'Content-Length: 0',
        '',
        '',
      ];
      this.sock.send(Buffer.from(lines.join('\r\n'), 'utf8'), rinfo.port, rinfo.address);
    });
  }

  get uri(): string {
    return `sip:bob@127.0.0.1:${this.port}`;
  }

  close(): void {
    this.sock.close();
  }
}

/** The header block of a datagram (up to the empty line), its raw bytes. */
const headOf = (buf: Buffer): Buffer => buf.subarray(0, buf.indexOf('\r\n\r\n') + 4);

describe('SIP header injection is refused at the REST edge and cannot reach the wire', () => {
  const apiKey = '7' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let server: TokhostServer;
  const listeners: RawSipListener[] = [];

  beforeAll(async () => {
    server = await createServer({ port: 0, host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], store: 'memory', apiKey, apiSecret, logLevel: 'silent', mediaWorkers: 1, sipPort: 0, sipRingTimeoutSeconds: 5 });
  });
  afterAll(async () => {
    await server?.close();
    for (const l of listeners) l.close();
  });

  const { rest, session, token } = projectRest(() => server.url, apiKey, apiSecret);
  const listener = async (o: ConstructorParameters<typeof RawSipListener>[0]) => {
    const l = new RawSipListener(o);
    await l.start();
    listeners.push(l);
    return l;
  };
  const connections = async (sessionId: string) => (await rest('GET', `/session/${sessionId}/connection`)).json['items'];

  const CRLF_LOOKALIKE = '\u010d\u010a';
  const attacks: { name: string; field: string; sip: (l: RawSipListener) => Record<string, unknown> }[] = [
    { name: 'raw CRLF in a header value', field: 'sip.headers.X-Note', sip: (l) => ({ uri: l.uri, headers: { 'X-Note': 'hi\r\nP-Asserted-Identity: <sip:boss@evil.example>' } }) },
    { name: 'a bare LF in a header value', field: 'sip.headers.X-Note', sip: (l) => ({ uri: l.uri, headers: { 'X-Note': 'hi\nP-Asserted-Identity: <sip:boss@evil.example>' } }) },
    { name: 'NUL in a header value', field: 'sip.headers.X-Note', sip: (l) => ({ uri: l.uri, headers: { 'X-Note': 'hi\u0000there' } }) },
    { name: 'U+0085 (a C1 control) in a header value', field: 'sip.headers.X-Note', sip: (l) => ({ uri: l.uri, headers: { 'X-Note': 'hi\u0085there' } }) },
    { name: 'a lone surrogate in a header value', field: 'sip.headers.X-Note', sip: (l) => ({ uri: l.uri, headers: { 'X-Note': 'hi\ud800there' } }) },
    { name: 'U+010D U+010A in a header name', field: 'sip.headers', sip: (l) => ({ uri: l.uri, headers: { [`X-A${CRLF_LOOKALIKE}Foo`]: 'x' } }) },
    { name: 'a colon in a header name', field: 'sip.headers', sip: (l) => ({ uri: l.uri, headers: { 'X-A: 1\r\nX-B': 'x' } }) },
    { name: 'U+010D U+010A in the URI user part', field: 'sip.uri', sip: (l) => ({ uri: `sip:bob${CRLF_LOOKALIKE}X-Evil:1@127.0.0.1:${l.port}` }) },
    { name: 'U+010D U+010A in a URI parameter', field: 'sip.uri', sip: (l) => ({ uri: `${l.uri};x=${CRLF_LOOKALIKE}X-Evil:1` }) },
    { name: 'a raw CRLF in a URI parameter', field: 'sip.uri', sip: (l) => ({ uri: `${l.uri};x=\r\nX-Evil:1` }) },
    { name: 'a space in the URI (a split request line)', field: 'sip.uri', sip: (l) => ({ uri: `sip:bob@127.0.0.1:${l.port} SIP/2.0` }) },
    { name: 'U+010D U+010A in from', field: 'sip.from', sip: (l) => ({ uri: l.uri, from: `alice${CRLF_LOOKALIKE}X-Evil:1@example.com` }) },
    { name: 'a raw CRLF in from', field: 'sip.from', sip: (l) => ({ uri: l.uri, from: 'alice\r\nX-Evil:1@example.com' }) },
    { name: 'a quote in from', field: 'sip.from', sip: (l) => ({ uri: l.uri, from: 'al"ice@example.com' }) },
    { name: 'raw CRLF in auth.username', field: 'sip.auth.username', sip: (l) => ({ uri: l.uri, auth: { username: 'bob\r\nX-Evil: 1', password: 'pw' } }) },
    { name: 'a quote in auth.username', field: 'sip.auth.username', sip: (l) => ({ uri: l.uri, auth: { username: 'bob", response="forged', password: 'pw' } }) },
    { name: 'a backslash in auth.username', field: 'sip.auth.username', sip: (l) => ({ uri: l.uri, auth: { username: 'bob\\', password: 'pw' } }) },
    { name: 'NUL in auth.password', field: 'sip.auth.password', sip: (l) => ({ uri: l.uri, auth: { username: 'bob', password: 'p\u0000w' } }) },
  ];

  for (const a of attacks) {
    it(`${a.name}: 400 naming ${a.field}, no packet on the wire, nothing in the session`, async () => {
      const sessionId = await session();
      // The listener challenges, so credentials would be sent if the dial got through.
      const l = await listener({ challenge: 'Digest realm="tokhost-test", nonce="n0nce", qop="auth"', finalStatus: 486 });
      const r = await rest('POST', '/dial', { sessionId, token: token(sessionId), sip: a.sip(l) });
      await sleep(300);
      expect(
        l.packets.map((p) => p.toString('utf8')),
        'packets that reached the far end',
      ).toEqual([]);
      expect(r.status).toBe(400);
      expect(String(r.json['message'])).toContain(`Invalid ${a.field}`);
      expect(await connections(sessionId)).toEqual([]);
    });
  }

  it('U+010D U+010A where UTF-8 text is allowed (a header value, the digest username) goes out as the UTF-8 letters č Ċ: no new line, no new header', async () => {
    const sessionId = await session();
    const l = await listener({ challenge: 'Digest realm="tokhost-test", nonce="n0nce", qop="auth"', finalStatus: 486 });
    const note = `hi${CRLF_LOOKALIKE}P-Asserted-Identity: <sip:boss@evil.example>`;
    const username = `bob${CRLF_LOOKALIKE}X-Evil: 1`;
    const r = await rest('POST', '/dial', { sessionId, token: token(sessionId), sip: { uri: l.uri, headers: { 'X-Note': note }, auth: { username, password: 'pw' } } });
    expect(r.status).toBe(200);
    const end = Date.now() + 5000;
    while (l.invites.length < 2 && Date.now() < end) await sleep(50);
    expect(l.invites).toHaveLength(2);
    for (const inv of l.invites) {
      const msg = parseMessage(inv);
      expect(msg.headers.has('p-asserted-identity')).toBe(false);
      expect(msg.headers.has('x-evil')).toBe(false);
      expect(msg.headers.get('x-note')).toBe(note);
      // č = C4 8D, Ċ = C4 8A: never a bare 0D 0A inside a header line.
      expect(inv.includes(Buffer.from('X-Note: hi\u00c4\u008d\u00c4\u008aP-Asserted-Identity: <sip:boss@evil.example>\r\n', 'latin1'))).toBe(true);
      expect(headOf(inv).toString('latin1').split('\r\n').filter((x) => /^(P-Asserted-Identity|X-Evil)\s*:/i.test(x))).toEqual([]);
    }
    expect(parseMessage(l.invites[1]!).headers.get('authorization')).toContain(`username="${username}"`);
  }, 15_000);

  it('legitimate non-ASCII text arrives UTF-8 encoded, byte for byte (X-Name: Zoë, digest username zoë)', async () => {
    const sessionId = await session();
    const l = await listener({ challenge: 'Digest realm="tokhost-test", nonce="n0nce", qop="auth"', finalStatus: 486 });
    const r = await rest('POST', '/dial', { sessionId, token: token(sessionId), sip: { uri: l.uri, from: '+15551234@example.com', headers: { 'X-Name': 'Zoë' }, auth: { username: 'zoë', password: 'pässword' } } });
    expect(r.status).toBe(200);
    const end = Date.now() + 5000;
    while (l.invites.length < 2 && Date.now() < end) await sleep(50);
    expect(l.invites).toHaveLength(2);
    const [first, second] = l.invites.map(headOf) as [Buffer, Buffer];
    const text = first.toString('utf8');
    console.info(`[sip injection] first INVITE header block, exact bytes as UTF-8 text:\n${text}`);
    console.info(`[sip injection] X-Name line in hex: ${first.subarray(first.indexOf('X-Name:'), first.indexOf('\r\n', first.indexOf('X-Name:')) + 2).toString('hex')}`);
    // The whole header block, line by line: nothing added, nothing split.
    const tokenRe = '[A-Za-z0-9]+';
    const expected = new RegExp(
      [
        `^INVITE sip:bob@127\\.0\\.0\\.1:${l.port} SIP/2\\.0`,
        `Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:\\d+;rport;branch=z9hG4bK${tokenRe}`,
        'Max-Forwards: 70',
        `From: <sip:\\+15551234@example\\.com>;tag=${tokenRe}`,
        `To: <sip:bob@127\\.0\\.0\\.1:${l.port}>`,
        `Call-ID: ${tokenRe}@tokhost`,
        'CSeq: 1 INVITE',
        'Contact: <sip:tokhost@127\\.0\\.0\\.1:\\d+>',
        'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO',
        'User-Agent: Tokhost SIP gateway',
        'X-Name: Zoë',
        `X-OpenTok-SessionId: ${sessionId.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}`,
        'Content-Type: application/sdp',
        'Content-Length: \\d+',
        '',
        '$',
      ].join('\r\n'),
    );
    expect(text).toMatch(expected);
    // ë is U+00EB: two octets C3 AB in UTF-8 (latin1 would have sent the single octet EB).
    expect(first.includes(Buffer.from([0x58, 0x2d, 0x4e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0x5a, 0x6f, 0xc3, 0xab, 0x0d, 0x0a]))).toBe(true);
    expect(first.includes(Buffer.from([0xeb, 0x0d, 0x0a]))).toBe(false);
    const auth = second.toString('utf8').split('\r\n').filter((x) => x.startsWith('Authorization:'));
    expect(auth).toHaveLength(1);
    expect(auth[0]).toMatch(new RegExp(`^Authorization: Digest username="zoë", realm="tokhost-test", nonce="n0nce", uri="sip:bob@127\\.0\\.0\\.1:${l.port}", response="[0-9a-f]{32}", algorithm=MD5, cnonce="[0-9a-f]+", qop=auth, nc=00000001$`));
    expect(second.includes(Buffer.from('username="zo\u00c3\u00ab"', 'latin1'))).toBe(true);
    await sleep(300);
    expect(await connections(sessionId)).toEqual([]);
  }, 15_000);

  const hostile: { name: string; challenge: string }[] = [
    { name: 'an escaped quote in the realm', challenge: 'Digest realm="a\\", response=\\"forged", nonce="n0nce"' },
    { name: 'a bare CR in the nonce', challenge: 'Digest realm="r", nonce="n\rX-Evil: 1"' },
    { name: 'NUL in the realm', challenge: 'Digest realm="r\u0000x", nonce="n0nce"' },
    { name: 'an algorithm that is not a token', challenge: 'Digest realm="r", nonce="n", algorithm="MD5\\"x"' },
  ];
  for (const h of hostile) {
    it(`a challenge with ${h.name} is refused: no second INVITE, the call ends, the server goes on`, async () => {
      const sessionId = await session();
      const l = await listener({ challenge: h.challenge, finalStatus: 486 });
      const r = await rest('POST', '/dial', { sessionId, token: token(sessionId), sip: { uri: l.uri, auth: { username: 'bob', password: 'pw' } } });
      expect(r.status).toBe(200);
      const end = Date.now() + 3000;
      while ((await connections(sessionId) as unknown[]).length > 0 && Date.now() < end) await sleep(100);
      expect(await connections(sessionId)).toEqual([]);
      await sleep(300);
      expect(l.invites).toHaveLength(1);
      expect(l.packets.some((p) => p.toString('utf8').startsWith('INVITE') && /Authorization:/i.test(p.toString('utf8')))).toBe(false);
    });
  }
});
