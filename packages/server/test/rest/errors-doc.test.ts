import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, type RestMapping } from '../../src/http/errors.js';

// docs/errors.md's table of REST errors is generated from ERROR_TABLE: this test fails when the
// two differ, and `UPDATE_DOCS=1` writes the doc instead.
const DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'docs', 'errors.md');
const BEGIN = '<!-- generated from ERROR_TABLE (packages/server/src/http/errors.ts) by packages/server/test/rest/errors-doc.test.ts; UPDATE_DOCS=1 rewrites it -->';
const END = '<!-- end of the generated table -->';

const cell = (text: string) => text.replaceAll('|', '\\|');

/** The Markdown table of every row of ERROR_TABLE, in its order. */
export function renderErrorTable(): string {
  const rows = (Object.entries(ERROR_TABLE) as [string, RestMapping][]).map(
    ([code, row]) => `| \`${code}\` | ${row.status} | ${row.bodyCode} | ${row.message ? cell(`"${row.message}"`) : 'its own'} | ${cell(row.when)} |`,
  );
  return ['| error code | HTTP | body `code` | body `message` | when |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

describe('docs/errors.md', () => {
  it('shows ERROR_TABLE as it is (UPDATE_DOCS=1 writes it)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const begin = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(begin, `docs/errors.md has no line ${BEGIN}`).toBeGreaterThanOrEqual(0);
    expect(end, `docs/errors.md has no line ${END}`).toBeGreaterThan(begin);
    const expected = `${doc.slice(0, begin + BEGIN.length)}\n${renderErrorTable()}\n${doc.slice(end)}`;
    if (process.env.UPDATE_DOCS === '1' && expected !== doc) writeFileSync(DOC, expected);
    else expect(doc).toBe(expected);
  });

  it('has the codes that drifted before the doc was generated', () => {
    const table = renderErrorTable();
    expect(table).toContain('| `ERR_SESSION_NO_CLIENTS` | 400 | 400 |');
    expect(table).toContain('| `ERR_OWNER_UNAVAILABLE` | 503 | 503 |');
  });
});
