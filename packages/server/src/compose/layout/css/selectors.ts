import selectorParser from 'postcss-selector-parser';
import { LayoutError } from '../errors.js';

/** `:nth-child(an+b)` and friends: matches 1-based position p when p = a·n + b for some n ≥ 0. */
export interface Nth {
  a: number;
  b: number;
}

/** One compound selector: `stream.focus:first-child`. */
export interface Compound {
  /** `stream` matches streams, `archive`/`broadcast` the container; undefined matches both. */
  type?: 'stream' | 'container';
  classes: string[];
  firstChild: boolean;
  lastChild: boolean;
  nthChild: Nth[];
  nthLastChild: Nth[];
}

/** A complex selector, right to left: the subject, then each compound with the combinator joining it to the one before. */
export interface CompiledSelector {
  subject: Compound;
  /** From the subject leftwards: `+` (directly before) or `~` (somewhere before). */
  chain: { combinator: '+' | '~'; compound: Compound }[];
  /** Specificity as (classes and pseudo-classes, types); IDs are refused. */
  specificity: [number, number];
  text: string;
}

const refuse = (what: string, selector: string): LayoutError =>
  new LayoutError('ERR_LAYOUT_STYLESHEET', `unsupported selector '${what}' in '${selector}'`);

/** Parses `an+b`, `odd`, `even`, `3`, `-n+2` (CSS Syntax §6). */
export function parseNth(raw: string): Nth | undefined {
  const s = raw.replace(/\s+/g, '').toLowerCase();
  if (s === 'odd') return { a: 2, b: 1 };
  if (s === 'even') return { a: 2, b: 0 };
  if (/^[+-]?\d+$/.test(s)) return { a: 0, b: Number(s) };
  const m = /^([+-]?\d*)n([+-]\d+)?$/.exec(s);
  if (!m) return undefined;
  const a = m[1] === '' || m[1] === '+' ? 1 : m[1] === '-' ? -1 : Number(m[1]);
  return { a, b: m[2] ? Number(m[2]) : 0 };
}

/** Whether 1-based position `p` is a·n + b for some integer n ≥ 0. */
export function nthMatches({ a, b }: Nth, p: number): boolean {
  if (a === 0) return p === b;
  const n = (p - b) / a;
  return Number.isInteger(n) && n >= 0;
}

const emptyCompound = (): Compound => ({ classes: [], firstChild: false, lastChild: false, nthChild: [], nthLastChild: [] });

/** Compiles one selector list (`a, b`) of OpenTok's subset; throws naming the first construct outside it. */
export function compileSelectorList(text: string): CompiledSelector[] {
  let root: selectorParser.Root;
  try {
    root = selectorParser().astSync(text);
  } catch (cause) {
    throw new LayoutError('ERR_LAYOUT_STYLESHEET', `invalid selector '${text.trim()}'`, { cause });
  }
  return root.nodes.map((sel) => compileSelector(sel));
}

function compileSelector(sel: selectorParser.Selector): CompiledSelector {
  const text = sel.toString().trim();
  const compounds: Compound[] = [emptyCompound()];
  const combinators: ('+' | '~')[] = [];
  let spec: [number, number] = [0, 0];
  let empty = true;
  for (const node of sel.nodes) {
    const current = compounds[compounds.length - 1]!;
    switch (node.type) {
      case 'comment':
        break;
      case 'combinator': {
        const value = node.value.trim();
        if (value === '+' || value === '~') {
          if (empty) throw refuse(node.value.trim() || 'descendant combinator', text);
          combinators.push(value);
          compounds.push(emptyCompound());
          empty = true;
          break;
        }
        throw refuse(value === '' ? 'descendant combinator' : value, text);
      }
      case 'tag': {
        const name = node.value.toLowerCase();
        if (current.type !== undefined) throw refuse(node.value, text);
        if (name === 'stream') current.type = 'stream';
        else if (name === 'archive' || name === 'broadcast') current.type = 'container';
        else throw refuse(node.value, text);
        spec = [spec[0], spec[1] + 1];
        empty = false;
        break;
      }
      case 'class':
        current.classes.push(node.value);
        spec = [spec[0] + 1, spec[1]];
        empty = false;
        break;
      case 'pseudo': {
        const name = node.value.toLowerCase();
        if (name === ':first-child') current.firstChild = true;
        else if (name === ':last-child') current.lastChild = true;
        else if (name === ':nth-child' || name === ':nth-last-child') {
          const arg = /\((.*)\)\s*$/s.exec(node.toString())?.[1];
          const nth = arg === undefined ? undefined : parseNth(arg);
          if (!nth) throw refuse(node.toString().trim(), text);
          (name === ':nth-child' ? current.nthChild : current.nthLastChild).push(nth);
        } else throw refuse(name, text);
        spec = [spec[0] + 1, spec[1]];
        empty = false;
        break;
      }
      case 'universal':
      case 'id':
      case 'attribute':
      case 'nesting':
      case 'string':
        throw refuse(node.toString().trim(), text);
    }
  }
  if (empty) throw new LayoutError('ERR_LAYOUT_STYLESHEET', `invalid selector '${text}'`);
  const subject = compounds[compounds.length - 1]!;
  const chain: CompiledSelector['chain'] = [];
  for (let i = compounds.length - 2; i >= 0; i--) chain.push({ combinator: combinators[i]!, compound: compounds[i]! });
  return { subject, chain, specificity: spec, text };
}


function compoundMatches(c: Compound, classList: readonly string[], index: number, count: number): boolean {
  if (c.type === 'container') return false;
  for (const k of c.classes) if (!classList.includes(k)) return false;
  if (c.firstChild && index !== 0) return false;
  if (c.lastChild && index !== count - 1) return false;
  for (const n of c.nthChild) if (!nthMatches(n, index + 1)) return false;
  for (const n of c.nthLastChild) if (!nthMatches(n, count - index)) return false;
  return true;
}

/**
 * Whether the selector matches the stream at `index` among `siblings` (the class lists of all
 * `<stream>` children of the container, in document order).
 */
export function matches(sel: CompiledSelector, siblings: readonly (readonly string[])[], index: number): boolean {
  const count = siblings.length;
  if (!compoundMatches(sel.subject, siblings[index]!, index, count)) return false;
  // Memoised by (step, sibling): a long chain of `~` would otherwise try every path of siblings.
  const memo = new Map<number, boolean>();
  const chainFrom = (at: number, j: number): boolean => {
    const step = sel.chain[at];
    if (!step) return true;
    const key = at * count + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let ok = false;
    if (step.combinator === '+') {
      const k = j - 1;
      ok = k >= 0 && compoundMatches(step.compound, siblings[k]!, k, count) && chainFrom(at + 1, k);
    } else {
      for (let k = j - 1; k >= 0 && !ok; k--) ok = compoundMatches(step.compound, siblings[k]!, k, count) && chainFrom(at + 1, k);
    }
    memo.set(key, ok);
    return ok;
  };
  return chainFrom(0, index);
}
