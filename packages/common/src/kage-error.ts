/**
 * The one base of every coded error in Kage. Programs branch on `code` (stable, never reused),
 * people read `message` and `hint`. Codes survive where classes do not: across package copies,
 * process boundaries, the gRPC stream and the REST API, so nothing should test `instanceof` on a
 * subclass to decide what to do.
 */

/** A coded error: a stable `code`, a message for people, an optional `hint` saying what to do. */
export class KageError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly hint: string | undefined;

  constructor(code: Code, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** A readable message for any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `code` of an error-like value when it is a non-empty string, else undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/** The `hint` of an error-like value when it is a non-empty string, else undefined. */
export function errorHint(err: unknown): string | undefined {
  const hint = typeof err === 'object' && err !== null ? (err as { hint?: unknown }).hint : undefined;
  return typeof hint === 'string' && hint !== '' ? hint : undefined;
}
