import { CssSyntaxError, parse } from 'postcss';
import type { ChildNode } from 'postcss';
import { LayoutError } from '../errors.js';
import { compileSelectorList, matches } from './selectors.js';
import type { CompiledSelector } from './selectors.js';
import { INITIAL_STYLE, parseDeclaration } from './values.js';
import type { Assignment, Style } from './values.js';

interface CompiledRule {
  selectors: CompiledSelector[];
  assignments: { assignment: Assignment; important: boolean }[];
  /** Position in the stylesheet: later rules win among equal specificity. */
  index: number;
}

/**
 * A custom stylesheet parsed and checked against OpenTok's subset, ready to lay out any number of
 * times. Make one with {@link compileStylesheet}.
 */
export interface CompiledStylesheet {
  readonly source: string;
  /** @internal */
  readonly rules: readonly CompiledRule[];
}

/** Longest stylesheet accepted, in characters (the REST API caps the field the same way). */
export const MAX_STYLESHEET_LENGTH = 10_000;

/**
 * Parse + check a custom stylesheet once; throws LayoutError (code 'ERR_LAYOUT_STYLESHEET',
 * message naming the unsupported construct, e.g. "unsupported selector '>' in 'stream > x'" or
 * "unsupported property 'color'").
 *
 * @example
 * const sheet = compileStylesheet('stream { float: left; width: 50%; height: 50% }');
 */
export function compileStylesheet(css: string): CompiledStylesheet {
  if (typeof css !== 'string') throw new LayoutError('ERR_LAYOUT_STYLESHEET', 'stylesheet must be a string');
  if (css.length > MAX_STYLESHEET_LENGTH) throw new LayoutError('ERR_LAYOUT_STYLESHEET', `stylesheet is longer than ${MAX_STYLESHEET_LENGTH} characters`);
  let root;
  try {
    root = parse(css);
  } catch (cause) {
    const reason = cause instanceof CssSyntaxError ? `${cause.reason} at line ${cause.line ?? '?'}, column ${cause.column ?? '?'}` : String(cause);
    throw new LayoutError('ERR_LAYOUT_STYLESHEET', `invalid stylesheet: ${reason}`, { cause });
  }
  const rules: CompiledRule[] = [];
  for (const node of root.nodes) rules.push(...compileNode(node, rules.length));
  return Object.freeze({ source: css, rules: Object.freeze(rules) });
}

function compileNode(node: ChildNode, index: number): CompiledRule[] {
  switch (node.type) {
    case 'comment':
      return [];
    case 'atrule':
      throw new LayoutError('ERR_LAYOUT_STYLESHEET', `unsupported at-rule '@${node.name}'`);
    case 'decl':
      throw new LayoutError('ERR_LAYOUT_STYLESHEET', `declaration '${node.prop}' outside a rule`);
    case 'rule': {
      const selectors = compileSelectorList(node.selector);
      const assignments: CompiledRule['assignments'] = [];
      for (const child of node.nodes) {
        if (child.type === 'comment') continue;
        if (child.type !== 'decl') throw new LayoutError('ERR_LAYOUT_STYLESHEET', `unsupported nested rule in '${node.selector.trim()}'`);
        for (const assignment of parseDeclaration(child.prop, child.value)) assignments.push({ assignment, important: child.important === true });
      }
      return [{ selectors, assignments, index }];
    }
    default:
      throw new LayoutError('ERR_LAYOUT_STYLESHEET', `unsupported construct '${(node as { type: string }).type}'`);
  }
}

/**
 * The cascade for every `<stream>` child of the container (class lists in document order): each
 * declaration of a matching rule applies in order of importance, specificity, then source order,
 * over {@link INITIAL_STYLE}. Rules that match only the container are ignored: it is the canvas.
 */
export function computeStyles(sheet: CompiledStylesheet, classLists: readonly (readonly string[])[]): Style[] {
  return classLists.map((_, i) => {
    const applied: { important: boolean; spec: [number, number]; index: number; order: number; assignment: Assignment }[] = [];
    let order = 0;
    for (const rule of sheet.rules) {
      let best: [number, number] | undefined;
      for (const sel of rule.selectors) {
        if (!matches(sel, classLists, i)) continue;
        if (!best || compareSpec(sel.specificity, best) > 0) best = sel.specificity;
      }
      if (!best) continue;
      for (const { assignment, important } of rule.assignments) applied.push({ important, spec: best, index: rule.index, order: order++, assignment });
    }
    applied.sort((a, b) => Number(a.important) - Number(b.important) || compareSpec(a.spec, b.spec) || a.index - b.index || a.order - b.order);
    const style: Style = { ...INITIAL_STYLE };
    for (const { assignment } of applied) (style as unknown as Record<string, unknown>)[assignment.prop] = assignment.value;
    return style;
  });
}

function compareSpec(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}
