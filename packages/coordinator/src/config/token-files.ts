/**
 * `auth`: the agent tokens and the API token, inline or in files of their own. Reasons never quote
 * a token.
 */
import { formatMode, isGroupOrWorldReadable, parseYaml, problemAt, type Segment, type YamlSource } from '@kage/common';
import type { Ctx } from './config-context.js';
import type { AuthFile } from './coordinator-config-schema.js';
import { readTextAt, resolveConfigPath } from './named-files.js';
import { MAX_TOKENS_FILE_BYTES } from './small-file.js';
import { describeType, isRecord } from './untrusted-value.js';

/** A token travels in an HTTP/2 header (`authorization: Bearer …`): visible ASCII, nothing else. */
const TOKEN = /^[\x21-\x7e]+$/;
/** Long enough not to be guessed; `openssl rand -hex 32` gives 64. */
const MIN_TOKEN_LENGTH = 16;
/** Far below gRPC's 8 KiB metadata limit. */
const MAX_TOKEN_LENGTH = 1024;
/** The agent's `node` rule: every node id accepted here is one an agent can claim. */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

export async function resolveAuth(
  ctx: Ctx,
  raw: unknown,
): Promise<{ agentTokens: Map<string, string>; apiToken: string } | null> {
  if (!isRecord(raw)) return null; // the schema reported it
  const a = raw as Partial<AuthFile>;
  const agentTokens = await resolveAgentTokens(ctx, a);
  const api = await resolveApiToken(ctx, a);
  if (agentTokens === null || api === null) return null;
  for (const [node, token] of agentTokens) {
    if (token === api.token) {
      ctx.problem(
        api.path,
        `the API token is also the token of node "${node}": it must differ from every agent token, or that agent could call the REST API`,
      );
      return null;
    }
  }
  return { agentTokens, apiToken: api.token };
}

async function resolveAgentTokens(ctx: Ctx, a: Partial<AuthFile>): Promise<Map<string, string> | null> {
  const hasFile = a.agent_tokens_file !== undefined;
  const hasInline = a.agent_tokens !== undefined;
  if (hasFile && hasInline) {
    ctx.problem(['auth', 'agent_tokens'], 'give either agent_tokens_file or agent_tokens, not both');
    return null;
  }
  if (!hasFile && !hasInline) {
    ctx.problem(
      ['auth'],
      'needs agent_tokens_file (recommended) or agent_tokens: every agent authenticates with a token of its own',
    );
    return null;
  }
  if (typeof a.agent_tokens_file === 'string') {
    const path: Segment[] = ['auth', 'agent_tokens_file'];
    const tokensFile = resolveConfigPath(ctx, path, a.agent_tokens_file);
    const text = tokensFile === null ? null : await readTextAt(ctx, path, tokensFile, true, MAX_TOKENS_FILE_BYTES);
    if (tokensFile === null || text === null) return null;
    // Problems inside the tokens file are positioned in that file, under its own name.
    const parsed = parseYaml(text, tokensFile);
    if (!('source' in parsed)) {
      for (const p of parsed.problems) ctx.add(p);
      return null;
    }
    const source: YamlSource = parsed.source;
    const at = (rel: readonly Segment[], reason: string) => ctx.add(problemAt(source, tokensFile, rel, reason));
    if (!isRecord(parsed.value)) {
      at([], `must be a mapping of node id → token, e.g. "srv1: <token>", got ${describeType(parsed.value)}`);
      return null;
    }
    return checkAgentTokens(parsed.value, at);
  }
  if (isRecord(a.agent_tokens)) {
    checkInlineSecret(ctx, ['auth', 'agent_tokens'], 'agent_tokens_file');
    return checkAgentTokens(a.agent_tokens, (rel, reason) => ctx.problem(['auth', 'agent_tokens', ...rel], reason));
  }
  return null; // a wrong type, reported by the schema
}

/** Node ids and tokens of one mapping; `at` records a problem at a path inside it. */
function checkAgentTokens(
  map: Record<string, unknown>,
  at: (path: readonly Segment[], reason: string) => void,
): Map<string, string> | null {
  const entries = Object.entries(map);
  if (entries.length === 0) {
    at([], 'lists no node: give one "node-id: token" entry per agent');
    return null;
  }
  const out = new Map<string, string>();
  const owner = new Map<string, string>();
  let ok = true;
  for (const [node, token] of entries) {
    if (!NODE_ID.test(node)) {
      at([node], 'is not a valid node id: letters, digits, ".", "_" and "-", starting with a letter or digit');
      ok = false;
    }
    const reason = tokenReason(token, 'the token');
    if (reason !== null) {
      at([node], reason);
      ok = false;
      continue;
    }
    const first = owner.get(token as string);
    if (first !== undefined) {
      at([node], `has the same token as node "${first}": every node needs a token of its own`);
      ok = false;
      continue;
    }
    owner.set(token as string, node);
    out.set(node, token as string);
  }
  return ok ? out : null;
}

async function resolveApiToken(ctx: Ctx, a: Partial<AuthFile>): Promise<{ token: string; path: Segment[] } | null> {
  const hasFile = a.api_token_file !== undefined;
  const hasInline = a.api_token !== undefined;
  if (hasFile && hasInline) {
    ctx.problem(['auth', 'api_token'], 'give either api_token_file or api_token, not both');
    return null;
  }
  if (!hasFile && !hasInline) {
    ctx.problem(['auth'], 'needs api_token_file (recommended) or api_token: the REST API never runs without a token');
    return null;
  }
  if (hasFile) {
    const path: Segment[] = ['auth', 'api_token_file'];
    if (typeof a.api_token_file !== 'string') return null; // the schema reported it
    const tokenFile = resolveConfigPath(ctx, path, a.api_token_file);
    const text = tokenFile === null ? null : await readTextAt(ctx, path, tokenFile, true);
    if (text === null) return null;
    // `echo "$token" > file` and editors end the line; nothing else around the token is accepted.
    const token = text.replace(/[\r\n]+$/, '');
    const reason = token === '' ? `${tokenFile} is empty` : tokenReason(token, `the token in ${tokenFile}`);
    if (reason !== null) {
      ctx.problem(path, reason);
      return null;
    }
    return { token, path };
  }
  const path: Segment[] = ['auth', 'api_token'];
  checkInlineSecret(ctx, path, 'api_token_file');
  const reason = tokenReason(a.api_token, 'the token');
  if (reason !== null) {
    ctx.problem(path, reason);
    return null;
  }
  return { token: a.api_token as string, path };
}

/** Why `value` is not a usable token (never quoting it), or null when it is. */
function tokenReason(value: unknown, subject: string): string | null {
  if (typeof value !== 'string') return `${subject} must be a string (quote it), got ${describeType(value)}`;
  if (value === '') return `${subject} is empty`;
  if (!TOKEN.test(value)) {
    return `${subject} must be one line of printable ASCII without spaces (it travels in an HTTP/2 header)`;
  }
  if (value.length < MIN_TOKEN_LENGTH) {
    return `${subject} is shorter than ${MIN_TOKEN_LENGTH} characters; generate one with \`openssl rand -hex 32\``;
  }
  if (value.length > MAX_TOKEN_LENGTH) return `${subject} is longer than ${MAX_TOKEN_LENGTH} characters`;
  return null;
}

/** Tokens inline are held to the rule of token files: unreadable by group and others. */
function checkInlineSecret(ctx: Ctx, path: readonly Segment[], fileKey: string): void {
  if (ctx.fileMode === null || !isGroupOrWorldReadable(ctx.fileMode)) return;
  ctx.problem(
    path,
    `is a token written inline in ${ctx.file}, which is readable by group/others (mode ${formatMode(ctx.fileMode)}); ` +
      `make it owned by the coordinator's user with mode 0600, or use ${fileKey}`,
  );
}
