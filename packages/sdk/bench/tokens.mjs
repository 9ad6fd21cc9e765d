// `npm run bench` (root): generateToken throughput of @tokhost/sdk (built dist) against the official
// `opentok` package, measured in the same run, plus a bare node:crypto HS256 JWT as the ceiling.
// Rounds are interleaved and the median is reported, so a noisy neighbour hits both sides alike.
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import OpenTok from '@tokhost/sdk';

const require = createRequire(import.meta.url);
const OfficialOpenTok = require('opentok');
const officialVersion = require('opentok/package.json').version;

const KEY = '123456';
const SECRET = '1234567890abcdef1234567890abcdef12345678';
const SID = '1_' + Buffer.from(`1~${KEY}~~1700000000000~Q9mcXG1QrN3TIYu8y+ppx/gs~~`).toString('base64url');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 700);

const ours = new OpenTok(KEY, SECRET);
const official = new OfficialOpenTok(KEY, SECRET);
const OPTS = { role: 'publisher', data: 'name=Johnny' };

const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
function bareJwt() {
  const now = Math.floor(Date.now() / 1000);
  const body = Buffer.from(JSON.stringify({ iss: KEY, ist: 'project', iat: now, exp: now + 86400, session_id: SID, nonce: Math.random(), role: 'publisher', scope: 'session.connect' })).toString('base64url');
  const input = header + '.' + body;
  return input + '.' + createHmac('sha256', SECRET).update(input).digest('base64url');
}

const subjects = {
  'baseline: bare node:crypto HS256 JWT': () => bareJwt(),
  [`official opentok ${officialVersion} generateToken (JWT)`]: () => official.generateToken(SID, OPTS),
  '@tokhost/sdk generateToken (JWT)': () => ours.generateToken(SID, OPTS),
  [`official opentok ${officialVersion} generateToken (T1)`]: () => official.generateToken(SID, OPTS, true),
  '@tokhost/sdk generateToken (T1)': () => ours.generateToken(SID, OPTS, true),
};

/** Tokens per second over one time-boxed round. */
function round(fn) {
  let n = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ROUND_MS) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 64; i++) sink += fn().length;
    n += 64;
    now = process.hrtime.bigint();
  }
  if (sink === 0) throw new Error('unreachable');
  return n / (Number(now - start) / 1e9);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Sanity: both produce verifiable tokens for the same session before anything is timed.
for (const fn of Object.values(subjects)) fn();
for (const fn of Object.values(subjects)) for (let i = 0; i < 2000; i++) fn();

const results = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(subjects)) {
    globalThis.gc?.();
    results[name].push(round(fn));
  }
}

const fmt = (x) => Math.round(x).toLocaleString('en-US').padStart(10);
console.log(`generateToken throughput, node ${process.version}, median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms`);
const med = {};
for (const [name, xs] of Object.entries(results)) {
  med[name] = median(xs);
  console.log(`  ${fmt(med[name])} tokens/s  ${(1e6 / med[name]).toFixed(2).padStart(8)} µs/token  ${name}`);
}
const ratio = (a, b) => med[a] / med[b];
const jwtRatio = ratio('@tokhost/sdk generateToken (JWT)', `official opentok ${officialVersion} generateToken (JWT)`);
const t1Ratio = ratio('@tokhost/sdk generateToken (T1)', `official opentok ${officialVersion} generateToken (T1)`);
const ceiling = ratio('@tokhost/sdk generateToken (JWT)', 'baseline: bare node:crypto HS256 JWT');
console.log(`ratio JWT: @tokhost/sdk / official = ${jwtRatio.toFixed(1)}x (target >= 40x)`);
console.log(`ratio T1:  @tokhost/sdk / official = ${t1Ratio.toFixed(1)}x`);
console.log(`@tokhost/sdk JWT reaches ${(ceiling * 100).toFixed(0)}% of the bare node:crypto HS256 ceiling`);
