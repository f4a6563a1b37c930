/**
 * The run engine's request sender for a coordinator run: agent-probed targets get each request
 * sent by the agent on their first node (`runProbe`), the others are sent from this process with
 * the bench clients.
 *
 * A probe whose command fails (the node went offline, its stream ended, the agent did not answer)
 * becomes a failed attempt of the cell, never a rejection: the run engine stops a whole run on a
 * rejecting sender, while a node dropping out mid-run should cost only the attempts it could not
 * make, recorded with their reason, and the run goes on.
 *
 * Clocks: the agent measures every interval of a request with its own monotonic clock, and those
 * intervals are kept as they are. Only `t_send_ms` is moved onto this process's monotonic clock
 * (the agent's has another origin): the engine compares the sends of a cell's requests to size its
 * measured window and maps that window onto the wall clock, and a cell may mix agent answers with
 * attempts that failed here.
 */
import {
  createClient,
  type ChatRequest,
  type MatrixTarget,
  type ProtocolClient,
  type RequestErrorKind,
  type RequestMetrics,
  failedRequestMetrics,
  type SendRequest,
} from '@kage/bench';
import { errorCode, errorMessage } from '@kage/common';
import type { Logger } from 'pino';
import type { AgentCommander, ProbeRequest } from '../grpc/agent-commander.js';
import type { ProbeRoute } from './probe-routes.js';

export interface ProbeSender {
  send: SendRequest;
  /** Closes the clients of coordinator-probed targets. */
  close(): void;
}

export function createProbeSender(o: {
  routes: ReadonlyMap<string, ProbeRoute>;
  commander: Pick<AgentCommander, 'runProbe'>;
  log: Logger;
}): ProbeSender {
  const clients = new Map<string, ProtocolClient>();

  const fromHere = (target: MatrixTarget, request: ChatRequest): Promise<RequestMetrics> => {
    let client = clients.get(target.id);
    if (client === undefined) {
      client = createClient(target, { log: o.log });
      clients.set(target.id, client);
    }
    return client.chat(request);
  };

  const fromAgent = async (
    node: string,
    target: MatrixTarget,
    request: ChatRequest,
    signal: AbortSignal | undefined,
  ): Promise<RequestMetrics> => {
    const t0 = monotonicMs();
    // An already-aborted signal never fires its abort event: answer at once instead of waiting
    // for the command's deadline.
    if (signal?.aborted === true) return failedMetrics(target, request, t0, 0, 'aborted', 'cancelled by the caller');
    const probe: ProbeRequest = {
      target_kind: target.kind,
      url: target.url,
      model: request.model,
      prompt: request.prompt,
      max_tokens: request.maxTokens,
      num_ctx: request.numCtx ?? null,
      temperature: request.temperature ?? null,
      seed: request.seed ?? null,
      timeout_ms: request.timeoutMs,
    };
    try {
      const m = await o.commander.runProbe(node, probe, signal === undefined ? {} : { signal });
      return { ...m, t_send_ms: sendTimeHere(m, t0, monotonicMs()) };
    } catch (err) {
      const elapsed = monotonicMs() - t0;
      // The narrowing above does not know the await let the signal fire meanwhile.
      if (isAborted(signal)) {
        return failedMetrics(target, request, t0, elapsed, 'aborted', 'cancelled by the caller');
      }
      const code = errorCode(err);
      const kind: RequestErrorKind = code === 'KAGE_ERR_COMMAND_TIMEOUT' ? 'timeout' : 'connection';
      const message = `agent on ${node} could not send the request: ${code === undefined ? '' : `${code}: `}${errorMessage(err)}`;
      o.log.warn({ node, target: target.id, code }, 'probe command failed; recorded as a failed attempt');
      return failedMetrics(target, request, t0, elapsed, kind, message);
    }
  };

  return {
    send: (target, request, signal) => {
      const route = o.routes.get(target.id);
      if (route?.place === 'agent' && route.node !== null) return fromAgent(route.node, target, request, signal);
      return fromHere(target, request);
    },
    close() {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}

/**
 * When the agent sent the request, on this process's monotonic clock. It surely lies between the
 * command going out (`t0`) and `total_ms` before its answer came back (`t1`); within that, the
 * agent's wall-clock send time says where (nodes keep NTP time), and the bounds hold an agent
 * whose clock is off to the round trip, whatever the split of time between command and answer.
 */
function sendTimeHere(m: RequestMetrics, t0: number, t1: number): number {
  const latest = Math.max(t0, t1 - m.total_ms);
  const wall = Date.parse(m.started_at);
  if (!Number.isFinite(wall)) return latest;
  const fromWall = t1 - (Date.now() - wall);
  return Math.min(latest, Math.max(t0, fromWall));
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** This process's monotonic clock in ms, the clock the bench clients stamp `t_send_ms` with. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** The metrics of a request that failed before any answer: nothing measured but its duration. */
export function failedMetrics(
  target: MatrixTarget,
  request: ChatRequest,
  tSendMs: number,
  totalMs: number,
  kind: RequestErrorKind,
  message: string,
): RequestMetrics {
  return failedRequestMetrics(target, request, { t_send_ms: tSendMs, total_ms: totalMs, kind, message });
}
