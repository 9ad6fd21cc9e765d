/**
 * The OpenTok.js member list (packages/client/api-status.json): in step with the official
 * typings and with the table in docs/client.md, and what it calls supported is in the built
 * client. (That the methods and properties exist on live objects is checked in Chromium by
 * packages/server/test/e2e/client-parity.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without typings
import { membersFromTypings } from '../scripts/api-status.mjs';

interface Member {
  area: string;
  name: string;
  kind: string;
  status: 'supported' | 'partial' | 'unsupported';
  note?: string;
}
const root = new URL('..', import.meta.url);
const data = JSON.parse(readFileSync(new URL('api-status.json', root), 'utf8')) as { members: Member[] };
const bundle = new URL('dist/tokhost.js', root);

describe('api-status.json (OpenTok.js 2.35 members and their status)', () => {
  it('lists exactly the members of the official typings, each reviewed, and docs/client.md carries its table', () => {
    const fromTypings = (membersFromTypings() as { area: string; name: string }[]).map((m) => `${m.area} ${m.name}`);
    expect(data.members.map((m) => `${m.area} ${m.name}`)).toEqual(fromTypings);
    expect(fromTypings.length).toBeGreaterThan(240);
    for (const m of data.members) expect(['supported', 'partial', 'unsupported'], `${m.area} ${m.name}`).toContain(m.status);
    // Partial and unsupported members say why (or how they fail).
    for (const m of data.members.filter((x) => x.status !== 'supported')) expect(m.note ?? '', `${m.area} ${m.name}`).not.toBe('');
    // Exits 1 when api-status.json or the docs table is stale.
    execFileSync(process.execPath, [new URL('scripts/api-status.mjs', root).pathname, '--check'], { stdio: 'pipe' });
  });

  it.skipIf(!existsSync(bundle))('every supported or partial event and option name occurs in the built bundle', () => {
    const js = readFileSync(bundle, 'utf8');
    const missing = data.members
      .filter((m) => m.status !== 'unsupported' && (m.kind === 'event' || m.kind === 'option'))
      .filter((m) => (m.kind === 'event' ? !new RegExp(`["'\`]${m.name}["'\`]`).test(js) : !new RegExp(`\\b${m.name}\\b`).test(js)))
      .map((m) => `${m.area} ${m.name}`);
    expect(missing).toEqual([]);
  });
});
