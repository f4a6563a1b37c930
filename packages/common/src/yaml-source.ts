/**
 * YAML parsing that keeps node ranges, so every config problem can say `file:line:col`, plus the
 * translation of TypeBox schema errors into short reasons for a person.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type YAMLError } from 'yaml';
import type { Problem } from './problem.js';
import { excerpt } from './text-excerpt.js';

/**
 * The schema keyword holding a custom message for every way a value can be wrong (`Type.String({
 * errorMessage: 'must be …' })`); {@link schemaViolations} prefers it to TypeBox's own wording.
 */
export const ERROR_MESSAGE = 'errorMessage';

/** Aliases a document may expand: enough for any real file, far too few for a "billion laughs". */
const MAX_ALIAS_COUNT = 100;

/** Syntax errors listed before the rest are summed up: a garbage file must not flood a terminal. */
const MAX_SYNTAX_PROBLEMS = 10;

/** One step of a key path: a mapping key or a list index. */
export type Segment = string | number;

/** A parsed file with what it takes to turn a key path back into a position. */
export interface YamlSource {
  file: string;
  doc: Document;
  lines: LineCounter;
}

/** Result of {@link parseYaml}: the plain value, or the syntax problems (never both). */
export type ParsedYaml = { source: YamlSource; value: unknown; problems: [] } | { problems: Problem[] };

/** Parses YAML (JSON is YAML too). Duplicate keys are syntax errors, not a silent "last one wins". */
export function parseYaml(text: string, file: string): ParsedYaml {
  // A binary file (an image, a database, random bytes given by mistake) is named as such rather
  // than parsed into hundreds of syntax errors.
  const nul = text.indexOf('\u0000');
  if (nul !== -1) {
    return {
      problems: [{ file, path: '', line: null, column: null, reason: `not a text file (a NUL byte at offset ${nul})` }],
    };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const shown = doc.errors.slice(0, MAX_SYNTAX_PROBLEMS).map((e) => syntaxProblem(file, e));
    const more = doc.errors.length - shown.length;
    if (more > 0)
      shown.push({ file, path: '', line: null, column: null, reason: `… and ${more} more YAML syntax errors` });
    return { problems: shown };
  }
  if (doc.contents === null) {
    return { problems: [{ file, path: '', line: null, column: null, reason: 'the file is empty' }] };
  }
  // Alias expansion is bounded: a "billion laughs" file must not exhaust the daemon's memory. The
  // parser throws when the bound is hit; that is a problem of the file, not a crash.
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const reason =
      err instanceof ReferenceError && /alias/i.test(err.message)
        ? `YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} uses of an anchor): refused as a resource exhaustion attack`
        : `YAML cannot be read: ${err instanceof Error ? err.message : String(err)}`;
    return { problems: [{ file, path: '', line: null, column: null, reason }] };
  }
  return { source: { file, doc, lines }, value, problems: [] };
}

/** A problem at `path`, positioned at the deepest existing node on that path. */
export function problemAt(source: YamlSource | null, file: string, path: readonly Segment[], reason: string) {
  const pos = source === null ? null : locate(source, path);
  const problem: Problem = {
    file,
    path: formatPath(path),
    line: pos?.line ?? null,
    column: pos?.col ?? null,
    reason,
  };
  return problem;
}

/**
 * Every violation of `schema` by `value`, with paths prefixed by `base`. For a missing key TypeBox
 * reports "required" and then a type error on `undefined`; only the first is kept.
 */
export function schemaViolations(
  schema: TSchema,
  value: unknown,
  base: readonly Segment[],
): { path: Segment[]; reason: string }[] {
  const out: { path: Segment[]; reason: string }[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value)) {
    if (e.value === undefined && e.message !== 'Expected required property') continue;
    // A custom message covers every way a key can be wrong (type, range): say it once per key.
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    const custom = (e.schema as Record<string, unknown>)[ERROR_MESSAGE];
    let reason: string;
    if (e.message === 'Unexpected property') reason = 'unknown key';
    else if (e.message === 'Expected required property') reason = 'required key is missing';
    else if (typeof custom === 'string') reason = `${custom}, got ${describeValue(e.value)}`;
    else reason = `${lowerFirst(e.message)}, got ${describeValue(e.value)}`;
    out.push({ path: [...base, ...pointerToSegments(e.path)], reason });
  }
  return out;
}

/** True for a plain object (a YAML mapping, a JSON object). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A short rendering of a wrong value for an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return excerpt(JSON.stringify(value) ?? typeof value, 60);
}

/** `['services', 'exo', 'command', 0]` → `services.exo.command[0]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

/** Line and column of the key on `path` (or of its deepest existing ancestor). */
function locate(source: YamlSource, path: readonly Segment[]): { line: number; col: number } | null {
  let node: unknown = source.doc.contents;
  let offset: number | null = rangeStart(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === null ? null : source.lines.linePos(offset);
}

function rangeStart(node: unknown): number | null {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    return range?.[0] ?? null;
  }
  return null;
}

function syntaxProblem(file: string, e: YAMLError): Problem {
  // The parser's first line names the problem; the rest is an excerpt of the source, which may be
  // binary. Only the first line is kept, and it is clipped and escaped.
  const firstLine = e.message.split('\n')[0] ?? e.message;
  const reason = excerpt(firstLine.replace(/ at line \d+, column \d+:?$/, ''), 160);
  const pos = e.linePos?.[0];
  return { file, path: '', line: pos?.line ?? null, column: pos?.col ?? null, reason: `YAML syntax: ${reason}` };
}

/** RFC 6901 pointer → segments; numeric segments become list indexes. */
function pointerToSegments(pointer: string): Segment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
