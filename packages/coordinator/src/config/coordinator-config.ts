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
import { dirname, resolve } from 'node:path';
import { parseYaml, problemAt, schemaViolations, type Problem } from '@kage/common';
import type { Ctx } from './config-context.js';
import { CoordinatorConfigError, invalid, wholeFile } from './coordinator-config-error.js';
import {
  COORDINATOR_CONFIG_DEFAULTS,
  CoordinatorConfigFileSchema,
  type CoordinatorConfigFile,
} from './coordinator-config-schema.js';
import type { CoordinatorConfig } from './coordinator-config-types.js';
import { resolveDb } from './db-path.js';
import { deepFreeze, hide, readonlyMap } from './frozen-config.js';
import { checkDistinct, parseListen } from './listen-address.js';
import { resolveGateway } from './gateway-config.js';
import { MAX_TEXT_BYTES, decodeText, findControlCharacter, readSmallFile, tooLarge } from './small-file.js';
import { resolveTls } from './tls-files.js';
import { resolveAuth } from './token-files.js';
import { describeType, isRecord } from './untrusted-value.js';

export type {
  CoordinatorConfig,
  CoordinatorGrpcConfig,
  CoordinatorGrpcTlsConfig,
  CoordinatorHttpConfig,
  CoordinatorRetentionConfig,
} from './coordinator-config-types.js';
export { CoordinatorConfigError, type CoordinatorConfigErrorCode } from './coordinator-config-error.js';

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
    ctx.problem(
      [],
      `must be a mapping of keys (grpc, http, db, auth, retention, gateway, emulated), got ${describeType(value)}`,
    );
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
  const gatewayListen =
    isRecord(f.gateway) && typeof f.gateway.listen === 'string'
      ? parseListen(ctx, ['gateway', 'listen'], f.gateway.listen, '0.0.0.0:11500')
      : null;
  if (gatewayListen !== null) {
    if (grpcListen !== null) checkDistinct(ctx, grpcListen, gatewayListen, { first: 'grpc', second: 'gateway' });
    if (httpListen !== null) checkDistinct(ctx, httpListen, gatewayListen, { first: 'http', second: 'gateway' });
  }
  const gateway = isRecord(f.gateway) ? await resolveGateway(ctx, f.gateway, gatewayListen) : null;
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
    gateway,
    emulated: f.emulated ?? false,
  };
  // Not enumerable: `log.info({ config })`, util.inspect or JSON.stringify never print a secret.
  hide(config, 'agentTokens', readonlyMap(auth.agentTokens));
  hide(config, 'apiToken', auth.apiToken);
  return deepFreeze(config as CoordinatorConfig);
}
