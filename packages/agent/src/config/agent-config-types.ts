/**
 * The resolved agent configuration: every default filled in, every path absolute, secrets read,
 * deep-frozen. Top-level keys are camelCase with units in their names; `services` entries keep the
 * file's snake_case key names because they are handed unchanged to `createServiceRegistry`.
 */
import type { LoadedModelsSource } from '../models/loaded-models-watcher.js';
import type { RestartPolicy, SystemdServiceConfig, VersionSource } from '../supervision/types.js';

/** What every resolved service may carry beside its driver's keys. */
export interface ServiceExtras extends VersionSource {
  /** Where its loaded models are read, with the interval filled in. */
  loaded_models?: Readonly<LoadedModelsSource>;
}

/** TLS material for the coordinator connection, read from the files named in `coordinator.tls`. */
export interface CoordinatorTlsConfig {
  /** Absolute path of the CA bundle, or null to trust the system roots. */
  caFile: string | null;
  /** PEM text of `caFile`. */
  caPem: string | null;
  /** Client certificate chain for mutual TLS (set together with the key), or null. */
  certFile: string | null;
  certPem: string | null;
  keyFile: string | null;
  /** PEM text of the private key. Not enumerable: logging the config never prints it. */
  readonly keyPem: string | null;
}

/** Where the agent dials and how it proves who it is. */
export interface CoordinatorConfig {
  /** gRPC target `host:port` (IPv6 hosts in brackets), as given in `coordinator.url`. */
  address: string;
  /** Host part without brackets. */
  host: string;
  port: number;
  /** The bearer token. Not enumerable: logging or serialising the config never prints it. */
  readonly token: string;
  /** Absolute path the token was read from, or null when it was written inline (`token:`). */
  tokenFile: string | null;
  /** Null: plaintext gRPC (fine inside a Tailscale network, which encrypts already). */
  tls: CoordinatorTlsConfig | null;
  /** `keepalive_time_ms`: HTTP/2 ping period; null = the stream's default (20 s). */
  keepaliveTimeMs: number | null;
  /** `keepalive_timeout_ms`: a ping unanswered this long ends the connection; null = default (10 s). */
  keepaliveTimeoutMs: number | null;
}

/** Samples and events kept while the coordinator is away. */
export interface BufferConfig {
  /** Absolute directory; also the agent's state directory (pidfiles). */
  dir: string;
  /** Oldest record kept, in seconds (`max_age_s`; the stream's `DiskBufferOptions.maxAgeS`). */
  maxAgeS: number;
  /** Cap of the buffer on disk in bytes (`max_bytes`), or null for the buffer's own default. */
  maxBytes: number | null;
}

/** A process-driver service with every default filled in and `cwd`/`command[0]` made absolute. */
export interface ResolvedProcessServiceConfig extends ServiceExtras {
  driver: 'process';
  command: readonly string[];
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  health?: string;
  restart: Readonly<RestartPolicy>;
  /** SIGTERM → SIGKILL grace when the agent stops this service's process group. */
  grace_ms: number;
}

/** One entry of {@link AgentConfig.services}; assignable to the supervision's `ServiceConfig`. */
export type ResolvedServiceConfig = ResolvedProcessServiceConfig | Readonly<SystemdServiceConfig & ServiceExtras>;

/** What `loadAgentConfig` returns. Deep-frozen. */
export interface AgentConfig {
  /** Absolute path of the file that was read. */
  configFile: string;
  /** This node's name (`node:`, default: the host name). */
  node: string;
  coordinator: CoordinatorConfig;
  /** Telemetry period in milliseconds. @default 1000 */
  sampleIntervalMs: number;
  buffer: BufferConfig;
  /** Directory for pidfiles and other state; the same as `buffer.dir`. */
  stateDir: string;
  /** Configured services, in file order. */
  services: Readonly<Record<string, ResolvedServiceConfig>>;
  /**
   * Longest `grace_ms` of the process services (or the default): what `SupervisionTimings.stopGraceMs`
   * must be for `registry.close()` to honour every service's grace.
   */
  stopGraceMs: number;
  /** Graceful shutdown budget of the agent: stop children, end the stream, flush. */
  shutdownGraceMs: number;
  /** After this, the agent exits at once. Below the unit's `TimeoutStopSec` (45 s). */
  shutdownForceMs: number;
  /** Non-fatal findings (a group-readable token file, a missing command path) to log at warn. */
  warnings: readonly string[];
}
