import { LayoutError } from '../errors.js';

/** A length: pixels or a percentage of the containing block. */
export type Len = { px: number } | { pct: number };
export type LenAuto = Len | 'auto';
export type LenNone = Len | 'none';

/** The properties of OpenTok's subset after parsing, each with its CSS initial value's type. */
export interface Style {
  display: 'block' | 'inline' | 'inline-block' | 'none';
  position: 'static' | 'relative' | 'absolute';
  float: 'none' | 'left' | 'right';
  clear: 'none' | 'left' | 'right' | 'both';
  width: LenAuto;
  height: LenAuto;
  minWidth: Len;
  minHeight: Len;
  maxWidth: LenNone;
  maxHeight: LenNone;
  top: LenAuto;
  right: LenAuto;
  bottom: LenAuto;
  left: LenAuto;
  marginTop: LenAuto;
  marginRight: LenAuto;
  marginBottom: LenAuto;
  marginLeft: LenAuto;
  zIndex: number | 'auto';
  overflow: 'visible' | 'hidden';
  objectFit: 'contain' | 'cover';
}

/**
 * A stream's style before any rule applies: CSS initial values plus OpenTok's defaults
 * `stream { display: block; margin: 0 }`, and `object-fit: contain` (OpenTok letterboxes).
 */
export const INITIAL_STYLE: Readonly<Style> = Object.freeze({
  display: 'block',
  position: 'static',
  float: 'none',
  clear: 'none',
  width: 'auto',
  height: 'auto',
  minWidth: { px: 0 },
  minHeight: { px: 0 },
  maxWidth: 'none',
  maxHeight: 'none',
  top: 'auto',
  right: 'auto',
  bottom: 'auto',
  left: 'auto',
  marginTop: { px: 0 },
  marginRight: { px: 0 },
  marginBottom: { px: 0 },
  marginLeft: { px: 0 },
  zIndex: 'auto',
  overflow: 'visible',
  objectFit: 'contain',
});

/** One longhand assignment a declaration makes. */
export type Assignment = { [K in keyof Style]: { prop: K; value: Style[K] } }[keyof Style];

const bad = (value: string, prop: string): LayoutError => new LayoutError('ERR_LAYOUT_STYLESHEET', `unsupported value '${value}' for '${prop}'`);

const NUMBER = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)(px|%)?$/;

function length(raw: string, prop: string, opts: { negative: boolean; auto?: boolean; none?: boolean }): Len | 'auto' | 'none' {
  if (opts.auto && raw === 'auto') return 'auto';
  if (opts.none && raw === 'none') return 'none';
  const m = NUMBER.exec(raw);
  if (!m) throw bad(raw, prop);
  const n = Number(m[1]);
  if (!Number.isFinite(n)) throw bad(raw, prop);
  if (n < 0 && !opts.negative) throw bad(raw, prop);
  // CSS allows a unitless number only for zero.
  if (m[2] === undefined && n !== 0) throw bad(raw, prop);
  return m[2] === '%' ? { pct: n } : { px: n };
}

function keyword<T extends string>(raw: string, prop: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw bad(raw, prop);
  return raw as T;
}

function single(words: string[], raw: string, prop: string): string {
  if (words.length !== 1 || words[0] === undefined) throw bad(raw, prop);
  return words[0];
}

/** The properties of the subset, each with its parser (property name → longhand assignments). */
const PARSERS: Record<string, (words: string[], raw: string, prop: string) => Assignment[]> = {
  width: (w, r, p) => [{ prop: 'width', value: length(single(w, r, p), p, { negative: false, auto: true }) as LenAuto }],
  height: (w, r, p) => [{ prop: 'height', value: length(single(w, r, p), p, { negative: false, auto: true }) as LenAuto }],
  'min-width': (w, r, p) => [{ prop: 'minWidth', value: length(single(w, r, p), p, { negative: false }) as Len }],
  'min-height': (w, r, p) => [{ prop: 'minHeight', value: length(single(w, r, p), p, { negative: false }) as Len }],
  'max-width': (w, r, p) => [{ prop: 'maxWidth', value: length(single(w, r, p), p, { negative: false, none: true }) as LenNone }],
  'max-height': (w, r, p) => [{ prop: 'maxHeight', value: length(single(w, r, p), p, { negative: false, none: true }) as LenNone }],
  top: (w, r, p) => [{ prop: 'top', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  right: (w, r, p) => [{ prop: 'right', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  bottom: (w, r, p) => [{ prop: 'bottom', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  left: (w, r, p) => [{ prop: 'left', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  'margin-top': (w, r, p) => [{ prop: 'marginTop', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  'margin-right': (w, r, p) => [{ prop: 'marginRight', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  'margin-bottom': (w, r, p) => [{ prop: 'marginBottom', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  'margin-left': (w, r, p) => [{ prop: 'marginLeft', value: length(single(w, r, p), p, { negative: true, auto: true }) as LenAuto }],
  margin: (w, r, p) => {
    if (w.length < 1 || w.length > 4) throw bad(r, p);
    const v = w.map((x) => length(x, p, { negative: true, auto: true }) as LenAuto);
    const [t, rt = t, b = t, l = rt] = v as [LenAuto, LenAuto?, LenAuto?, LenAuto?];
    return [
      { prop: 'marginTop', value: t },
      { prop: 'marginRight', value: rt },
      { prop: 'marginBottom', value: b },
      { prop: 'marginLeft', value: l },
    ];
  },
  position: (w, r, p) => [{ prop: 'position', value: keyword(single(w, r, p), p, ['static', 'relative', 'absolute'] as const) }],
  display: (w, r, p) => [{ prop: 'display', value: keyword(single(w, r, p), p, ['block', 'inline', 'inline-block', 'none'] as const) }],
  float: (w, r, p) => [{ prop: 'float', value: keyword(single(w, r, p), p, ['none', 'left', 'right'] as const) }],
  clear: (w, r, p) => [{ prop: 'clear', value: keyword(single(w, r, p), p, ['none', 'left', 'right', 'both'] as const) }],
  overflow: (w, r, p) => [{ prop: 'overflow', value: keyword(single(w, r, p), p, ['visible', 'hidden'] as const) }],
  'object-fit': (w, r, p) => [{ prop: 'objectFit', value: keyword(single(w, r, p), p, ['contain', 'cover'] as const) }],
  'z-index': (w, r, p) => {
    const v = single(w, r, p);
    if (v === 'auto') return [{ prop: 'zIndex', value: 'auto' }];
    if (!/^[+-]?\d{1,9}$/.test(v)) throw bad(r, p);
    return [{ prop: 'zIndex', value: Number(v) }];
  },
};

/** The property names of OpenTok's subset. */
export const SUPPORTED_PROPERTIES: readonly string[] = Object.freeze(Object.keys(PARSERS));

/** Parses one declaration into longhand assignments; throws naming the property or value. */
export function parseDeclaration(prop: string, rawValue: string): Assignment[] {
  const name = prop.trim().toLowerCase();
  const parse = PARSERS[name];
  if (!parse) throw new LayoutError('ERR_LAYOUT_STYLESHEET', `unsupported property '${prop.trim()}'`);
  const raw = rawValue.trim().toLowerCase();
  const words = raw.split(/\s+/).filter((x) => x !== '');
  return parse(words, rawValue.trim(), name);
}
