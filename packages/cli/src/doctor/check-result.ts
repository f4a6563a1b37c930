/**
 * What every `kage doctor` check answers: pass, warn or fail, what it saw and how to fix it, about
 * which node. The command exits 0 when no check fails (warnings included) and 1 when one does; with
 * `--json` it prints `{ status, checks: [{ id, node, status, message, fix }] }`.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  /** The node the check is about: `--all` names each, `--node` this one, else this host's name. */
  node?: string;
  status: CheckStatus;
  /** What was seen. */
  message: string;
  /** What to do; null when nothing is to be done. */
  fix: string | null;
}

export const pass = (id: string, message: string): CheckResult => ({ id, status: 'pass', message, fix: null });
export const warn = (id: string, message: string, fix: string): CheckResult => ({ id, status: 'warn', message, fix });
export const fail = (id: string, message: string, fix: string): CheckResult => ({ id, status: 'fail', message, fix });

/** The same results, each said of `node`. */
export function onNode(node: string, results: readonly CheckResult[]): CheckResult[] {
  return results.map((r) => ({ ...r, node }));
}

/** The worst status of `results`. */
export function worst(results: readonly CheckResult[]): CheckStatus {
  if (results.some((r) => r.status === 'fail')) return 'fail';
  return results.some((r) => r.status === 'warn') ? 'warn' : 'pass';
}

/** `1929912432` → `1.9 GB`: model sizes, as Ollama and Hugging Face print them. */
export function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** `1073741824` → `1.0 GiB`: memory sizes, as the kernel counts them. */
export function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
