/**
 * Decoding a parsed JSON value into a "Go struct": a small schema per request type that yields
 * the same `json: cannot unmarshal ...` texts `encoding/json` produces, matches keys
 * case-insensitively like Go does, and leaves `null` members unset.
 */
import { decodeGoJson } from './go-json.js';

/** A Go field type, with the spelling `encoding/json` prints in its errors. */
export type GoType =
  | { readonly kind: 'string' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'int' }
  | { readonly kind: 'float' }
  | { readonly kind: 'any' }
  | { readonly kind: 'map' }
  | { readonly kind: 'slice'; readonly goName: string; readonly elem: GoType }
  | { readonly kind: 'struct'; readonly goName: string; readonly fields: Readonly<Record<string, GoType>> }
  /** A type with its own `UnmarshalJSON`: returns an error text or undefined. */
  | { readonly kind: 'custom'; readonly check: (value: unknown) => string | undefined };

export const goString: GoType = { kind: 'string' };
export const goBool: GoType = { kind: 'bool' };
export const goInt: GoType = { kind: 'int' };
export const goFloat: GoType = { kind: 'float' };
export const goAny: GoType = { kind: 'any' };
export const goMap: GoType = { kind: 'map' };

/** What came of decoding a request body. */
export type BodyDecodeResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly eof: boolean; readonly message: string };

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'object') return 'object';
  return typeof value; // 'string' | 'number'
}

function goTypeName(type: GoType): string {
  switch (type.kind) {
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'any':
      return 'interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'slice':
    case 'struct':
      return type.goName;
    case 'custom':
      return 'custom';
  }
}

interface DecodeContext {
  /** Go struct name of the outermost struct (what Go names in `Go struct field X.y`). */
  readonly rootStruct: string;
  /** First type mismatch: Go keeps decoding and reports it at the end. */
  typeError: string | undefined;
}

/** Thrown for errors from a custom `UnmarshalJSON`, which stop decoding at once in Go. */
class ImmediateError extends Error {}

function typeMismatch(
  ctx: DecodeContext,
  path: readonly string[],
  value: unknown,
  type: GoType,
  literal = false,
): void {
  if (ctx.typeError !== undefined) return;
  const shown = literal ? `number ${String(value)}` : jsonKind(value);
  ctx.typeError = `json: cannot unmarshal ${shown} into Go struct field ${ctx.rootStruct}.${path.join('.')} of type ${goTypeName(type)}`;
}

function decodeValue(ctx: DecodeContext, path: readonly string[], value: unknown, type: GoType): unknown {
  if (value === null) return undefined;
  switch (type.kind) {
    case 'any':
      return value;
    case 'string':
    case 'bool':
      if (typeof value !== (type.kind === 'string' ? 'string' : 'boolean')) {
        typeMismatch(ctx, path, value, type);
        return undefined;
      }
      return value;
    case 'int':
      if (typeof value !== 'number') {
        typeMismatch(ctx, path, value, type);
        return undefined;
      }
      if (!Number.isInteger(value) || !Number.isSafeInteger(value)) {
        typeMismatch(ctx, path, value, type, true);
        return undefined;
      }
      return value;
    case 'float':
      if (typeof value !== 'number') {
        typeMismatch(ctx, path, value, type);
        return undefined;
      }
      return value;
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) {
        typeMismatch(ctx, path, value, type);
        return undefined;
      }
      return value;
    case 'slice': {
      if (!Array.isArray(value)) {
        typeMismatch(ctx, path, value, type);
        return undefined;
      }
      return value.map((item: unknown) => decodeValue(ctx, path, item, type.elem));
    }
    case 'struct':
      if (typeof value !== 'object' || Array.isArray(value)) {
        typeMismatch(ctx, path, value, type);
        return undefined;
      }
      return decodeStruct(ctx, path, value as Record<string, unknown>, type.fields);
    case 'custom': {
      const message = type.check(value);
      if (message !== undefined) throw new ImmediateError(message);
      return value;
    }
  }
}

function decodeStruct(
  ctx: DecodeContext,
  path: readonly string[],
  input: Record<string, unknown>,
  fields: Readonly<Record<string, GoType>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const names = Object.keys(fields);
  for (const [key, raw] of Object.entries(input)) {
    // Go prefers an exact key match but accepts a case-insensitive one.
    const name = key in fields ? key : names.find((n) => n.toLowerCase() === key.toLowerCase());
    if (name === undefined) continue;
    const type = fields[name];
    if (type === undefined) continue;
    const decoded = decodeValue(ctx, [...path, name], raw, type);
    if (decoded !== undefined) out[name] = decoded;
  }
  return out;
}

/**
 * Decodes a request body as gin's `ShouldBindJSON` into a struct with the given fields.
 * `qualifiedName` is the Go type used in error texts, e.g. `api.GenerateRequest`.
 */
export function decodeGoBody<T>(
  body: string,
  qualifiedName: string,
  fields: Readonly<Record<string, GoType>>,
): BodyDecodeResult<T> {
  const parsed = decodeGoJson(body);
  if (parsed.kind === 'eof') return { ok: false, eof: true, message: 'EOF' };
  if (parsed.kind === 'error') return { ok: false, eof: false, message: parsed.message };
  const structName = qualifiedName.slice(qualifiedName.indexOf('.') + 1);
  const ctx: DecodeContext = { rootStruct: structName, typeError: undefined };
  let value: unknown;
  try {
    if (parsed.value === null) value = {};
    else if (typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
      ctx.typeError = `json: cannot unmarshal ${jsonKind(parsed.value)} into Go value of type ${qualifiedName}`;
    } else value = decodeStruct(ctx, [], parsed.value as Record<string, unknown>, fields);
  } catch (err) {
    if (err instanceof ImmediateError) return { ok: false, eof: false, message: err.message };
    throw err;
  }
  if (ctx.typeError !== undefined) return { ok: false, eof: false, message: ctx.typeError };
  return { ok: true, value: (value ?? {}) as T };
}
