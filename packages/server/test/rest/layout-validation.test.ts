import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createSessionId, KEY_A, postJson, startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;
const UUID = '4f7b3c63-5e0b-4a3c-9c9b-6d1f0d8e2a11';
const JSON_TYPE = { 'content-type': 'application/json' };

/** Layout bodies OpenTok refuses, with the field and words the 400 must name. */
const BAD: [string, unknown, RegExp][] = [
  ['focus is a class, not a type', { type: 'focus' }, /layout\.type: must be one of bestFit, pip, verticalPresentation, horizontalPresentation, custom/],
  ['no type', { stylesheet: 'stream {}' }, /layout\.type: is required/],
  ['custom without stylesheet', { type: 'custom' }, /layout\.stylesheet: is required when type is custom/],
  ['custom with a blank stylesheet', { type: 'custom', stylesheet: '  ' }, /layout\.stylesheet: is required/],
  ['stylesheet with another type', { type: 'pip', stylesheet: 'stream { width: 10px }' }, /layout\.stylesheet: is only allowed when type is custom/],
  ['stylesheet not a string', { type: 'custom', stylesheet: 5 }, /layout\.stylesheet: must be a string/],
  ['screenshareType without bestFit', { type: 'pip', screenshareType: 'pip' }, /layout\.screenshareType: is only allowed when type is bestFit/],
  ['screenshareType custom', { type: 'bestFit', screenshareType: 'custom' }, /layout\.screenshareType: must be one of bestFit, pip, verticalPresentation, horizontalPresentation$/],
  ['screenshareType focus', { type: 'bestFit', screenshareType: 'focus' }, /layout\.screenshareType/],
  ['child combinator', { type: 'custom', stylesheet: 'stream > x { width: 1px }' }, /layout\.stylesheet: unsupported selector '>' in 'stream > x'/],
  ['unsupported property', { type: 'custom', stylesheet: 'stream { color: red }' }, /layout\.stylesheet: unsupported property 'color'/],
  ['unsupported value', { type: 'custom', stylesheet: 'stream { width: 3em }' }, /layout\.stylesheet: unsupported value '3em' for 'width'/],
  ['not CSS', { type: 'custom', stylesheet: 'stream { width: ' }, /layout\.stylesheet: invalid stylesheet: Unclosed block/],
  ['too long', { type: 'custom', stylesheet: `stream { width: 1px }${' '.repeat(10_000)}` }, /layout\.stylesheet: must be at most 10000 characters/],
];

describe('REST layout validation (archive and broadcast)', () => {
  let server: Server;
  let sessionId = '';
  beforeAll(async () => {
    server = await startServer();
    sessionId = await createSessionId(server, 'p2p.preference=disabled');
  });
  afterAll(() => server.close());

  const message = (r: { json: unknown }): string => (r.json as { message: string }).message;

  it.each(BAD)('PUT …/layout refuses %s with 400 naming the field', async (_, body, words) => {
    for (const kind of ['archive', 'broadcast']) {
      const r = await call(server, 'PUT', `/v2/project/${KEY_A}/${kind}/${UUID}/layout`, { body: JSON.stringify(body), headers: JSON_TYPE });
      expect(r.status).toBe(400);
      expect(message(r)).toMatch(words);
    }
  });

  it('a valid layout passes validation and reaches the archive lookup (404 for an unknown archive)', async () => {
    for (const body of [
      { type: 'bestFit' },
      { type: 'bestFit', screenshareType: 'verticalPresentation' },
      { type: 'pip', stylesheet: '' },
      { type: 'custom', stylesheet: 'stream.focus:first-child + stream ~ stream:nth-child(2n+1) { float: left; width: 50%; height: 50%; z-index: 2; position: relative }' },
    ]) {
      const r = await call(server, 'PUT', `/v2/project/${KEY_A}/archive/${UUID}/layout`, { body: JSON.stringify(body), headers: JSON_TYPE });
      expect(r.status, JSON.stringify(body)).toBe(404);
    }
  });

  it('start archive and start broadcast refuse a bad layout before any state changes', async () => {
    const bad = { type: 'custom', stylesheet: 'archive stream { width: 10px }' };
    const a = await postJson(server, `/v2/project/${KEY_A}/archive`, { sessionId, layout: bad });
    expect(a.status).toBe(400);
    expect(message(a)).toMatch(/layout\.stylesheet: unsupported selector 'descendant combinator' in 'archive stream'/);
    const b = await postJson(server, `/v2/project/${KEY_A}/broadcast`, { sessionId, outputs: { hls: {} }, layout: { type: 'focus' } });
    expect(b.status).toBe(400);
    expect(message(b)).toMatch(/layout\.type/);
    const list = await call(server, 'GET', `/v2/project/${KEY_A}/archive?sessionId=${sessionId}`);
    expect(list.json).toMatchObject({ count: 0, items: [] });
    const blist = await call(server, 'GET', `/v2/project/${KEY_A}/broadcast?sessionId=${sessionId}`);
    expect(blist.json).toMatchObject({ count: 0, items: [] });
  });
});
