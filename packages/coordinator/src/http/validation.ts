/**
 * Request validation with TypeBox's compiled checkers instead of fastify's default Ajv: the route
 * schemas are TypeBox schemas (some carry Kage's `errorMessage` key, which Ajv's strict mode
 * rejects), nothing is coerced or silently removed (an unknown key in a matrix is an error, not a
 * key dropped), and a refused request lists every problem at once, worded like the problems of a
 * config or matrix file, so the user fixes a body in one go.
 */
import { describeValue, ERROR_MESSAGE, excerpt } from '@kage/common';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifySchemaCompiler } from 'fastify';
import { ApiError, type RequestProblem } from './api-error.js';

/** Problems listed in one answer: enough to fix a body, bounded for a huge wrong one. */
export const MAX_LISTED_PROBLEMS = 20;

/** What the validator hands fastify; fastify passes it back to {@link formatSchemaErrors}. */
interface SchemaProblem {
  instancePath: string;
  message: string;
  keyword: string;
  schemaPath: string;
  params: Record<string, unknown>;
}

function problem(instancePath: string, message: string): SchemaProblem {
  return { instancePath, message, keyword: 'typebox', schemaPath: '', params: {} };
}

function lowerFirst(s: string): string {
  return s.length === 0 ? s : s[0]!.toLowerCase() + s.slice(1);
}

/**
 * The validator fastify calls for each request part. Only the first {@link MAX_LISTED_PROBLEMS}
 * distinct paths are collected: TypeBox yields errors lazily, so a megabyte of wrong items costs no
 * more than twenty.
 */
export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema }) => {
  const checker = TypeCompiler.Compile(schema);
  return (value: unknown) => {
    if (checker.Check(value)) return { value };
    // No body (or a bare `null`): say so rather than describe a type mismatch on nothing.
    if (value === undefined || value === null) return { error: [problem('', 'is required')] };
    const problems: SchemaProblem[] = [];
    const seen = new Set<string>();
    for (const e of checker.Errors(value)) {
      // A missing key gives "required" and then a type error on `undefined`: keep the first.
      if (e.value === undefined && e.message !== 'Expected required property') continue;
      // A custom message covers every way a key can be wrong: say it once per key.
      if (seen.has(e.path)) continue;
      seen.add(e.path);
      const custom = (e.schema as Record<string, unknown>)[ERROR_MESSAGE];
      let reason: string;
      if (e.message === 'Unexpected property') reason = 'unknown key';
      else if (e.message === 'Expected required property') reason = 'required key is missing';
      else if (typeof custom === 'string') reason = `${custom}, got ${describeValue(e.value)}`;
      else reason = `${lowerFirst(e.message)}, got ${describeValue(e.value)}`;
      problems.push(problem(e.path, reason));
      if (problems.length >= MAX_LISTED_PROBLEMS) break;
    }
    return { error: problems.length > 0 ? problems : [problem('', 'does not match its schema')] };
  };
};

/**
 * Fastify's `schemaErrorFormatter`: one {@link ApiError} naming each field as
 * `body/targets/0/url: reason`, with the same list as `problems`.
 */
export function formatSchemaErrors(
  errors: readonly { instancePath?: string; message?: string }[],
  dataVar: string,
): Error {
  const problems: RequestProblem[] = errors.map((e) => ({
    path: `${dataVar}${excerpt(e.instancePath ?? '', 120)}`,
    reason: e.message ?? 'is invalid',
  }));
  const listed = problems.map((p) => `${p.path}: ${p.reason}`).join('; ');
  const more = errors.length >= MAX_LISTED_PROBLEMS ? ` (first ${MAX_LISTED_PROBLEMS} problems)` : '';
  return new ApiError('KAGE_ERR_BAD_REQUEST', `invalid request${more}: ${listed}`, { problems });
}
