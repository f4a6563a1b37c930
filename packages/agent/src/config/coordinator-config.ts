/**
 * The `coordinator` section: the `host:port` the agent dials, the token it authenticates with (read
 * from `token_file`, or inline), and optional TLS files. Secrets are read here, at load time, so a
 * missing or unreadable file is a config error (exit 78) rather than a reconnect loop that never
 * succeeds.
 */
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { CoordinatorConfig, CoordinatorTlsConfig } from './agent-config-types.js';
import type { AgentConfigFile } from './agent-config-schema.js';
import { resolveConfigPath, type ConfigContext } from './config-context.js';
import { describeFsError, formatMode, formatPath, isGroupOrWorldReadable, type Segment, isRecord } from '@kage/common';

/** A token travels in gRPC metadata: one line of visible ASCII, nothing else. */
const TOKEN = /^[\x21-\x7e]+$/;
/** Anything bigger is not a token file (a mistyped path to a log or a key, say). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Splits `host:port` / `[v6]:port`; records a problem and returns null when it is neither. */
export function parseHostPort(
  ctx: ConfigContext,
  path: readonly Segment[],
  raw: string,
): { host: string; port: number; address: string } | null {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw);
  if (scheme !== null) {
    ctx.problem(path, `write "host:port" without a scheme (got ${scheme[1]}://), e.g. "100.77.248.9:50551"`);
    return null;
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
  if (m === null) {
    ctx.problem(path, `must be "host:port" (IPv6 as "[addr]:port"), got ${JSON.stringify(raw)}`);
    return null;
  }
  const v6 = m[1];
  const host = v6 ?? m[2] ?? '';
  const port = Number(m[3]);
  let ok = true;
  if (v6 !== undefined ? isIP(v6) !== 6 : isIP(host) !== 4 && !HOST_NAME.test(host)) {
    ctx.problem(path, `"${host}" is not a valid host name or IP address`);
    ok = false;
  }
  if (!(port >= 1 && port <= 65535)) {
    ctx.problem(path, `port ${m[3]} is out of range (1-65535)`);
    ok = false;
  }
  return ok ? { host, port, address: v6 !== undefined ? `[${v6}]:${port}` : `${host}:${port}` } : null;
}

/** Checks the section and reads its files. Returns null when anything in it is wrong. */
export async function resolveCoordinator(
  ctx: ConfigContext,
  raw: unknown,
  configFileMode: number | null,
): Promise<CoordinatorConfig | null> {
  if (!isRecord(raw)) return null; // the schema already reported it
  const c = raw as Partial<AgentConfigFile['coordinator']>;
  const base: Segment[] = ['coordinator'];
  const hostPort = typeof c.url === 'string' ? parseHostPort(ctx, [...base, 'url'], c.url) : null;

  let token: string | null = null;
  let tokenFile: string | null = null;
  const hasFile = c.token_file !== undefined;
  const hasInline = c.token !== undefined;
  if (hasFile && hasInline) {
    ctx.problem([...base, 'token'], 'give either token_file or token, not both');
  } else if (!hasFile && !hasInline) {
    ctx.problem(base, 'needs token_file (recommended) or token: agents must authenticate to the coordinator');
  } else if (typeof c.token_file === 'string') {
    tokenFile = resolveConfigPath(ctx, [...base, 'token_file'], c.token_file);
    if (tokenFile !== null) token = await readToken(ctx, [...base, 'token_file'], tokenFile);
  } else if (typeof c.token === 'string') {
    token = checkToken(ctx, [...base, 'token'], c.token);
    if (token !== null && configFileMode !== null && isGroupOrWorldReadable(configFileMode)) {
      ctx.warn(
        `coordinator.token is written inline in a config file readable by group/others ` +
          `(mode ${formatMode(configFileMode)}); prefer token_file with mode 0600`,
      );
    }
  }

  const tls = c.tls === undefined ? null : await resolveTls(ctx, c.tls);
  if (hostPort === null || token === null || tls === undefined) return null;
  const out: Omit<CoordinatorConfig, 'token'> = {
    address: hostPort.address,
    host: hostPort.host,
    port: hostPort.port,
    tokenFile,
    tls,
    keepaliveTimeMs: c.keepalive_time_ms ?? null,
    keepaliveTimeoutMs: c.keepalive_timeout_ms ?? null,
  };
  // Not enumerable: `log.info({ config })` or JSON.stringify(config) must never print the secret.
  Object.defineProperty(out, 'token', { value: token, enumerable: false });
  return out as CoordinatorConfig;
}

/** `undefined` when a TLS key is wrong (problems recorded), else the resolved material. */
async function resolveTls(ctx: ConfigContext, raw: unknown): Promise<CoordinatorTlsConfig | undefined> {
  if (!isRecord(raw)) return undefined;
  const t = raw as { ca?: unknown; cert?: unknown; key?: unknown };
  const base: Segment[] = ['coordinator', 'tls'];
  let ok = true;
  if ((t.cert === undefined) !== (t.key === undefined)) {
    ctx.problem([...base, t.cert === undefined ? 'key' : 'cert'], 'cert and key go together (mutual TLS)');
    ok = false;
  }
  const read = async (name: 'ca' | 'cert' | 'key'): Promise<{ file: string | null; pem: string | null }> => {
    const value = t[name];
    if (typeof value !== 'string') {
      if (value !== undefined) ok = false;
      return { file: null, pem: null };
    }
    const file = resolveConfigPath(ctx, [...base, name], value);
    const pem = file === null ? null : await readPem(ctx, [...base, name], file, name === 'key');
    if (pem === null) ok = false;
    return { file, pem };
  };
  const ca = await read('ca');
  const cert = await read('cert');
  const key = await read('key');
  if (!ok) return undefined;
  const out = { caFile: ca.file, caPem: ca.pem, certFile: cert.file, certPem: cert.pem, keyFile: key.file };
  Object.defineProperty(out, 'keyPem', { value: key.pem, enumerable: false });
  return out as CoordinatorTlsConfig;
}

async function readToken(ctx: ConfigContext, path: readonly Segment[], file: string): Promise<string | null> {
  const text = await readSecretFile(ctx, path, file, true);
  if (text === null) return null;
  const token = text.trim();
  if (token === '') {
    ctx.problem(path, `${file} is empty`);
    return null;
  }
  if (!TOKEN.test(token)) {
    ctx.problem(path, `${file} must hold exactly one token: one line of printable ASCII, no spaces`);
    return null;
  }
  return token;
}

function checkToken(ctx: ConfigContext, path: readonly Segment[], token: string): string | null {
  if (TOKEN.test(token)) return token;
  ctx.problem(path, 'must be one line of printable ASCII without spaces');
  return null;
}

async function readPem(ctx: ConfigContext, path: readonly Segment[], file: string, secret: boolean) {
  const text = await readSecretFile(ctx, path, file, secret);
  if (text === null) return null;
  if (!text.includes('-----BEGIN ')) {
    ctx.problem(path, `${file} is not a PEM file (no "-----BEGIN" line)`);
    return null;
  }
  return text;
}

/** Reads a small file; warns when a secret is readable by group or others. */
async function readSecretFile(
  ctx: ConfigContext,
  path: readonly Segment[],
  file: string,
  secret: boolean,
): Promise<string | null> {
  try {
    const info = await stat(file);
    if (!info.isFile()) {
      ctx.problem(path, `${file} is not a regular file`);
      return null;
    }
    if (info.size > MAX_SECRET_FILE_BYTES) {
      ctx.problem(path, `${file} is ${info.size} bytes: too large for this key (at most 64 KiB)`);
      return null;
    }
    if (secret && isGroupOrWorldReadable(info.mode)) {
      ctx.warn(
        `${file} (${formatPath(path)}) is readable by group/others (mode ${formatMode(info.mode)}); ` +
          `make it owned by the agent's user with mode 0600`,
      );
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    ctx.problem(path, `cannot read ${file}: ${describeFsError(err)}`);
    return null;
  }
}
