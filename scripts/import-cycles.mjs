// Folder-level import cycles of one source tree: `node scripts/import-cycles.mjs [dir]`
// (default packages/server/src). Each first-level folder is one node, and so is each file at the
// top (the composition root imports every folder; config.ts is imported by many);
// an import between two folders is an edge; every strongly connected component of more than one
// folder is a cycle, printed with the file imports that make it. Exit 1 when there is one.
// Imports are read with TypeScript's own pre-processor (no type-check, no emit), so type-only
// imports count too: a folder that needs another's types depends on it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Every `.ts` source file under `dir` (tests left out: they may reach across on purpose). */
function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const folderOf = (root, file) => {
  const rel = relative(root, file).split(sep);
  return rel[0];
};

/**
 * The folder graph of `root` and its cycles.
 * @returns {{ edges: Map<string, Map<string, string[]>>, cycles: string[][] }} edges: from → to → the imports (`file → spec`)
 */
export function folderCycles(root) {
  const edges = new Map();
  for (const file of sourceFiles(root)) {
    const from = folderOf(root, file);
    if (!edges.has(from)) edges.set(from, new Map());
    for (const { fileName: spec } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!target.startsWith(root + sep)) continue;
      const to = folderOf(root, target);
      if (to === from) continue;
      const byTo = edges.get(from);
      if (!byTo.has(to)) byTo.set(to, []);
      byTo.get(to).push(`${relative(root, file)} → ${spec}`);
    }
  }
  // Tarjan's strongly connected components over the folders.
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return { edges, cycles };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(process.argv[2] ?? join(here, '..', 'packages', 'server', 'src'));
  const { edges, cycles } = folderCycles(root);
  if (cycles.length === 0) {
    console.log(`no folder-level import cycle in ${relative(process.cwd(), root) || '.'} (${edges.size} folders)`);
    process.exit(0);
  }
  for (const scc of cycles) {
    console.log(`cycle between ${scc.join(', ')}:`);
    for (const from of scc)
      for (const [to, why] of edges.get(from) ?? [])
        if (scc.includes(to)) for (const w of why) console.log(`  ${from} → ${to}: ${w}`);
  }
  process.exit(1);
}
