/**
 * The doctor's two ways of looking: a short command's output and a small HTTP answer. Both are
 * bounded in time and never throw, so a broken node makes a check fail instead of the doctor.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const PROBE_TIMEOUT_MS = 3000;

/** stdout of a short command, or null when it is missing or fails. */
export async function output(file: string, args: readonly string[]): Promise<string | null> {
  try {
    const { stdout } = await run(file, [...args], { timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' });
    return stdout;
  } catch {
    return null;
  }
}

export type HttpAnswer = { status: number; text: string } | { error: string };

export async function httpText(url: string): Promise<HttpAnswer> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    // undici's "fetch failed" says nothing; its cause has the socket code or the reason.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (err instanceof Error && err.name === 'TimeoutError')
      return { error: `no answer within ${PROBE_TIMEOUT_MS} ms` };
    return { error: cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : 'error') };
  }
}

/** The JSON of a 200 answer, or why there is none (`ECONNREFUSED`, `HTTP 404`, `not JSON`). */
export async function httpJson(url: string): Promise<{ json: unknown } | { error: string }> {
  const answer = await httpText(url);
  if ('error' in answer) return answer;
  if (answer.status !== 200) return { error: `HTTP ${answer.status}` };
  try {
    return { json: JSON.parse(answer.text) as unknown };
  } catch {
    return { error: 'not JSON' };
  }
}
