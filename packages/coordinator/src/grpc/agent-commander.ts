/**
 * Commands from the coordinator to node agents, as the REST API and the run engine see them: ask a
 * node to start/stop/restart one of its configured services, or to send one benchmark request
 * from where it stands. A command to a node without a live stream fails at once with
 * `KAGE_ERR_NODE_OFFLINE`; an answer that does not come within the deadline fails with
 * `KAGE_ERR_COMMAND_TIMEOUT`; a stream that ends first fails the command with
 * `KAGE_ERR_COMMAND_LOST` (results are not buffered by the agent, so a lost answer is never
 * delivered later).
 */
import type { RequestMetrics } from '@kage/bench';
import type { ServiceView } from '../registry/node-view.js';

export type ServiceActionName = 'start' | 'stop' | 'restart';

/** The agent's answer to a service action. */
export interface ServiceActionResult {
  ok: boolean;
  error: { code: string; message: string } | null;
  /** The service's status after the action; null when the agent does not know the service. */
  service: ServiceView | null;
}

/** One benchmark request for an agent to send (the wire's RunProbe). */
export interface ProbeRequest {
  target_kind: 'ollama' | 'exo' | 'openai';
  url: string;
  model: string;
  prompt: string;
  max_tokens: number;
  num_ctx?: number | null;
  temperature?: number | null;
  seed?: number | null;
  timeout_ms: number;
}

export interface AgentCommander {
  /** True when the node has a live, welcomed stream right now. */
  isConnected(nodeId: string): boolean;
  serviceAction(
    nodeId: string,
    service: string,
    action: ServiceActionName,
    options?: { timeoutMs?: number },
  ): Promise<ServiceActionResult>;
  /**
   * Runs one request on the node and returns the bench package's metrics, measured with the
   * agent's clock. The probe's own failure (connection refused, HTTP 500) is a normal result with
   * `success: false`; only a command that could not run rejects.
   */
  runProbe(
    nodeId: string,
    probe: ProbeRequest,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<RequestMetrics>;
}
