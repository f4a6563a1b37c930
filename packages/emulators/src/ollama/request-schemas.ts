/**
 * The request structs of `api/types.go` and `openai/openai.go` the emulator reads, as Go-decode
 * schemas, with the custom `UnmarshalJSON` checks of `keep_alive` and `think`.
 */
import { goAny, goBool, goFloat, goInt, goMap, goString, type GoType } from './go-decode.js';
import { parseKeepAliveJson } from './go-time.js';

const keepAliveType: GoType = {
  kind: 'custom',
  check: (value) => {
    const parsed = parseKeepAliveJson(value);
    return parsed.ok ? undefined : parsed.message;
  },
};

const thinkType: GoType = {
  kind: 'custom',
  check: (value) => {
    if (typeof value === 'boolean') return undefined;
    if (typeof value === 'string') {
      return ['high', 'medium', 'low', 'max'].includes(value)
        ? undefined
        : `invalid think value: ${JSON.stringify(value)} (must be "high", "medium", "low", "max", true, or false)`;
    }
    return 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)';
  },
};

/** `api.GenerateRequest`. */
export interface GenerateRequest {
  model?: string;
  prompt?: string;
  suffix?: string;
  system?: string;
  template?: string;
  context?: number[];
  stream?: boolean;
  raw?: boolean;
  keep_alive?: unknown;
  options?: Record<string, unknown>;
  think?: boolean | string;
  top_logprobs?: number;
}

export const GENERATE_REQUEST_FIELDS: Readonly<Record<string, GoType>> = {
  model: goString,
  prompt: goString,
  suffix: goString,
  system: goString,
  template: goString,
  context: { kind: 'slice', goName: '[]int', elem: goInt },
  stream: goBool,
  raw: goBool,
  format: goAny,
  keep_alive: keepAliveType,
  images: goAny,
  options: goMap,
  think: thinkType,
  truncate: goBool,
  shift: goBool,
  _debug_render_only: goBool,
  logprobs: goBool,
  top_logprobs: goInt,
};

/** `api.Message` (the fields the emulator reads). */
export interface ChatMessage {
  role?: string;
  content?: string;
}

/** `api.ChatRequest`. */
export interface ChatRequest {
  model?: string;
  messages?: (ChatMessage | undefined)[];
  stream?: boolean;
  keep_alive?: unknown;
  options?: Record<string, unknown>;
  think?: boolean | string;
  top_logprobs?: number;
}

const messageType: GoType = {
  kind: 'struct',
  goName: 'api.Message',
  fields: {
    role: goString,
    content: goString,
    thinking: goString,
    images: goAny,
    tool_calls: goAny,
    tool_name: goString,
    tool_call_id: goString,
  },
};

export const CHAT_REQUEST_FIELDS: Readonly<Record<string, GoType>> = {
  model: goString,
  messages: { kind: 'slice', goName: '[]api.Message', elem: messageType },
  stream: goBool,
  format: goAny,
  keep_alive: keepAliveType,
  tools: goAny,
  options: goMap,
  think: thinkType,
  truncate: goBool,
  shift: goBool,
  _debug_render_only: goBool,
  logprobs: goBool,
  top_logprobs: goInt,
};

/** `api.ShowRequest`. */
export interface ShowRequest {
  model?: string;
  name?: string;
  verbose?: boolean;
}

export const SHOW_REQUEST_FIELDS: Readonly<Record<string, GoType>> = {
  model: goString,
  system: goString,
  template: goString,
  verbose: goBool,
  options: goMap,
  name: goString,
};

/** `api.PullRequest`. */
export interface PullRequest {
  model?: string;
  name?: string;
  stream?: boolean;
}

export const PULL_REQUEST_FIELDS: Readonly<Record<string, GoType>> = {
  model: goString,
  insecure: goBool,
  username: goString,
  password: goString,
  stream: goBool,
  name: goString,
};

/** `openai.Message`: content is a string or a list of parts. */
export interface OpenAiMessage {
  role?: string;
  content?: unknown;
}

/** `openai.ChatCompletionRequest`. */
export interface OpenAiChatRequest {
  model?: string;
  messages?: (OpenAiMessage | undefined)[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
}

export const OPENAI_CHAT_REQUEST_FIELDS: Readonly<Record<string, GoType>> = {
  model: goString,
  messages: {
    kind: 'slice',
    goName: '[]openai.Message',
    elem: {
      kind: 'struct',
      goName: 'openai.Message',
      fields: {
        role: goString,
        content: goAny,
        reasoning: goString,
        tool_calls: goAny,
        name: goString,
        tool_call_id: goString,
      },
    },
  },
  stream: goBool,
  stream_options: { kind: 'struct', goName: 'openai.StreamOptions', fields: { include_usage: goBool } },
  max_tokens: goInt,
  seed: goInt,
  stop: goAny,
  temperature: goFloat,
  frequency_penalty: goFloat,
  presence_penalty: goFloat,
  top_p: goFloat,
  response_format: goAny,
  tools: goAny,
  reasoning: goAny,
  reasoning_effort: goString,
  logprobs: goBool,
  top_logprobs: goInt,
  _debug_render_only: goBool,
};
