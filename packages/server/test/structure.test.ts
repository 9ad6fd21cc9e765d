import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { folderCycles } from '../../../scripts/import-cycles.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** Each cycle as the imports that make it, as `node scripts/import-cycles.mjs` prints them. */
function cyclesOf(root: string): string[][] {
  const { edges, cycles } = folderCycles(root);
  return cycles.map((scc) => scc.flatMap((from) => [...(edges.get(from) ?? [])].filter(([to]) => scc.includes(to)).map(([to, why]) => `${from} → ${to}: ${why.join(', ')}`)));
}

describe('packages/server/src structure', () => {
  const { edges } = folderCycles(join(here, '..', 'src'));

  it('has no folder-level import cycle', () => {
    // The graph was read: folders that must depend on others do.
    expect(edges.get('http')?.has('services')).toBe(true);
    expect(edges.get('realtime')?.has('live')).toBe(true);
    expect(cyclesOf(join(here, '..', 'src'))).toEqual([]);
  });

  it('the error base, errors.ts, imports nothing of the server', () => {
    expect(edges.has('errors.ts')).toBe(true);
    expect([...edges.get('errors.ts')!.keys()]).toEqual([]);
  });
});

describe('realtime/state: the session state knows no client protocol', () => {
  it('imports nothing of realtime/ but the session log (the native connections read it)', () => {
    const dir = join(here, '..', 'src', 'realtime', 'state');
    const fromParent = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .flatMap((f) => ts.preProcessFile(readFileSync(join(dir, f), 'utf8'), true, true).importedFiles.map((i) => i.fileName))
      .filter((spec) => spec.startsWith('../') && !spec.startsWith('../../'));
    expect(fromParent.length).toBeGreaterThan(0);
    expect([...new Set(fromParent)]).toEqual(['../session-log.js']);
  });
});
