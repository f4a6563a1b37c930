/**
 * JSON Schema (TypeBox) of `coordinator.yaml`, with the defaults beside the keys. Structural rules
 * live here; rules that span keys, touch the file system or must never quote a secret (listen
 * addresses, token forms and token files, TLS files, the database path) are in
 * `coordinator-config.ts`. Every object is closed: an unknown key is an error, never ignored.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ERROR_MESSAGE } from '@kage/common';
import { GatewaySchema } from './gateway-config.js';

/** Defaults of every optional key, in file units (the resolved config converts the names). */
export const COORDINATOR_CONFIG_DEFAULTS = Object.freeze({
  keepalive_time_ms: 10_000,
  keepalive_timeout_ms: 5_000,
  /** gRPC's own default; an agent's replay batch after an outage must fit in it. */
  max_message_bytes: 4 * 1024 * 1024,
  raw_hours: 24,
  minute_days: 30,
  require_client_cert: false,
});

/** Upper bounds of `retention`: a year of raw samples, ten years of minute rows. */
export const MAX_RAW_HOURS = 24 * 365;
export const MAX_MINUTE_DAYS = 3650;

const Str = (message: string) => Type.String({ minLength: 1, [ERROR_MESSAGE]: message });
const Path = Str('must be a non-empty path (relative paths are relative to this file)');
const Int = (minimum: number, maximum: number, unit: string) =>
  Type.Integer({ minimum, maximum, [ERROR_MESSAGE]: `must be an integer from ${minimum} to ${maximum} (${unit})` });
const Listen = (example: string) => Str(`must be "host:port", e.g. "${example}"`);

/**
 * `grpc.tls`: PEM files of the agent-facing listener. `cert` + `key` are the coordinator's own
 * certificate (both required once `tls` is given); `ca` verifies the agents' client certificates,
 * and `require_client_cert: true` (which needs `ca`) refuses agents without one. Without `tls` the
 * listener is plaintext, which is fine inside a network that encrypts already (Tailscale, WireGuard).
 */
export const GrpcTlsSchema = Type.Object(
  {
    ca: Type.Optional(Path),
    cert: Type.Optional(Path),
    key: Type.Optional(Path),
    require_client_cert: Type.Optional(Type.Boolean({ [ERROR_MESSAGE]: 'must be true or false' })),
  },
  { additionalProperties: false },
);

/** `grpc`: where agents connect. */
export const GrpcSchema = Type.Object(
  {
    listen: Listen('0.0.0.0:50551'),
    tls: Type.Optional(GrpcTlsSchema),
    // Server-side HTTP/2 pings: how fast an agent whose link died silently (a partition, no RST)
    // is noticed and its stream closed. 10 s + 5 s notice a dead agent within 15 s.
    keepalive_time_ms: Type.Optional(Int(1000, 3_600_000, 'milliseconds')),
    keepalive_timeout_ms: Type.Optional(Int(1000, 600_000, 'milliseconds')),
    // Largest gRPC message received or sent. Below 1 MiB a large inventory or a replay batch
    // would be refused; above 64 MiB one bad agent could make the daemon buffer that much.
    max_message_bytes: Type.Optional(
      Type.Integer({
        minimum: 1024 * 1024,
        maximum: 64 * 1024 * 1024,
        [ERROR_MESSAGE]: 'must be an integer number of bytes from 1048576 (1 MiB) to 67108864 (64 MiB)',
      }),
    ),
  },
  { additionalProperties: false },
);

/** `http`: where the REST API listens. */
export const HttpSchema = Type.Object({ listen: Listen('0.0.0.0:7080') }, { additionalProperties: false });

/**
 * `auth`: agent tokens exactly one way (`agent_tokens_file` or `agent_tokens`), the API token
 * exactly one way (`api_token_file` or `api_token`); the loader enforces the "exactly one". Token
 * values are `Unknown` here on purpose: a schema reason quotes the value it rejects, and a reason
 * must never quote a secret, so the loader checks them with reasons of its own.
 */
export const AuthSchema = Type.Object(
  {
    /** YAML file mapping node id → token, readable by the coordinator's user only. */
    agent_tokens_file: Type.Optional(Path),
    /** Inline node id → token; only in a config file that group and others cannot read. */
    agent_tokens: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { [ERROR_MESSAGE]: 'must be a mapping of node id → token' }),
    ),
    /** File holding the REST API token (one line). */
    api_token_file: Type.Optional(Path),
    api_token: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

/** `retention`: how long telemetry is kept at each resolution. */
export const RetentionSchema = Type.Object(
  {
    /** Raw samples (one per agent sample interval). */
    raw_hours: Type.Optional(Int(1, MAX_RAW_HOURS, 'hours of raw samples kept')),
    /** Per-minute aggregates. */
    minute_days: Type.Optional(Int(1, MAX_MINUTE_DAYS, 'days of per-minute rows kept')),
  },
  { additionalProperties: false },
);

/** The whole file as written. */
export const CoordinatorConfigFileSchema = Type.Object(
  {
    grpc: GrpcSchema,
    http: HttpSchema,
    /** SQLite database file; its directory must be writable by the daemon. */
    db: Path,
    auth: AuthSchema,
    retention: Type.Optional(RetentionSchema),
    /** The lab's Ollama/OpenAI-compatible endpoint (gateway-config.ts). */
    gateway: Type.Optional(GatewaySchema),
    /** The nodes run Kage's emulators (`kage demo`, tests): the dashboard labels every figure so. */
    emulated: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type CoordinatorConfigFile = Static<typeof CoordinatorConfigFileSchema>;
export type GrpcTlsFile = Static<typeof GrpcTlsSchema>;
export type AuthFile = Static<typeof AuthSchema>;
