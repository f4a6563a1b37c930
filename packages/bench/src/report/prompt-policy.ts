/**
 * The sentence that tells a reader of a TTFT figure what it measured: whether requests could hit
 * the servers' prompt caches, and what the servers said they took from them. Pure text, shared by
 * the markdown and HTML renderers.
 */
import type { KageReport } from '../report-json.js';

export function promptPolicyText(report: KageReport): string {
  const policy =
    report.run.prompt_policy === 'same_prompt'
      ? 'the same prompt for every request (unique_prompt_prefix: false): servers answer repeats from their prompt cache, so TTFT measures a cached prefill'
      : 'a random tag at the start of every prompt (unique_prompt_prefix): no request can reuse an earlier prompt from a server cache, so TTFT includes the full prefill (only the chat template before the prompt can be cached)';
  const counted = report.cells.filter((c) => c.cached_prompt_tokens?.median != null);
  if (counted.length === 0) return `Prompts: ${policy}.`;
  const listed = counted
    .map(
      (c) =>
        `${c.target} × ${c.model}${c.concurrency > 1 ? ` @${c.concurrency}` : ''}: ${c.cached_prompt_tokens?.median}`,
    )
    .join(', ');
  return `Prompts: ${policy}. Prompt tokens the servers report as cached (median): ${listed}.`;
}
