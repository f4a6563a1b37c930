/**
 * JSON Schema (TypeBox) of `agent.yaml` (docs/agent.md, "Every key"), with the defaults beside the
 * keys. Structural rules live here; rules that span keys or touch the file system (host:port, token
 * file, URLs, unit names, relative paths) are in `agent-config.ts`. Every object is closed: an
 * unknown key is an error, never silently ignored.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_RESTART_POLICY } from '../supervision/types.js';
import { DEFAULT_TIMINGS } from '../supervision/service-options.js';

/** Schema keyword carrying a person-friendly reason; read by the loader instead of TypeBox's text. */
export const ERROR_MESSAGE = 'errorMessage';

/** Defaults of every optional key, in file units (the resolved config converts them). */
export const AGENT_CONFIG_DEFAULTS = Object.freeze({
  sample_interval_ms: 1000,
  /** Used when neither `buffer.dir` nor systemd's `$STATE_DIRECTORY` is given. */
  buffer_dir: '/var/lib/kage/agent',
  buffer_max_age_s: 900,
  grace_ms: DEFAULT_TIMINGS.stopGraceMs,
  restart: DEFAULT_RESTART_POLICY,
});

/**
 * Upper bound of a process service's `grace_ms`. The shipped unit's `TimeoutStopSec=45s` covers
 * this grace plus the agent's force margin; raising it means raising `TimeoutStopSec` as well.
 */
export const MAX_GRACE_MS = 30_000;

const Str = (message: string) => Type.String({ minLength: 1, [ERROR_MESSAGE]: message });
const Path = Str('must be a non-empty path (relative paths are relative to this file)');
const Int = (minimum: number, maximum: number, unit: string) =>
  Type.Integer({ minimum, maximum, [ERROR_MESSAGE]: `must be an integer from ${minimum} to ${maximum} (${unit})` });

/** `coordinator.tls`: PEM files. `ca` alone = verify the coordinator; `cert` + `key` = mutual TLS. */
export const TlsSchema = Type.Object(
  { ca: Type.Optional(Path), cert: Type.Optional(Path), key: Type.Optional(Path) },
  { additionalProperties: false },
);

/** `coordinator`: where to dial and how to authenticate (exactly one of `token_file`, `token`). */
export const CoordinatorSchema = Type.Object(
  {
    url: Str('must be "host:port", e.g. "100.77.248.9:50551"'),
    token_file: Type.Optional(Path),
    token: Type.Optional(Str('must be a non-empty string')),
    tls: Type.Optional(TlsSchema),
    // HTTP/2 keepalive: how fast a silently dead link (a partition, no RST) is noticed. The
    // defaults (20 s + 10 s) notice within 10-30 s; a LAN can afford shorter pings.
    keepalive_time_ms: Type.Optional(Int(1000, 3_600_000, 'milliseconds')),
    keepalive_timeout_ms: Type.Optional(Int(1000, 600_000, 'milliseconds')),
  },
  { additionalProperties: false },
);

/** `buffer`: where samples and events wait while the coordinator is away, and for how long. */
export const BufferSchema = Type.Object(
  {
    dir: Type.Optional(Path),
    max_age_s: Type.Optional(Int(10, 7 * 24 * 3600, 'seconds')),
    max_bytes: Type.Optional(
      Type.Integer({
        minimum: 1024 * 1024,
        [ERROR_MESSAGE]: 'must be an integer number of bytes, at least 1048576 (1 MiB)',
      }),
    ),
  },
  { additionalProperties: false },
);

/** `services.<name>.restart` (process driver): backoff and crash-loop window. */
export const RestartSchema = Type.Object(
  {
    initial_delay_ms: Type.Optional(Int(0, 3_600_000, 'milliseconds')),
    max_delay_ms: Type.Optional(Int(0, 3_600_000, 'milliseconds')),
    max_restarts: Type.Optional(Int(0, 1000, 'restarts within window_s')),
    window_s: Type.Optional(Int(1, 86_400, 'seconds')),
  },
  { additionalProperties: false },
);

const Health = Str('must be an http(s) URL, e.g. "http://127.0.0.1:11434/"');
// Where the service's version is read (at most one of the two): reported to the coordinator so
// that `kage doctor --all` can compare versions across the nodes.
const VersionUrl = Str('must be an http(s) URL answering {"version": "…"}, e.g. "http://127.0.0.1:11434/api/version"');

/**
 * `services.<name>.loaded_models`: where the agent reads what the service holds in memory, for the
 * dashboard's Models panel. Reading never loads a model.
 */
export const LoadedModelsSchema = Type.Object(
  {
    api: Type.Union([Type.Literal('ollama'), Type.Literal('exo')], {
      [ERROR_MESSAGE]: 'must be "ollama" (url is its /api/ps) or "exo" (url is its /state)',
    }),
    url: Str('must be an http(s) URL, e.g. "http://127.0.0.1:11434/api/ps"'),
    interval_ms: Type.Optional(Int(500, 600_000, 'milliseconds between reads')),
  },
  {
    additionalProperties: false,
    [ERROR_MESSAGE]: 'must be a mapping, e.g. { api: ollama, url: "http://127.0.0.1:11434/api/ps" }',
  },
);

/** A service that is an existing systemd unit (ollama's own `ollama.service`, an `exo.service`). */
export const SystemdServiceSchema = Type.Object(
  {
    driver: Type.Literal('systemd'),
    unit: Str('must be a service unit name, e.g. ollama.service'),
    health: Type.Optional(Health),
    version_url: Type.Optional(VersionUrl),
    version_git: Type.Optional(Path),
    loaded_models: Type.Optional(LoadedModelsSchema),
  },
  { additionalProperties: false },
);

/** A service the agent runs itself, as a child in its own process group. */
export const ProcessServiceSchema = Type.Object(
  {
    driver: Type.Literal('process'),
    command: Type.Array(Str('must be a non-empty string'), {
      minItems: 1,
      [ERROR_MESSAGE]: 'must be a non-empty list: [program, arg, …] (never run through a shell)',
    }),
    cwd: Type.Optional(Path),
    env: Type.Optional(
      Type.Record(Type.String(), Type.String({ [ERROR_MESSAGE]: 'must be a string (quote values like "false")' }), {
        [ERROR_MESSAGE]: 'must be a mapping of NAME: "value"',
      }),
    ),
    health: Type.Optional(Health),
    version_url: Type.Optional(VersionUrl),
    version_git: Type.Optional(Path),
    loaded_models: Type.Optional(LoadedModelsSchema),
    restart: Type.Optional(RestartSchema),
    grace_ms: Type.Optional(Int(0, MAX_GRACE_MS, 'milliseconds between SIGTERM and SIGKILL')),
  },
  { additionalProperties: false },
);

/** The keys each driver accepts, to say "belongs to driver X" rather than just "unknown key". */
export const DRIVER_KEYS = Object.freeze({
  systemd: Object.keys(SystemdServiceSchema.properties),
  process: Object.keys(ProcessServiceSchema.properties),
});

/** The whole file as written. `services` entries are checked one by one against their driver's schema. */
export const AgentConfigFileSchema = Type.Object(
  {
    node: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$',
        [ERROR_MESSAGE]: 'must be a host name (letters, digits, ".", "_", "-"), e.g. srv1',
      }),
    ),
    coordinator: CoordinatorSchema,
    sample_interval_ms: Type.Optional(Int(100, 60_000, 'milliseconds')),
    buffer: Type.Optional(BufferSchema),
    services: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        [ERROR_MESSAGE]: 'must be a mapping of service name → service (write `services: {}` for none)',
      }),
    ),
  },
  { additionalProperties: false },
);

export type AgentConfigFile = Static<typeof AgentConfigFileSchema>;
export type SystemdServiceFile = Static<typeof SystemdServiceSchema>;
export type ProcessServiceFile = Static<typeof ProcessServiceSchema>;
