/**
 * Loads the gRPC contract at run time with the exact options the committed types in
 * `src/generated/` were generated with, and returns it typed.
 *
 * The .proto files ship inside this package (`proto/`), so they are found relative to this module:
 * two levels up from `dist/src/` (compiled) as from `src/` (run from source), wherever the package
 * is installed. No walking up through folders that belong to someone else.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/agent.js';
import { LOADER_OPTIONS, PROTO_FILES } from './generated/loader-options.js';

/**
 * This package's `proto/` directory. Compiled code runs from `dist/src/`, so the package root is
 * two levels up; run from `src/` it is one level up. Whichever holds the contract wins.
 */
export function contractProtoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../..', '..']) {
    const candidate = join(here, up, 'proto');
    if (existsSync(join(candidate, PROTO_FILES[0] ?? ''))) return candidate;
  }
  throw Object.assign(new Error(`the gRPC contract ${PROTO_FILES.join(', ')} is missing from the @kage/wire package`), {
    code: 'KAGE_ERR_WIRE_PROTO_MISSING',
  });
}

let loaded: ProtoGrpcType | undefined;

/** The typed package definition (`kage.v1.*`), loaded once per process. */
export function loadContract(): ProtoGrpcType {
  if (loaded === undefined) {
    const definition = loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [contractProtoRoot()] });
    // The generated ProtoGrpcType describes exactly what loadSync builds with LOADER_OPTIONS.
    loaded = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded;
}
