// Types of import-cycles.mjs for the tests that import it (tsconfig.tests.json does not check JS).

/** The folder graph of `root` and its cycles; `edges`: from → to → the imports (`file → spec`) that make the edge. */
export function folderCycles(root: string): { edges: Map<string, Map<string, string[]>>; cycles: string[][] };
