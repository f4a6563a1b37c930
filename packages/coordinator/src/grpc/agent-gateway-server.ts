/**
 * The coordinator's gRPC side: a grpc-js server for `kage.v1.AgentGateway` that authenticates every
 * call by its per-node bearer token before reading a message, keeps one live session per node (a
 * newer Hello replaces the older stream), pings agents to find dead connections (server
 * keepalive), caps message size, and sends commands to agents for the REST API and the run engine.
 *
 * A refused call (no token, a wrong one) ends with UNAUTHENTICATED and is logged at most once a
 * minute per peer address: an agent with a stale token retries forever, and the journal must not
 * fill with the same line.
 */
import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { RequestMetrics } from '@kage/bench';
import { loadContract } from '@kage/wire';
import type { CommandResult__Output, ProbeResult__Output } from '@kage/wire';
import type { Logger } from 'pino';
import { CoordinatorError } from '../coordinator-error.js';
import { formatHostPort } from '../config/listen-address.js';
import type { IngestBatcher } from '../ingest/ingest-batcher.js';
import { toServiceView, type NodeRegistry } from '../registry/node-registry.js';
import type { LoadedModelsBoard } from '../registry/loaded-models-board.js';
import type { TelemetryStore } from '../store/telemetry-store.js';
import type { AgentCommander, ProbeRequest, ServiceActionResult } from './agent-commander.js';
import { AgentSession, type AgentCall } from './agent-session.js';
import { bearerToken, createTokenAuth } from './token-auth.js';

export interface GrpcListenOptions {
  host: string;
  port: number;
  tls: { ca: Buffer | null; cert: Buffer; key: Buffer; requireClientCert: boolean } | null;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxMessageBytes: number;
}

export interface AgentGatewayServer extends AgentCommander {
  /** Binds and starts serving. @throws `KAGE_ERR_COORDINATOR_LISTEN` */
  listen(): Promise<{ port: number }>;
  listening(): boolean;
  streams(): number;
  authFailures(): number;
  /** Ends every stream and stops the server. */
  close(): Promise<void>;
}

export interface AgentGatewayServerOptions {
  listen: GrpcListenOptions;
  agentTokens: ReadonlyMap<string, string>;
  store: TelemetryStore;
  batcher: IngestBatcher;
  registry: NodeRegistry;
  /** Where the agents' loaded-models reports go. */
  models: LoadedModelsBoard;
  log: Logger;
  version: string;
  /** Heartbeat interval asked of agents. @default 5000 */
  heartbeatIntervalMs?: number;
  /** Default deadline of a service command. @default 60000 */
  serviceCommandTimeoutMs?: number;
}

const AUTH_LOG_EVERY_MS = 60_000;
/** Peers remembered for refusal logging before the stale ones are swept. */
const AUTH_LOG_MAX_PEERS = 1024;

export function createAgentGatewayServer(options: AgentGatewayServerOptions): AgentGatewayServer {
  const log = options.log.child({ component: 'grpc' });
  const auth = createTokenAuth(options.agentTokens);
  const sessions = new Map<string, AgentSession>();
  const authLoggedAt = new Map<string, number>();
  let authFailures = 0;
  let server: Server | null = null;
  let bound = false;

  const ctx = {
    store: options.store,
    batcher: options.batcher,
    registry: options.registry,
    models: options.models,
    log,
    version: options.version,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5000,
    onWelcomed(session: AgentSession) {
      const older = sessions.get(session.nodeId);
      sessions.set(session.nodeId, session);
      if (older !== undefined && older !== session)
        older.end(status.CANCELLED, 'replaced by a newer stream of the same node');
    },
    onRefused: (call: AgentCall, reason: string) => noteRefusal(call, reason),
    onEnded(session: AgentSession) {
      if (sessions.get(session.nodeId) === session) sessions.delete(session.nodeId);
    },
  };

  /** Counts a refused call and logs it at most once a minute per peer address. */
  const noteRefusal = (call: AgentCall, details: string): void => {
    authFailures += 1;
    const peer = peerHost(call.getPeer());
    const now = Date.now();
    const last = authLoggedAt.get(peer);
    if (last === undefined || now - last >= AUTH_LOG_EVERY_MS) {
      // Bounded: peers not refused within the last minute are forgotten (many source addresses,
      // e.g. rotating IPv6 privacy addresses, must not grow this map for ever).
      if (authLoggedAt.size >= AUTH_LOG_MAX_PEERS) {
        for (const [p, at] of authLoggedAt) if (now - at >= AUTH_LOG_EVERY_MS) authLoggedAt.delete(p);
      }
      authLoggedAt.set(peer, now);
      log.warn({ peer, details }, 'agent call refused (logged once a minute per peer)');
    }
  };

  const refuse = (call: AgentCall, details: string): void => {
    noteRefusal(call, details);
    call.emit('error', { code: status.UNAUTHENTICATED, details });
  };

  const connect = (call: AgentCall): void => {
    const token = bearerToken(call.metadata.get('authorization')[0]);
    if (token === null) {
      refuse(call, 'missing agent token (authorization: Bearer <token>)');
      return;
    }
    const nodeId = auth.nodeFor(token);
    if (nodeId === null) {
      refuse(call, 'unknown agent token');
      return;
    }
    new AgentSession(call, nodeId, ctx);
  };

  const sessionFor = (nodeId: string): AgentSession => {
    const s = sessions.get(nodeId);
    if (s !== undefined && s.welcomed) return s;
    if (!auth.knows(nodeId) && options.registry.get(nodeId) === null) {
      throw new CoordinatorError(
        'KAGE_ERR_NODE_UNKNOWN',
        `no node ${JSON.stringify(nodeId)} is configured or has ever connected`,
      );
    }
    throw new CoordinatorError('KAGE_ERR_NODE_OFFLINE', `node ${nodeId} is offline (no live agent stream)`, {
      hint: `check the agent on ${nodeId}: systemctl status kage-agent`,
    });
  };

  return {
    async listen() {
      const { listen } = options;
      const s = new Server({
        'grpc.keepalive_time_ms': listen.keepaliveTimeMs,
        'grpc.keepalive_timeout_ms': listen.keepaliveTimeoutMs,
        'grpc.max_receive_message_length': listen.maxMessageBytes,
        'grpc.max_send_message_length': listen.maxMessageBytes,
      });
      s.addService(loadContract().kage.v1.AgentGateway.service, { Connect: connect });
      const credentials =
        listen.tls === null
          ? ServerCredentials.createInsecure()
          : ServerCredentials.createSsl(
              listen.tls.ca,
              [{ cert_chain: listen.tls.cert, private_key: listen.tls.key }],
              listen.tls.requireClientCert,
            );
      const address = formatHostPort(listen);
      const port = await new Promise<number>((resolve, reject) => {
        s.bindAsync(address, credentials, (err, p) => {
          if (err) {
            reject(
              new CoordinatorError(
                'KAGE_ERR_COORDINATOR_LISTEN',
                `cannot listen for agents on ${address}: ${err.message}`,
                {
                  cause: err,
                  hint: 'is another coordinator running, or the port taken? (ss -ltnp)',
                },
              ),
            );
          } else resolve(p);
        });
      });
      server = s;
      bound = true;
      log.info({ address, port, tls: listen.tls !== null }, 'listening for agents');
      return { port };
    },
    listening: () => bound,
    streams: () => sessions.size,
    authFailures: () => authFailures,
    isConnected: (nodeId) => sessions.get(nodeId)?.welcomed === true,
    async serviceAction(nodeId, service, action, opts = {}): Promise<ServiceActionResult> {
      const session = sessionFor(nodeId);
      const answer = (await session.send(
        { id: randomUUID(), service_action: { service, action: action.toUpperCase() as 'START' | 'STOP' | 'RESTART' } },
        opts.timeoutMs ?? options.serviceCommandTimeoutMs ?? 60_000,
      )) as CommandResult__Output;
      const view = answer.status ? options.registry.applyServiceStatus(nodeId, answer.status) : null;
      return {
        ok: answer.ok,
        error: answer.ok
          ? null
          : { code: answer.error?.code || 'KAGE_ERR_COMMAND_FAILED', message: answer.error?.message ?? '' },
        service: view ?? (answer.status ? toServiceView(answer.status) : null),
      };
    },
    async runProbe(nodeId, probe: ProbeRequest, opts = {}): Promise<RequestMetrics> {
      const session = sessionFor(nodeId);
      // The agent enforces the probe's own limit; the command's deadline leaves it room to answer.
      const deadline = opts.timeoutMs ?? probe.timeout_ms + 15_000;
      const answer = (await session.send(
        {
          id: randomUUID(),
          run_probe: {
            target_kind: probe.target_kind,
            url: probe.url,
            model: probe.model,
            prompt: probe.prompt,
            max_tokens: probe.max_tokens,
            timeout_ms: probe.timeout_ms,
            ...(probe.num_ctx == null ? {} : { num_ctx: probe.num_ctx }),
            ...(probe.temperature == null ? {} : { temperature: probe.temperature }),
            ...(probe.seed == null ? {} : { seed: probe.seed }),
          },
        },
        deadline,
        opts.signal,
      )) as ProbeResult__Output;
      if (!answer.ok) {
        throw new CoordinatorError(
          'KAGE_ERR_COMMAND_FAILED',
          `node ${nodeId} could not run the probe: ${answer.error?.code ?? ''} ${answer.error?.message ?? ''}`.trim(),
        );
      }
      return JSON.parse(answer.metrics_json) as RequestMetrics;
    },
    async close() {
      const s = server;
      server = null;
      bound = false;
      for (const session of [...sessions.values()]) session.end(status.UNAVAILABLE, 'coordinator shutting down');
      sessions.clear();
      if (s === null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          s.forceShutdown();
          resolve();
        }, 2000);
        s.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** `10.0.0.2:51234` / `::1:5000` (grpc-js), `ipv6:[::1]:5000` → the address without the port. */
function peerHost(peer: string): string {
  const m = /^(?:ipv[46]:)?\[?(.*?)\]?:\d+$/.exec(peer);
  return m?.[1] ?? peer;
}
