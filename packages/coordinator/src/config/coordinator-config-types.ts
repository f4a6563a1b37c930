/**
 * The resolved coordinator configuration: every default filled in, every path absolute, secrets
 * and TLS files read, deep-frozen. Keys are camelCase with units in their names. Secrets are not
 * enumerable, so logging or serialising the config never prints them.
 */
import type { GatewayConfig } from './gateway-config.js';

/** TLS material of the gRPC listener, read from the files named in `grpc.tls`. */
export interface CoordinatorGrpcTlsConfig {
  /** PEM bundle that verifies the agents' client certificates, or null (no client verification). */
  readonly ca: Buffer | null;
  /** The coordinator's certificate chain (PEM). */
  readonly cert: Buffer;
  /** The coordinator's private key (PEM). Not enumerable. */
  readonly key: Buffer;
  /** Refuse agents that present no certificate signed by `ca`. */
  readonly requireClientCert: boolean;
}

/** The agent-facing gRPC listener. */
export interface CoordinatorGrpcConfig {
  /** Host part of `grpc.listen`, IPv6 without brackets. */
  readonly host: string;
  /** 0 = any free port (tests). */
  readonly port: number;
  /** Null: plaintext gRPC. */
  readonly tls: CoordinatorGrpcTlsConfig | null;
  /** Server-side HTTP/2 ping period. @default 10000 */
  readonly keepaliveTimeMs: number;
  /** An unanswered ping closes the connection after this long. @default 5000 */
  readonly keepaliveTimeoutMs: number;
  /** Largest gRPC message received or sent. @default 4194304 (4 MiB) */
  readonly maxMessageBytes: number;
}

/** The REST API listener. */
export interface CoordinatorHttpConfig {
  readonly host: string;
  /** 0 = any free port (tests). */
  readonly port: number;
}

/** How long telemetry is kept. */
export interface CoordinatorRetentionConfig {
  /** Raw samples, in hours. @default 24 */
  readonly rawHours: number;
  /** Per-minute aggregates, in days. @default 30 */
  readonly minuteDays: number;
}

/** What `loadCoordinatorConfig` returns. Deep-frozen. */
export interface CoordinatorConfig {
  /** Absolute path of the file that was read. */
  readonly file: string;
  readonly grpc: CoordinatorGrpcConfig;
  readonly http: CoordinatorHttpConfig;
  /** Absolute path of the SQLite database file. */
  readonly db: string;
  /** Node id → the token that node's agent presents. Not enumerable; `set`/`delete`/`clear` throw. */
  readonly agentTokens: ReadonlyMap<string, string>;
  /** Bearer token of the REST API. Not enumerable. */
  readonly apiToken: string;
  readonly retention: CoordinatorRetentionConfig;
  /** The gateway (coordinator.yaml `gateway:`), or null when the file has none. */
  readonly gateway: GatewayConfig | null;
  /** The lab runs on Kage's emulators (coordinator.yaml `emulated: true`); false by default. */
  readonly emulated: boolean;
}
