/**
 * Parser tests on the torture messages of RFC 4475 (§3.1.1 valid, §3.1.2 invalid), written out
 * from the RFC (bodies shortened where the RFC's Content-Length is not the point).
 */
import { describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr, parseSipUri, parseVia, serializeMessage, SipHeaders, SipParseError, SipSerializeError, SipStreamParser, type SipMessage, type SipRequest } from './message.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
const SDP150 = 'v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n';

describe('SIP parser: RFC 4475 valid messages', () => {
  it('3.1.1.1 a short tortuous INVITE', () => {
    const head = `INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

`;
    expect(SDP150.length).toBe(150);
    const msg = parseMessage(Buffer.concat([crlf(head), Buffer.from(SDP150)])) as SipRequest;
    expect(msg.kind).toBe('request');
    expect(msg.method).toBe('INVITE');
    expect(msg.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect(msg.body.toString()).toBe(SDP150);
    const to = parseNameAddr(msg.headers.get('to')!);
    expect(to.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(to.params.get('tag')).toBe('1918181833n');
    const from = parseNameAddr(msg.headers.get('from')!);
    expect(from.displayName).toBe('J Rosenberg \\"');
    expect(from.params.get('tag')).toBe('98asjd8');
    expect(msg.headers.get('max-forwards')).toBe('0068');
    expect(msg.headers.get('cseq')).toBe('0009 INVITE');
    const vias = msg.headers.getAll('via').map(parseVia);
    expect(vias.map((v) => [v.transport, v.host, v.params.get('branch')])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(msg.headers.get('subject')).toBe('');
    expect(msg.headers.get('newfangledheader')).toBe('newfangled value continued newfangled value');
    expect(msg.headers.get('unknownheaderwithunusualvalue')).toBe(';;,,;;,;');
    const contact = parseNameAddr(msg.headers.get('contact')!);
    expect(contact.displayName).toBe('Quoted string ""');
    expect(contact.params.get('newparam')).toBe('newvalue');
    expect(contact.params.get('q')).toBe('0.33');
    expect(contact.params.has('secondparam')).toBe(true);
  });

  it('3.1.1.2 wide range of valid characters', () => {
    const text = [
      "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
      "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
      'To: "BEL:\x07 NUL:\x00 DEL:\x7F" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
      'From: token1~` token2\'+_ token3*%!.- <sip:mundane@example.com>;fromParam\'\'~+*_!.-%="\xD1\x80\xD0\xB0\xD0\xB1\xD0\xBE\xD1\x82\xD0\xB0\xD1\x8E\xD1\x89\xD0\xB8\xD0\xB9";tag=_token~1\'+`*%!-.',
      'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{',
      "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~",
      'Max-Forwards: 255',
      "extensionHeader-!.%*+_`'~:\xEF\xBB\xBF\xE5\xA4\xA7\xE5\x81\x9C\xE9\x9B\xBB",
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const msg = parseMessage(Buffer.from(text, 'latin1')) as SipRequest;
    expect(msg.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(parseNameAddr(msg.headers.get('from')!).params.get('tag')).toBe("_token~1'+`*%!-.");
    expect(parseNameAddr(msg.headers.get('from')!).displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(msg.headers.get('call-id')).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    // The octets are UTF-8 (a BOM and 大停電), read as such (RFC 3261 §7.3.1).
    expect(msg.headers.get("extensionheader-!.%*+_`'~")).toBe('\uFEFF\u5927\u505C\u96FB');
  });

  it('3.1.1.3 valid use of the % escaping mechanism; 3.1.1.9 semicolon in the user part', () => {
    const msg = parseMessage(
      crlf(`INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 150

${SDP150.replace(/\r\n/g, '\n')}`),
    ) as SipRequest;
    expect(parseSipUri(msg.uri).user).toBe('sips:user@example.com');
    expect(parseSipUri(parseNameAddr(msg.headers.get('to')!).uri).user).toBe('user');
    expect(parseSipUri(parseNameAddr(msg.headers.get('from')!).uri).user).toBe('I have spaces');
    expect(msg.headers.get('call-id')).toBe('esc01.239409asdfakjkn23onasd0-3234');
    expect(msg.headers.get('content-type')).toBe('application/sdp');
    const semi = parseMessage(crlf(`OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
      multipart/mixed, multipart/signed,
      message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0

`)) as SipRequest;
    expect(parseSipUri(semi.uri).user).toBe('user;par=u@example.net');
    expect(parseSipUri(semi.uri).host).toBe('example.com');
    expect(semi.headers.getAll('accept')).toHaveLength(6);
  });

  it('3.1.1.4 escaped nulls; 3.1.1.5 % that is not an escape; 3.1.1.6 no LWS before <', () => {
    const nulls = parseMessage(crlf(`REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0

`));
    expect(nulls.headers.getAll('contact')).toHaveLength(2);
    expect(parseSipUri(parseNameAddr(nulls.headers.get('to')!).uri).user).toBe('null-\0-null');
    const pct = parseMessage(crlf(`RE%47IST%45R sip:registrar.example.com SIP/2.0
To: "%Z%45" <sip:resource@example.com>
From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0

`)) as SipRequest;
    expect(pct.method).toBe('RE%47IST%45R');
    expect(pct.headers.getAll('contact')).toHaveLength(2);
    expect(pct.headers.get('c%6fntact')).toBe('<sip:alias2@host2.example.com>');
    expect(parseNameAddr(pct.headers.get('to')!).displayName).toBe('%Z%45');
    const nolws = parseMessage(crlf(`OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0

`));
    expect(parseNameAddr(nolws.headers.get('from')!)).toMatchObject({ displayName: 'caller', uri: 'sip:caller@example.com' });
  });

  it('3.1.1.7 long values and 34 Via headers in many spellings', () => {
    const vias = ['Via', 'v', 'V', 'Via', 'ViA', 'VIa', 'VIA', 'via', 'viA', 'vIa', 'vIA', 'V ', 'v ', 'V  ', 'v  ', 'Via ', 'Via  '];
    const lines = [
      'INVITE sip:user@example.com SIP/2.0',
      `To: "I have a user name of ${'extreme '.repeat(10)} proportion" <sip:user@example.com:6000;unknownparam1=very${'long'.repeat(25)}value;longparam${'name'.repeat(25)}=shortvalue;very${'long'.repeat(25)}ParameterNameWithNoValue>`,
      `F: sip:${'amazinglylongcallername'.repeat(5)}@example.net;tag=12${'982'.repeat(50)}424;unknownheaderparam${'name'.repeat(20)}=unknowheaderparam${'value'.repeat(15)};unknownValueless${'paramname'.repeat(15)}`,
      `Call-ID: longreq.one${'really'.repeat(20)}longcallid`,
      'CSeq: 3882340 INVITE',
      `Unknown-${'Long'.repeat(20)}-Name:unknown-${'long'.repeat(20)}-value;unknown-${'long'.repeat(20)}-parameter-name = unknown-${'long'.repeat(20)}-parameter-value`,
      ...vias.map((n, i) => `${n}: SIP/2.0/TCP sip${33 - i}.example.com`),
      ...Array.from({ length: 16 }, (_, i) => `Via: SIP/2.0/TCP sip${16 - i}.example.com`),
      `Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very${'long'.repeat(50)}branchvalue`,
      'Max-Forwards: 70',
      `Contact: <sip:${'amazinglylongcallername'.repeat(5)}@host5.example.net>`,
      'Content-Type: application/sdp',
      'l: 150',
      '',
      SDP150,
    ];
    const msg = parseMessage(Buffer.from(lines.join('\r\n')));
    const v = msg.headers.getAll('via').map(parseVia);
    expect(v).toHaveLength(34);
    expect(v[0]!.host).toBe('sip33.example.com');
    expect(v[33]!.params.get('received')).toBe('192.0.2.5');
    expect(parseNameAddr(msg.headers.get('to')!).uri).toMatch(/^sip:user@example.com:6000;unknownparam1=very/);
    expect(msg.body.toString()).toBe(SDP150);
  });

  it('3.1.1.8 extra trailing octets in a UDP datagram are ignored', () => {
    const msg = parseMessage(crlf(`REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0

INVITE sip:joe@example.com SIP/2.0
t: sip:joe@example.com
From: sip:caller@example.net;tag=141334
Max-Forwards: 8
Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
Content-Type: application/sdp
Content-Length: 150

${SDP150}`)) as SipRequest;
    expect(msg.method).toBe('REGISTER');
    expect(msg.body.length).toBe(0);
  });
});

const base = (start: string, extra: string[] = [], cseq = '1 INVITE') =>
  crlf([start, 'To: sip:j.user@example.com', 'From: sip:caller@example.net;tag=1', 'Max-Forwards: 70', 'Call-ID: bad.1@x', `CSeq: ${cseq}`, 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx', ...extra, '', ''].join('\n'));

describe('SIP parser: RFC 4475 invalid messages are refused', () => {
  const cases: [string, Buffer][] = [
    ['3.1.2.2 Content-Length larger than the message', base('INVITE sip:user@example.com SIP/2.0', ['Content-Length: 9999'])],
    ['3.1.2.3 negative Content-Length', base('INVITE sip:user@example.com SIP/2.0', ['Content-Length: -999'])],
    ['3.1.2.4 overlarge CSeq', base('REGISTER sip:example.com SIP/2.0', [], '36893488147419103232 REGISTER')],
    ['3.1.2.4 overlarge Max-Forwards', crlf('OPTIONS sip:u@example.com SIP/2.0\nTo: sip:u@example.com\nFrom: sip:c@example.net;tag=1\nMax-Forwards: 300\nCall-ID: s.1\nCSeq: 1 OPTIONS\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nl: 0\n\n')],
    ['3.1.2.5 response with overlarge CSeq', base('SIP/2.0 503 Service Unavailable', [], '1234567890123456789 INVITE')],
    ['3.1.2.6 unterminated quoted display name', crlf('INVITE sip:user@example.com SIP/2.0\nTo: "Mr. J. User <sip:j.user@example.com>\nFrom: sip:caller@example.net;tag=93334\nMax-Forwards: 10\nCall-ID: quotbal.aksdj\nCSeq: 0 INVITE\nVia: SIP/2.0/UDP 192.0.2.15:5060;branch=z9hG4bKkdjuw\nl: 0\n\n')],
    ['3.1.2.7 <> enclosing the Request-URI', base('INVITE <sip:user@example.com> SIP/2.0')],
    ['3.1.2.8 LWS inside the Request-URI', base('INVITE sip:user@example.com; lr SIP/2.0')],
    ['3.1.2.9 multiple SP between request-line elements', base('INVITE  sip:user@example.com  SIP/2.0')],
    ['3.1.2.12 method mismatch between start line and CSeq', base('INVITE sip:user@example.com SIP/2.0', [], '1 OPTIONS')],
    ['3.1.2.15 response code too large', base('SIP/2.0 4294967301 better not break the receiver')],
    ['3.1.2.16 unknown protocol version', base('INVITE sip:user@example.com SIP/7.0')],
    ['missing Call-ID', crlf('OPTIONS sip:u@example.com SIP/2.0\nTo: sip:u@example.com\nFrom: sip:c@example.net;tag=1\nCSeq: 1 OPTIONS\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nl: 0\n\n')],
  ];
  for (const [name, buf] of cases) {
    it(name, () => {
      expect(() => parseMessage(buf)).toThrow(SipParseError);
    });
  }
});

describe('SIP serializer and stream framing', () => {
  it('round-trips and frames back-to-back messages split anywhere, skipping CRLF keep-alives', () => {
    const msg = parseMessage(base('INVITE sip:user@example.com SIP/2.0', ['Content-Type: text/plain']));
    msg.body = Buffer.from('hello');
    const bytes = serializeMessage(msg);
    expect(bytes.toString()).toMatch(/^INVITE sip:user@example.com SIP\/2.0\r\nTo: sip:j.user@example.com\r\n/);
    expect(bytes.toString()).toMatch(/Call-ID: bad.1@x\r\nCSeq: 1 INVITE\r\n.*Content-Length: 5\r\n\r\nhello$/s);
    const stream = Buffer.concat([Buffer.from('\r\n\r\n'), bytes, bytes]);
    const p = new SipStreamParser();
    const got = [];
    for (let i = 0; i < stream.length; i += 7) got.push(...p.push(stream.subarray(i, i + 7)));
    expect(got).toHaveLength(2);
    expect(got[1]!.body.toString()).toBe('hello');
    expect(() => new SipStreamParser().push(Buffer.from('OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n'))).toThrow(/Content-Length/);
  });

  it('URIs: sips, transport, ports, IPv6', () => {
    expect(parseSipUri('sips:alice@example.com')).toMatchObject({ scheme: 'sips', user: 'alice', host: 'example.com', port: undefined });
    expect(parseSipUri('sip:+1555@10.0.0.1:5070;transport=TCP').params.get('transport')).toBe('TCP');
    expect(parseSipUri('sip:bob@[2001:db8::1]:5060')).toMatchObject({ host: '[2001:db8::1]', port: 5060 });
    expect(() => parseSipUri('tel:+15551234')).toThrow(SipParseError);
    expect(() => parseSipUri('sip:bob@host:99999')).toThrow(/port/);
  });

  describe('refuses what would add or split a line, whatever built the message (issue 17)', () => {
    const request = (o: { method?: string; uri?: string; header?: [string, string] } = {}): SipMessage => {
      const h = new SipHeaders();
      h.append('via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx');
      h.append('call-id', 'c@x');
      h.append('cseq', `1 ${o.method ?? 'INVITE'}`);
      h.append('to', '<sip:bob@example.com>');
      if (o.header?.[0] !== 'from') h.append('from', '<sip:alice@example.com>;tag=1');
      if (o.header) h.append(o.header[0], o.header[1]);
      return { kind: 'request', method: o.method ?? 'INVITE', uri: o.uri ?? 'sip:bob@example.com', headers: h, body: Buffer.alloc(0) };
    };
    const response = (reason: string): SipMessage => ({ kind: 'response', status: 200, reason, headers: new SipHeaders(), body: Buffer.alloc(0) });
    const refused: [string, SipMessage][] = [
      ['CR LF in a header value', request({ header: ['X-A', 'a\r\nP-Asserted-Identity: <sip:boss@x>'] })],
      ['a bare CR in a header value', request({ header: ['X-A', 'a\rb'] })],
      ['a bare LF in a header value', request({ header: ['X-A', 'a\nb'] })],
      ['NUL in a header value', request({ header: ['X-A', 'a\u0000b'] })],
      ['BEL in a header value', request({ header: ['X-A', 'a\u0007b'] })],
      ['DEL in a header value', request({ header: ['X-A', 'a\u007fb'] })],
      ['U+0085 (NEL) in a header value', request({ header: ['X-A', 'a\u0085b'] })],
      ['CR LF in an Authorization value', request({ header: ['authorization', 'Digest username="a\r\nX: 1"'] })],
      ['a colon in a header name', request({ header: ['X-A: b\r\nX-C', 'd'] })],
      ['a space in a header name', request({ header: ['X-A B', 'd'] })],
      ['CR LF in the Request-URI', request({ uri: 'sip:bob@example.com\r\nX-Evil: 1' })],
      ['a space in the Request-URI', request({ uri: 'sip:bob@example.com SIP/2.0' })],
      ['NUL in the Request-URI', request({ uri: 'sip:bob\u0000@example.com' })],
      ['a method that is not a token', request({ method: 'INVITE sip:x SIP/2.0\r\n' })],
      ['CR LF in a reason phrase', response('OK\r\nX-Evil: 1')],
    ];
    for (const [name, msg] of refused) {
      it(`throws on ${name}`, () => {
        expect(() => serializeMessage(msg)).toThrow(SipSerializeError);
      });
    }

    const sent: [string, SipMessage, string][] = [
      ['UTF-8 in a header value (ë = C3 AB)', request({ header: ['X-Name', 'Zoë'] }), '582d4e616d653a205a6fc3ab0d0a'],
      ['U+010D U+010A as their UTF-8 octets, never as CR LF', request({ header: ['X-A', '\u010d\u010a'] }), '582d413a20c48dc48a0d0a'],
      ['a tab (LWS) in a header value', request({ header: ['X-A', 'a\tb'] }), '582d413a206109620d0a'],
      ['a quoted display name with UTF-8', request({ header: ['from', '"Zoë" <sip:zoe@example.com>;tag=1'] }), Buffer.from('From: "Zoë" <sip:zoe@example.com>;tag=1\r\n').toString('hex')],
    ];
    for (const [name, msg, hex] of sent) {
      it(`sends ${name}`, () => {
        const bytes = serializeMessage(msg);
        expect(bytes.toString('hex')).toContain(hex);
        // It parses back to the same value: nothing added, nothing split.
        const back = parseMessage(bytes);
        const [k, v] = msg.headers.entries().at(-1)!;
        expect(back.headers.getAll(k).at(-1)).toBe(v);
        expect(back.headers.entries().filter(([n]) => n !== 'content-length')).toEqual(msg.headers.entries());
      });
    }
  });
});

