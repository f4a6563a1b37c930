/**
 * Loads `coordinator.yaml`: parse with positions, validate every key against the schema and the
 * cross-key rules, read the token and TLS files it names, and return one deep-frozen
 * `CoordinatorConfig`. Every violation is reported at once, each as `file:line:col: key.path:
 * reason`, in one `KAGE_ERR_CONFIG_INVALID` error (the CLI exits 78 on every `KAGE_ERR_CONFIG*`).
 *
 * The file is trusted to be the operator's, but it is read as untrusted input all the same: it may
 * be binary, huge or hostile YAML given by mistake, and whatever it holds ends up in a terminal or
 * the journal. Reasons never quote a token.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  describeValue,
  excerpt,
  formatProblem,
  formatProblems,
  parseYaml,
  problemAt,
  schemaViolations,
  type Problem,
  type Segment,
  type YamlSource,
} from '@kage/common';
import { CoordinatorError, type CoordinatorErrorCode } from '../coordinator-error.js';
import {
  COORDINATOR_CONFIG_DEFAULTS,
  CoordinatorConfigFileSchema,
  type AuthFile,
  type CoordinatorConfigFile,
  type GrpcTlsFile,
} from './coordinator-config-schema.js';
import type { CoordinatorConfig, CoordinatorGrpcTlsConfig } from './coordinator-config-types.js';

export type {
  CoordinatorConfig,
  CoordinatorGrpcConfig,
  CoordinatorGrpcTlsConfig,
  CoordinatorHttpConfig,
  CoordinatorRetentionConfig,
} from './coordinator-config-types.js';

/**
 * Largest config, token or key file read. A real one is a few KiB; the YAML parser's time grows
 * faster than the size (duplicate-key checks, quoting), and at 1 MiB a hostile file takes minutes.
 */
const MAX_TEXT_BYTES = 64 * 1024;
/** Largest PEM file read: room for a CA bundle, not for a mistyped path to a disk image. */
const MAX_PEM_BYTES = 1024 * 1024;
/** A config this wrong is listed up to here; the rest is counted, so a terminal is not flooded. */
const MAX_PROBLEMS = 50;

/** A token travels in an HTTP/2 header (`authorization: Bearer …`): visible ASCII, nothing else. */
const TOKEN = /^[\x21-\x7e]+$/;
/** Long enough not to be guessed; `openssl rand -hex 32` gives 64. */
const MIN_TOKEN_LENGTH = 16;
/** Far below gRPC's 8 KiB metadata limit. */
const MAX_TOKEN_LENGTH = 1024;
/** The agent's `node` rule: every node id accepted here is one an agent can claim. */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** Addresses that bind every interface, hence overlap any other address on the same port. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);
/** C0 controls except tab, LF and CR; DEL; C1 controls except NEL. YAML forbids them all. */
const CONTROL = /(?![\t\n\r\u0085])\p{Cc}/u;

export type CoordinatorConfigErrorCode = Extract<
  CoordinatorErrorCode,
  'KAGE_ERR_CONFIG_READ' | 'KAGE_ERR_CONFIG_INVALID'
>;

/**
 * Thrown by {@link loadCoordinatorConfig}. The message lists every problem (one per line) so that
 * an operator fixes the file in one go; `problems` carries the same list for programs.
 */
export class CoordinatorConfigError extends CoordinatorError {
  declare readonly code: CoordinatorConfigErrorCode;
  /** The config file as given to the loader. */
  readonly file: string;
  readonly problems: readonly Problem[];

  constructor(
    code: CoordinatorConfigErrorCode,
    file: string,
    problems: readonly Problem[],
    options: { cause?: unknown; hint?: string } = {},
  ) {
    const only = problems.length === 1 ? problems[0] : undefined;
    const message =
      code === 'KAGE_ERR_CONFIG_READ' && only !== undefined
        ? formatProblem(only)
        : formatProblems('coordinator config', file, problems);
    super(code, message, options);
    this.file = file;
    this.problems = Object.freeze([...problems]);
  }
}

export interface ParseCoordinatorConfigOptions {
  /**
   * Mode bits of the config file. Inline tokens in a file that group or others can read are
   * refused, as a token file with that mode is. Null (the default) skips that check.
   */
  fileMode?: number | null;
}

/**
 * Reads, validates and resolves a coordinator config file.
 *
 * @param file - path of `coordinator.yaml`; shown in problems as given
 * @throws {@link CoordinatorConfigError} `KAGE_ERR_CONFIG_READ` when the file cannot be read, and
 *   `KAGE_ERR_CONFIG_INVALID` listing every problem when it is not a valid config (including an
 *   unreadable token or TLS file it names)
 */
export async function loadCoordinatorConfig(file: string): Promise<CoordinatorConfig> {
  const read = await readSmallFile(file, MAX_TEXT_BYTES);
  if ('error' in read) {
    const reason = `cannot read the coordinator config: ${read.error}`;
    throw new CoordinatorConfigError('KAGE_ERR_CONFIG_READ', file, [wholeFile(file, reason)], {
      cause: read.cause,
      hint: "check the path of coordinator.yaml and that the coordinator's user can read it",
    });
  }
  if ('tooLarge' in read) {
    throw invalid(file, [
      wholeFile(file, `the file is ${tooLarge(read.size, MAX_TEXT_BYTES, 'a coordinator config')}`),
    ]);
  }
  const decoded = decodeText(read.bytes);
  if ('reason' in decoded) throw invalid(file, [wholeFile(file, decoded.reason)]);
  return parseCoordinatorConfig(decoded.text, file, { fileMode: read.mode });
}

/**
 * Validates config text as if it were read from `file` (relative paths start at its directory).
 * The token and TLS files it names are read from disk.
 *
 * @throws {@link CoordinatorConfigError} `KAGE_ERR_CONFIG_INVALID` listing every problem
 */
export async function parseCoordinatorConfig(
  text: string,
  file: string,
  options: ParseCoordinatorConfigOptions = {},
): Promise<CoordinatorConfig> {
  const control = findControlCharacter(text);
  if (control !== null) {
    throw invalid(file, [{ file, path: '', line: control.line, column: control.column, reason: control.reason }]);
  }
  const parsed = parseYaml(text, file);
  if (!('source' in parsed)) throw invalid(file, parsed.problems);
  const { source, value } = parsed;

  const problems: Problem[] = [];
  const ctx: Ctx = {
    file,
    baseDir: dirname(resolve(file)),
    fileMode: options.fileMode ?? null,
    problem: (path, reason) => problems.push(problemAt(source, file, path, reason)),
    add: (problem) => problems.push(problem),
  };
  if (!isRecord(value)) {
    ctx.problem([], `must be a mapping of keys (grpc, http, db, auth, retention, gateway), got ${describeType(value)}`);
    throw invalid(file, problems, source);
  }
  for (const v of schemaViolations(CoordinatorConfigFileSchema, value, [])) ctx.problem(v.path, v.reason);

  const f = value as Partial<CoordinatorConfigFile>;
  const grpc: Partial<CoordinatorConfigFile['grpc']> = isRecord(f.grpc) ? f.grpc : {};
  const grpcListen =
    typeof grpc.listen === 'string' ? parseListen(ctx, ['grpc', 'listen'], grpc.listen, '0.0.0.0:50551') : null;
  const httpListen =
    isRecord(f.http) && typeof f.http.listen === 'string'
      ? parseListen(ctx, ['http', 'listen'], f.http.listen, '0.0.0.0:7080')
      : null;
  if (grpcListen !== null && httpListen !== null) checkDistinct(ctx, grpcListen, httpListen);
  const tls = grpc.tls === undefined ? null : await resolveTls(ctx, grpc.tls);
  const db = typeof f.db === 'string' ? await resolveDb(ctx, f.db) : null;
  const auth = await resolveAuth(ctx, f.auth);

  if (
    problems.length > 0 ||
    grpcListen === null ||
    httpListen === null ||
    tls === undefined ||
    db === null ||
    auth === null
  ) {
    throw invalid(file, problems, source);
  }

  const d = COORDINATOR_CONFIG_DEFAULTS;
  const config: Omit<CoordinatorConfig, 'agentTokens' | 'apiToken'> = {
    file: resolve(file),
    grpc: {
      host: grpcListen.host,
      port: grpcListen.port,
      tls,
      keepaliveTimeMs: grpc.keepalive_time_ms ?? d.keepalive_time_ms,
      keepaliveTimeoutMs: grpc.keepalive_timeout_ms ?? d.keepalive_timeout_ms,
      maxMessageBytes: grpc.max_message_bytes ?? d.max_message_bytes,
    },
    http: httpListen,
    db,
    retention: {
      rawHours: f.retention?.raw_hours ?? d.raw_hours,
      minuteDays: f.retention?.minute_days ?? d.minute_days,
    },
    gateway: f.gateway ?? null,
  };
  // Not enumerable: `log.info({ config })`, util.inspect or JSON.stringify never print a secret.
  hide(config, 'agentTokens', readonlyMap(auth.agentTokens));
  hide(config, 'apiToken', auth.apiToken);
  return deepFreeze(config as CoordinatorConfig);
}

/** What the parts of the loader share while checking one file; everything is collected, nothing thrown. */
interface Ctx {
  /** The config file as given. */
  file: string;
  /** Directory of the config file: relative paths in the file start here. */
  baseDir: string;
  fileMode: number | null;
  /** Records a violation at a key path of the config file. */
  problem(path: readonly Segment[], reason: string): void;
  /** Records a violation already positioned (in a token file the config names). */
  add(problem: Problem): void;
}

// --- listen addresses -------------------------------------------------------------------------

interface HostPort {
  host: string;
  port: number;
}

/** Splits `host:port` / `[v6]:port` (port 0 = any free port); records a problem and returns null otherwise. */
function parseListen(ctx: Ctx, path: readonly Segment[], raw: string, example: string): HostPort | null {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw);
  if (scheme !== null) {
    const name = excerpt(scheme[1] ?? '', 20);
    ctx.problem(path, `is a URL; a listen address is "host:port" without ${name}://, e.g. "${example}"`);
    return null;
  }
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(raw);
  if (m === null) {
    if (!raw.startsWith('[') && raw.split(':').length > 2) {
      ctx.problem(path, `an IPv6 address goes in brackets: "[addr]:port", e.g. "[::]:${example.split(':')[1]}"`);
    } else {
      ctx.problem(path, `must be "host:port" (IPv6 as "[addr]:port"), e.g. "${example}", got ${describeValue(raw)}`);
    }
    return null;
  }
  const v6 = m[1];
  const host = v6 ?? m[2] ?? '';
  const portText = m[3] ?? '';
  let ok = true;
  if (host === '') {
    ctx.problem(
      path,
      'the host is missing: write 0.0.0.0 (every IPv4 interface), [::] (every interface) or an address',
    );
    ok = false;
  } else if (v6 !== undefined ? isIP(v6) !== 6 : !isHostName(host)) {
    ctx.problem(path, `"${excerpt(host, 60)}" is not a valid host name or IP address`);
    ok = false;
  }
  const port = Number(portText);
  if (portText.length > 5 || port > 65535) {
    ctx.problem(path, `port ${excerpt(portText, 12)} is out of range (0-65535; 0 picks a free port)`);
    ok = false;
  }
  return ok ? { host, port } : null;
}

function isHostName(host: string): boolean {
  if (isIP(host) === 4) return true;
  // "999.1.1.1" matches the host-name grammar but is a mistyped IPv4 address.
  return HOST_NAME.test(host) && !/^[\d.]+$/.test(host);
}

/** Two listeners on one port of overlapping addresses: the second bind would fail at start. */
function checkDistinct(ctx: Ctx, grpc: HostPort, http: HostPort): void {
  if (grpc.port === 0 || grpc.port !== http.port) return;
  if (grpc.host === http.host || WILDCARD_HOSTS.has(grpc.host) || WILDCARD_HOSTS.has(http.host)) {
    ctx.problem(['http', 'listen'], `port ${http.port} is taken by grpc.listen on an overlapping address`);
  }
}

// --- TLS --------------------------------------------------------------------------------------

/** `undefined` when a TLS key is wrong (problems recorded), else the material read from the files. */
async function resolveTls(ctx: Ctx, raw: unknown): Promise<CoordinatorGrpcTlsConfig | undefined> {
  if (!isRecord(raw)) return undefined; // the schema reported it
  const t = raw as Partial<GrpcTlsFile>;
  const base: Segment[] = ['grpc', 'tls'];
  let ok = true;
  if (t.cert === undefined && t.key === undefined) {
    ctx.problem(base, "needs cert and key: the coordinator's certificate and private key (PEM)");
    ok = false;
  } else if (t.cert === undefined || t.key === undefined) {
    // Reported at the key that is there: the missing one has no position.
    ctx.problem([...base, t.cert === undefined ? 'key' : 'cert'], 'cert and key go together');
    ok = false;
  }
  if (t.require_client_cert === true && t.ca === undefined) {
    ctx.problem([...base, 'require_client_cert'], "needs ca: the CA that signed the agents' client certificates");
    ok = false;
  }
  const read = async (name: 'ca' | 'cert' | 'key', maxBytes: number): Promise<Buffer | null> => {
    const value = t[name];
    if (typeof value !== 'string') {
      if (value !== undefined) ok = false; // the schema reported it
      return null;
    }
    const path = [...base, name];
    const file = resolveConfigPath(ctx, path, value);
    const pem = file === null ? null : await readFileAt(ctx, path, file, maxBytes, false);
    if (file !== null && pem !== null && !pem.includes('-----BEGIN ')) {
      ctx.problem(path, `${file} is not a PEM file (no "-----BEGIN" line)`);
      ok = false;
      return null;
    }
    if (pem === null) ok = false;
    return pem;
  };
  const ca = await read('ca', MAX_PEM_BYTES);
  const cert = await read('cert', MAX_PEM_BYTES);
  const key = await read('key', MAX_TEXT_BYTES);
  if (!ok || cert === null || key === null) return undefined;
  const out = { ca, cert, requireClientCert: t.require_client_cert ?? COORDINATOR_CONFIG_DEFAULTS.require_client_cert };
  hide(out, 'key', key);
  return out as CoordinatorGrpcTlsConfig;
}

// --- database ---------------------------------------------------------------------------------

async function resolveDb(ctx: Ctx, raw: string): Promise<string | null> {
  if (raw === ':memory:') {
    ctx.problem(
      ['db'],
      'an in-memory database loses every node, sample and run when the coordinator stops; give a file path, e.g. /var/lib/kage/kage.db',
    );
    return null;
  }
  const file = resolveConfigPath(ctx, ['db'], raw);
  if (file === null) return null;
  try {
    if ((await stat(file)).isDirectory()) {
      ctx.problem(['db'], `${file} is a directory; give the database file, e.g. ${join(file, 'kage.db')}`);
      return null;
    }
  } catch (err) {
    // A missing database is created at the first start; anything else would fail there as well.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      ctx.problem(['db'], `cannot reach ${file}: ${describeFsError(err)}`);
      return null;
    }
  }
  return file;
}

// --- tokens -----------------------------------------------------------------------------------

async function resolveAuth(
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
    const text = tokensFile === null ? null : await readTextAt(ctx, path, tokensFile, true);
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

// --- files ------------------------------------------------------------------------------------

/** Makes a path from the file absolute. `~` is not expanded: the daemon's user is not the operator. */
function resolveConfigPath(ctx: Ctx, path: readonly Segment[], value: string): string | null {
  if (value.startsWith('~')) {
    ctx.problem(path, `"~" is not expanded; write an absolute path or one relative to this file`);
    return null;
  }
  return isAbsolute(value) ? resolve(value) : resolve(ctx.baseDir, value);
}

/** A file named at `path`, as text; a binary file is a problem, not parsed. */
async function readTextAt(ctx: Ctx, path: readonly Segment[], file: string, secret: boolean): Promise<string | null> {
  const bytes = await readFileAt(ctx, path, file, MAX_TEXT_BYTES, secret);
  if (bytes === null) return null;
  const decoded = decodeText(bytes);
  if ('reason' in decoded) {
    ctx.problem(path, `${file} is ${decoded.reason}`);
    return null;
  }
  const control = findControlCharacter(decoded.text);
  if (control !== null) {
    ctx.problem(path, `${file} is ${control.reason} at line ${control.line}, column ${control.column}`);
    return null;
  }
  return decoded.text;
}

/**
 * A small file named at `path`. A secret readable by group or others is refused (and still read,
 * so that its other problems are reported in the same run).
 */
async function readFileAt(
  ctx: Ctx,
  path: readonly Segment[],
  file: string,
  maxBytes: number,
  secret: boolean,
): Promise<Buffer | null> {
  const read = await readSmallFile(file, maxBytes);
  if ('error' in read) {
    ctx.problem(path, `cannot read ${file}: ${read.error}`);
    return null;
  }
  if ('tooLarge' in read) {
    ctx.problem(path, `${file} is ${tooLarge(read.size, maxBytes, 'this key')}`);
    return null;
  }
  if (secret && isGroupOrWorldReadable(read.mode)) {
    ctx.problem(
      path,
      `${file} is readable by group/others (mode ${formatMode(read.mode)}); ` +
        `make it owned by the coordinator's user with mode 0600`,
    );
  }
  return read.bytes;
}

type SmallFile =
  | { bytes: Buffer; mode: number }
  /** `size` is null when the file grew past the limit while being read. */
  | { tooLarge: true; size: number | null }
  | { error: string; cause: unknown };

/**
 * Reads a regular file of at most `maxBytes`. Opened non-blocking so that a FIFO given by mistake
 * is refused rather than waited on; a device (`/dev/zero`) is refused rather than read forever.
 */
async function readSmallFile(file: string, maxBytes: number): Promise<SmallFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) return { error: 'not a regular file', cause: null };
    if (info.size > maxBytes) return { tooLarge: true, size: info.size };
    // Read to the end rather than trust `size`: the file may grow meanwhile, and /proc reports 0.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) return { tooLarge: true, size: null };
    }
    return { bytes: Buffer.from(buffer.subarray(0, length)), mode: info.mode };
  } catch (err) {
    return { error: describeFsError(err), cause: err };
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function tooLarge(size: number | null, maxBytes: number, what: string): string {
  const limit = maxBytes >= 1024 * 1024 ? `${maxBytes / (1024 * 1024)} MiB` : `${maxBytes / 1024} KiB`;
  return `${size === null ? `over ${limit}` : `${size} bytes`}: too large for ${what} (at most ${limit})`;
}

/** UTF-8 text, or why the bytes are not (a binary file given by mistake). A leading BOM is dropped. */
function decodeText(bytes: Buffer): { text: string } | { reason: string } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { reason: 'not a text file (invalid UTF-8)' };
  }
}

/** The first character YAML forbids, with its position: such a file is binary, not a config. */
function findControlCharacter(text: string): { line: number; column: number; reason: string } | null {
  const m = CONTROL.exec(text);
  if (m === null) return null;
  const before = text.slice(0, m.index);
  const lineStart = before.lastIndexOf('\n') + 1;
  const code = (m[0].codePointAt(0) ?? 0).toString(16).padStart(2, '0');
  return {
    line: before.split('\n').length,
    column: m.index - lineStart + 1,
    reason: `not a text file (control character 0x${code})`,
  };
}

// --- errors and small helpers -----------------------------------------------------------------

function wholeFile(file: string, reason: string): Problem {
  return { file, path: '', line: null, column: null, reason };
}

/**
 * The error for `problems`, which must not be empty: the config file's problems first, then those
 * of each file it names, each in file order, at most {@link MAX_PROBLEMS} of them.
 */
function invalid(file: string, problems: Problem[], source?: YamlSource): CoordinatorConfigError {
  if (problems.length === 0) {
    // A section resolved to null without saying why: a bug here, but still never a bad config accepted.
    problems.push(problemAt(source ?? null, file, [], 'invalid configuration'));
  }
  const rank = new Map<string, number>([[file, 0]]);
  for (const p of problems) if (!rank.has(p.file)) rank.set(p.file, rank.size);
  const ordered = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (rank.get(a.p.file) ?? 0) - (rank.get(b.p.file) ?? 0) || byPosition(a.p, b.p) || a.i - b.i)
    .map(({ p }) => p);
  if (ordered.length > MAX_PROBLEMS) {
    const more = ordered.length - (MAX_PROBLEMS - 1);
    ordered.splice(MAX_PROBLEMS - 1, Infinity, wholeFile(file, `… and ${more} more problems`));
  }
  return new CoordinatorConfigError('KAGE_ERR_CONFIG_INVALID', file, ordered, {
    hint: 'fix every listed problem, then start the coordinator again (exit 78 = configuration error)',
  });
}

/** Line, then column; problems without a position go last. */
function byPosition(a: Problem, b: Problem): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity) || 0;
}

/** What a value is, without quoting it (it may be a secret). */
function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (ArrayBuffer.isView(value)) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return 'true/false';
  return typeof value === 'number' ? 'a number' : `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** `ENOENT` → "ENOENT (no such file or directory)", for reasons a person reads. */
function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const meaning: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    ELOOP: 'too many symbolic links',
  };
  if (typeof code !== 'string') return err instanceof Error ? err.message : String(err);
  return Object.hasOwn(meaning, code) ? `${code} (${meaning[code]})` : code;
}

function isGroupOrWorldReadable(mode: number): boolean {
  return (mode & 0o044) !== 0;
}

/** `0o100640` → `"0640"`. */
function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function hide(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: false });
}

/** A Map whose mutators throw: `Object.freeze` does not stop `Map.prototype.set`. */
function readonlyMap<K, V>(map: Map<K, V>): ReadonlyMap<K, V> {
  const refuse = () => {
    throw new TypeError('the coordinator config is read-only');
  };
  for (const name of ['set', 'delete', 'clear']) Object.defineProperty(map, name, { value: refuse });
  return Object.freeze(map);
}

/** Freezes plain objects and arrays; buffers cannot be frozen and are left as they are. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
