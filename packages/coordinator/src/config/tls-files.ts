/** `grpc.tls`: which keys go together, and the PEM files they name, read at load time. */
import type { Segment } from '@kage/common';
import type { Ctx } from './config-context.js';
import { COORDINATOR_CONFIG_DEFAULTS, type GrpcTlsFile } from './coordinator-config-schema.js';
import type { CoordinatorGrpcTlsConfig } from './coordinator-config-types.js';
import { hide } from './frozen-config.js';
import { readFileAt, resolveConfigPath } from './named-files.js';
import { MAX_PEM_BYTES, MAX_TEXT_BYTES } from './small-file.js';
import { isRecord } from './untrusted-value.js';

/** `undefined` when a TLS key is wrong (problems recorded), else the material read from the files. */
export async function resolveTls(ctx: Ctx, raw: unknown): Promise<CoordinatorGrpcTlsConfig | undefined> {
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
