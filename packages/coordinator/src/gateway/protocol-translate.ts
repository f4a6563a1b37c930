// TEMPORARY SHIM: replaced by the full translation module.
export const ollamaErrorBody = (message: string) => ({ error: message });
export const openAIErrorBody = (message: string, type: string, code: string | null, param: string | null) => ({
  error: { message, type, param, code },
});
export const ollamaStreamErrorLine = (message: string) => `${JSON.stringify({ error: message })}\n`;
export const openAIStreamErrorEvent = (message: string) =>
  `data: ${JSON.stringify({ error: { message, type: 'api_error', param: null, code: null } })}\n\n`;
type Body = Record<string, unknown>;
function common(body: Body, model: string): Body {
  const o = (body['options'] ?? {}) as Body;
  return {
    model,
    ...(o['num_predict'] === undefined ? {} : { max_tokens: o['num_predict'] }),
    ...(o['temperature'] === undefined ? {} : { temperature: o['temperature'] }),
  };
}
export const ollamaChatToOpenAI = (body: Body, model: string): Body => ({
  ...common(body, model),
  messages: body['messages'],
});
export const ollamaGenerateToOpenAI = (body: Body, model: string): Body => ({
  ...common(body, model),
  messages: [
    ...(typeof body['system'] === 'string' ? [{ role: 'system', content: body['system'] }] : []),
    { role: 'user', content: body['prompt'] ?? '' },
  ],
});
export class OpenAIToOllamaStream {
  #kind: 'chat' | 'generate';
  #model: string;
  #count = 0;
  #reason = 'stop';
  #done = false;
  #failed = false;
  #first: bigint | null = null;
  #last: bigint | null = null;
  constructor(o: { kind: 'chat' | 'generate'; model: string }) {
    this.#kind = o.kind;
    this.#model = o.model;
  }
  push(chunk: unknown): string[] {
    const c = chunk as {
      choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>;
      error?: { message?: string };
    };
    if (c.error !== undefined) {
      this.#failed = true;
      return [`${JSON.stringify({ error: c.error.message ?? 'error' })}\n`];
    }
    const choice = c.choices?.[0];
    if (choice?.finish_reason) {
      this.#reason = choice.finish_reason;
      this.#done = true;
    }
    const text = choice?.delta?.content ?? '';
    if (text === '') return [];
    this.#count += 1;
    const now = process.hrtime.bigint();
    this.#first ??= now;
    this.#last = now;
    const created_at = new Date().toISOString();
    return [
      `${JSON.stringify(this.#kind === 'chat' ? { model: this.#model, created_at, message: { role: 'assistant', content: text }, done: false } : { model: this.#model, created_at, response: text, done: false })}\n`,
    ];
  }
  failed(): boolean {
    return this.#failed;
  }
  finished(): boolean {
    return this.#done;
  }
  rates() {
    if (this.#first === null || this.#last === null || this.#count < 2) return { prefillTps: null, decodeTps: null };
    const s = Number(this.#last - this.#first) / 1e9;
    return { prefillTps: null, decodeTps: s > 0 ? (this.#count - 1) / s : null };
  }
  finish(): string {
    const created_at = new Date().toISOString();
    const base = this.#kind === 'chat' ? { message: { role: 'assistant', content: '' } } : { response: '' };
    return `${JSON.stringify({ model: this.#model, created_at, ...base, done: true, done_reason: this.#reason, eval_count: this.#count })}\n`;
  }
}
export function openAICompletionToOllama(
  c: unknown,
  o: { kind: 'chat' | 'generate'; model: string; startedNs: bigint },
): Body {
  const x = c as {
    choices?: Array<{ message?: { content?: string }; finish_reason?: string }>;
    usage?: { completion_tokens?: number; prompt_tokens?: number };
  };
  const text = x.choices?.[0]?.message?.content ?? '';
  const base = o.kind === 'chat' ? { message: { role: 'assistant', content: text } } : { response: text };
  return {
    model: o.model,
    created_at: new Date().toISOString(),
    ...base,
    done: true,
    done_reason: x.choices?.[0]?.finish_reason ?? 'stop',
    eval_count: x.usage?.completion_tokens ?? 0,
    prompt_eval_count: x.usage?.prompt_tokens ?? 0,
  };
}
