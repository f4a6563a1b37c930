/**
 * The prompt EXO feeds the model: the model's chat template applied to the request's messages, then
 * tokenised without extra special tokens (`apply_chat_template` and `encode_prompt` in EXO's MLX
 * engine). The emulator has neither the templates nor the tokenizers, so it renders an
 * approximation per template family and "tokenises" it into stable ids:
 *
 * - special tokens (`<|begin_of_text|>`, `<|im_start|>`, …) are one token each, as they are for
 *   the real tokenizers;
 * - text is one token per 4 characters, each id derived from the characters, so equal text gives
 *   equal ids and a conversation that grows keeps its earlier tokens as a prefix (what EXO's prefix
 *   cache matches on).
 *
 * Families, from the Hugging Face `chat_template` of each model line:
 * - `llama3` (Llama 3.1 / 3.2 / 3.3 Instruct): `<|begin_of_text|>`, then always a system block with
 *   "Cutting Knowledge Date: December 2023" and "Today Date: 26 Jul 2024" (Llama 3.2 prints the
 *   current date instead; a fixed date keeps prompts reproducible), the first system message
 *   inside it; each message is `<|start_header_id|>role<|end_header_id|>\n\n` content `<|eot_id|>`;
 *   the answer opens with an assistant header. About 25 tokens of overhead plus 5 per message.
 * - `qwen2.5`: ChatML (`<|im_start|>role\n` content `<|im_end|>\n`), and when the first message is
 *   not a system message the template inserts "You are Qwen, created by Alibaba Cloud. You are a
 *   helpful assistant."; the answer opens with `<|im_start|>assistant\n`.
 * - `chatml` (Qwen3 and every other model): ChatML without a default system prompt.
 */
import type { ChatMessage } from './api-requests.js';

export type TemplateFamily = 'llama3' | 'qwen2.5' | 'chatml';

const LLAMA_DATE_PREAMBLE = 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n';
const QWEN25_DEFAULT_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

/** Ids of special tokens; text ids start above them. */
const SPECIAL = {
  beginOfText: 1,
  startHeader: 2,
  endHeader: 3,
  endOfTurn: 4,
  imStart: 5,
  imEnd: 6,
  newline: 7,
  doubleNewline: 8,
} as const;
const ROLE_IDS: Readonly<Record<string, number>> = {
  system: 16,
  user: 17,
  assistant: 18,
  developer: 19,
  tool: 20,
  function: 21,
};
const TEXT_ID_BASE = 1024;

/** Characters per text token: the emulator's usual estimate (`estimateTokens`). */
const CHARS_PER_TOKEN = 4;

/** The template family of a model, from its Hugging Face id. */
export function templateFamily(modelId: string): TemplateFamily {
  const id = modelId.toLowerCase();
  if (/llama-3|llama3|nemotron-70b/.test(id)) return 'llama3';
  if (/qwen2\.5/.test(id)) return 'qwen2.5';
  return 'chatml';
}

/** FNV-1a of a short string, folded above the special ids. */
function textId(chunk: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < chunk.length; i++) {
    hash ^= chunk.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return TEXT_ID_BASE + (hash % 0x7fff0000);
}

function pushText(out: number[], text: string): void {
  for (let i = 0; i < text.length; i += CHARS_PER_TOKEN) out.push(textId(text.slice(i, i + CHARS_PER_TOKEN)));
}

function roleId(role: string): number {
  return ROLE_IDS[role] ?? ROLE_IDS.user!;
}

function llama3(messages: readonly ChatMessage[]): number[] {
  const out: number[] = [SPECIAL.beginOfText];
  let rest = messages;
  let system = '';
  if (messages[0]?.role === 'system') {
    system = messages[0].content.trim();
    rest = messages.slice(1);
  }
  out.push(SPECIAL.startHeader, roleId('system'), SPECIAL.endHeader, SPECIAL.doubleNewline);
  pushText(out, LLAMA_DATE_PREAMBLE + system);
  out.push(SPECIAL.endOfTurn);
  for (const m of rest) {
    out.push(SPECIAL.startHeader, roleId(m.role), SPECIAL.endHeader, SPECIAL.doubleNewline);
    pushText(out, m.content.trim());
    out.push(SPECIAL.endOfTurn);
  }
  out.push(SPECIAL.startHeader, roleId('assistant'), SPECIAL.endHeader, SPECIAL.doubleNewline);
  return out;
}

function chatml(messages: readonly ChatMessage[], defaultSystem: string | null): number[] {
  const out: number[] = [];
  const turn = (role: string, content: string): void => {
    out.push(SPECIAL.imStart, roleId(role), SPECIAL.newline);
    pushText(out, content);
    out.push(SPECIAL.imEnd, SPECIAL.newline);
  };
  if (defaultSystem !== null && messages[0]?.role !== 'system') turn('system', defaultSystem);
  for (const m of messages) turn(m.role, m.content);
  out.push(SPECIAL.imStart, roleId('assistant'), SPECIAL.newline);
  return out;
}

/** The prompt's token ids after the model's chat template, with the answer's opening header. */
export function promptTokenIds(modelId: string, messages: readonly ChatMessage[]): number[] {
  switch (templateFamily(modelId)) {
    case 'llama3':
      return llama3(messages);
    case 'qwen2.5':
      return chatml(messages, QWEN25_DEFAULT_SYSTEM);
    case 'chatml':
      return chatml(messages, null);
  }
}

/**
 * `system_prompt_token_count`: the tokens of the system and developer messages joined by spaces.
 * EXO only updates a prefix-cache entry in place when a hit covers at least this many tokens (and
 * at least 1000).
 */
export function systemPromptTokens(messages: readonly ChatMessage[]): number {
  const text = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => m.content)
    .join(' ');
  return text.length === 0 ? 0 : Math.ceil(text.length / CHARS_PER_TOKEN);
}
