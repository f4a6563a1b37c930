/**
 * Loads the gRPC contract (`proto/kage/v1/agent.proto`) at run time with the exact options the
 * committed types in `src/generated/` were generated with (style R11), and returns it typed.
 *
 * The .proto lives in the repository's top-level `proto/` directory, not in this package, so it is
 * found by walking up from this module: from `src/stream/` (tsx) as from `dist/src/stream/`
 * (compiled), and from any install that keeps the repository layout.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../generated/agent.js';
import { LOADER_OPTIONS, PROTO_FILES } from '../generated/loader-options.js';
import { StreamError } from './errors.js';

/** The contract's entry file, relative to the proto root. */
const AGENT_PROTO = 'kage/v1/agent.proto';

/**
 * The nearest `proto/` directory holding `kage/v1/agent.proto`, searching `start` and its parents.
 * Throws `KAGE_ERR_AGENT_PROTO_MISSING` when there is none.
 */
export function findProtoRoot(start: string = import.meta.dirname): string {
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, AGENT_PROTO))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new StreamError(
        'KAGE_ERR_AGENT_PROTO_MISSING',
        `cannot find proto/${AGENT_PROTO} in ${start} or any parent directory`,
      );
    }
    dir = parent;
  }
}

const cache = new Map<string, ProtoGrpcType>();

/**
 * The typed package definition (`kage.v1.*`). Loaded once per proto root and cached.
 * @param protoRoot the `proto/` directory. @default {@link findProtoRoot}()
 */
export function loadAgentProto(protoRoot: string = findProtoRoot()): ProtoGrpcType {
  let loaded = cache.get(protoRoot);
  if (loaded === undefined) {
    const definition = loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [protoRoot] });
    // The generated ProtoGrpcType describes exactly what loadSync builds with LOADER_OPTIONS.
    loaded = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    cache.set(protoRoot, loaded);
  }
  return loaded;
}
