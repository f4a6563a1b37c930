/**
 * commander argument parsers: each rejects a bad value with a message naming the expected form,
 * which commander prints as `error: option '--x <n>' argument 'v' is invalid. <reason>`.
 */
import { InvalidArgumentError } from 'commander';

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a non-negative integer.');
  }
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = parseNonNegativeInt(value);
  if (n === 0) throw new InvalidArgumentError('expected an integer of at least 1.');
  return n;
}

export function parseNonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('expected a non-negative number.');
  }
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = parseNonNegativeNumber(value);
  if (n === 0) throw new InvalidArgumentError('expected a number above 0.');
  return n;
}

export function parseFraction(value: string): number {
  const n = parseNonNegativeNumber(value);
  if (n > 1) throw new InvalidArgumentError('expected a number between 0 and 1.');
  return n;
}

export function parseCommaList(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list.');
  return items;
}

/** Reads a non-negative integer from an environment variable the real server also reads. */
export function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(
      `environment variable ${name}=${JSON.stringify(raw)} is not a non-negative integer.`,
    );
  }
  return n;
}
