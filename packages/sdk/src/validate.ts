/**
 * Option checks shared by the resource modules. Each throws an `ArgumentError` whose message names
 * the argument or option, before any request is made.
 */
import { LAYOUT_TYPES, SCREENSHARE_LAYOUT_TYPES } from '@tokhost/protocol';
import type { LayoutType, ScreenshareLayoutType } from '@tokhost/protocol';
import { ArgumentError } from './errors.js';

export function fail(message: string): never {
  throw new ArgumentError(message);
}

/**
 * A required, non-empty string argument. `missing` is the message when it is absent (`undefined`,
 * `null` or `""`): opentok-node's own wording where it has one ("No archive ID given"), since apps
 * match on it; any other wrong value gets `<name> must be a non-empty string`.
 */
export function requireId(name: string, value: unknown, missing?: string): string {
  if (missing !== undefined && (value === undefined || value === null || value === '')) fail(missing);
  if (typeof value !== 'string' || value.length === 0) fail(`${name} must be a non-empty string`);
  return value;
}

/** An options argument: `undefined`/`null` → `{}`, else it must be a plain object. */
export function optionsObject<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(`${name} must be an object`);
  return value as Partial<T>;
}

export function optionalString(name: string, value: unknown, maxLength?: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(`${name} must be a string`);
  if (maxLength !== undefined && value.length > maxLength) fail(`${name} must be at most ${maxLength} characters`);
  return value;
}

export function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail(`${name} must be a boolean`);
  return value;
}

export function optionalOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(`${name} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
  return value as T;
}

export function optionalInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalStringArray(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(`${name} must be an array of strings`);
  return value as string[];
}

/** A composed-layout object: `{type, stylesheet?, screenshareType?}` (reference §3.2 "Layout"). */
export interface Layout {
  /** Layout type; `custom` needs a `stylesheet`. */
  type: LayoutType;
  /** CSS for the `custom` type (and only for it). */
  stylesheet?: string;
  /** Layout used while a screen-share stream is present; only with `type: "bestFit"` (not `custom`). */
  screenshareType?: ScreenshareLayoutType;
}

export function checkLayout(name: string, value: unknown): Layout {
  const o = optionsObject<Layout>(name, value);
  if (value === undefined || value === null) fail(`${name} must be an object`);
  const type = optionalOneOf(`${name}.type`, o.type, LAYOUT_TYPES);
  if (type === undefined) fail(`${name}.type is required`);
  const stylesheet = optionalString(`${name}.stylesheet`, o.stylesheet === null ? undefined : o.stylesheet);
  const screenshareType = optionalOneOf(`${name}.screenshareType`, o.screenshareType === null ? undefined : o.screenshareType, SCREENSHARE_LAYOUT_TYPES);
  if (type === 'custom' && !stylesheet) fail(`${name}.stylesheet is required when ${name}.type is "custom"`);
  if (stylesheet && type !== 'custom') fail(`${name}.stylesheet is only allowed when ${name}.type is "custom"`);
  if (screenshareType !== undefined && type !== 'bestFit') fail(`${name}.screenshareType is only allowed when ${name}.type is "bestFit"`);
  const layout: Layout = { type };
  if (stylesheet) layout.stylesheet = stylesheet;
  if (screenshareType) layout.screenshareType = screenshareType;
  return layout;
}

/** Copy `value` onto `out[key]` when defined; keeps the caller's key order for the wire body. */
export function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}
