/**
 * Counting tokens of answer text, for servers that stream text without a token count
 * (docs/benchmarks.md: server count first, else tokenised text, chunk counting last). The encoder
 * is o200k_base, a general-purpose BPE: close to, not identical with, a Llama or Qwen tokenizer —
 * still far better than counting chunks, which undercounts whenever a chunk carries several tokens.
 *
 * The encoder tables cost ~150 ms and tens of MB to load, so they load once, on the first request
 * (before its clock starts), and never in processes that send none (the agent daemon).
 */
type Encode = (text: string) => number[];

let encode: Encode | undefined;
let loading: Promise<void> | undefined;

/** Loads the encoder once; later calls resolve at once. Call before `t_send`, never inside timing. */
export function preloadTokenizer(): Promise<void> {
  loading ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => {
    encode = m.encode;
  });
  return loading;
}

/** Tokens in `text`, or null when the encoder is not loaded. */
export function countTextTokens(text: string): number | null {
  return encode === undefined ? null : encode(text).length;
}
