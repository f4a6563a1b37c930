/**
 * Helpers for the EXO emulator tests: small fast profiles, node start-up with cleanup, JSON and SSE
 * helpers, and bounded polling.
 */
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { findHardwareProfile, startExoEmulator, type ExoEmulatorOptions, type HardwareProfile } from '../src/index.js';

export const LLAMA_3B = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
export const LLAMA_70B = 'mlx-community/Llama-3.3-70B-Instruct-4bit';
export const QWEN_3B = 'mlx-community/Qwen2.5-3B-Instruct-4bit';
const GiB = 1024 ** 3;

/** A CPU node with `memGiB` available, a fast disk (short loads) and fast memory (short tests). */
export function testProfile(memGiB: number, overrides: Partial<HardwareProfile> = {}): HardwareProfile {
  const base = findHardwareProfile('cpu-server-ddr4');
  if (!base) throw new Error('cpu-server-ddr4 profile missing');
  return {
    ...base,
    id: `test-${memGiB}g`,
    memTotalBytes: (memGiB + 4) * GiB,
    memAvailableBytes: memGiB * GiB,
    diskReadBytesPerSec: 20e9,
    cpu: { ...base.cpu, memBandwidthBytesPerSec: 200e9, peakFlops: 20e12 },
    linkLatencyMs: 1,
    ...overrides,
  };
}

export const quietLogger = pino({ level: 'silent' });

export interface TestNode {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a node on 127.0.0.1:0 and closes it when the test ends. */
export async function startNode(
  t: TestContext,
  options: Partial<ExoEmulatorOptions> & { name?: string } = {},
): Promise<TestNode> {
  const node = await startExoEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    name: options.name ?? 'srv1',
    profile: options.profile ?? testProfile(16),
    logger: quietLogger,
    heartbeatIntervalMs: 100,
    peerTimeoutMs: 1500,
    ...options,
  });
  t.after(() => node.close());
  return node;
}

export interface JsonResponse {
  status: number;
  contentType: string | null;
  text: string;
  body: unknown;
}

export async function request(base: string, path: string, init: RequestInit = {}): Promise<JsonResponse> {
  const res = await fetch(base + path, init);
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, body };
}

export function postJson(base: string, path: string, payload: unknown, method = 'POST'): Promise<JsonResponse> {
  return request(base, path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
}

// Loose views of the JSON the tests read.
export interface StateView {
  instances: Record<string, { MlxRingInstance: InstanceView }>;
  runners: Record<string, Record<string, { layersLoaded?: number; totalLayers?: number; errorMessage?: string }>>;
  topology: { nodes: string[]; connections: Record<string, Record<string, { sinkMultiaddr: { port: number } }[]>> };
  nodeIdentities: Record<string, { friendlyName: string }>;
  nodeMemory: Record<string, { ramAvailable: { inBytes: number }; ramTotal: { inBytes: number } }>;
  lastSeen: Record<string, string>;
  downloads: Record<string, unknown[]>;
  [key: string]: unknown;
}

export interface ShardView {
  deviceRank: number;
  worldSize: number;
  startLayer: number;
  endLayer: number;
  nLayers: number;
  modelCard: { modelId: string; nLayers: number };
}

export interface InstanceView {
  instanceId: string;
  ephemeralPort: number;
  hostsByNode: Record<string, { ip: string; port: number }[]>;
  shardAssignments: {
    modelId: string;
    nodeToRunner: Record<string, string>;
    runnerToShard: Record<string, { PipelineShardMetadata?: ShardView; TensorShardMetadata?: ShardView }>;
  };
}

export async function getState(base: string): Promise<StateView> {
  return (await request(base, '/state')).body as StateView;
}

/** Polls `check` every 50 ms until it returns a value, failing after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Places `model` through `base` and waits until all its runners are RunnerReady. */
export async function placeAndWait(base: string, model = LLAMA_3B, minNodes = 1): Promise<InstanceView> {
  const placed = await postJson(base, '/place_instance', { model_id: model, min_nodes: minNodes });
  if (placed.status !== 200) throw new Error(`place failed: ${placed.text}`);
  return waitFor(`${model} ready`, async () => {
    const state = await getState(base);
    const instance = Object.values(state.instances).find((i) => i.MlxRingInstance.shardAssignments.modelId === model);
    if (!instance) return undefined;
    const runners = Object.values(instance.MlxRingInstance.shardAssignments.nodeToRunner);
    return runners.every((r) => state.runners[r] && 'RunnerReady' in state.runners[r])
      ? instance.MlxRingInstance
      : undefined;
  });
}

export interface SseEvent {
  kind: 'comment' | 'data';
  text: string;
}

/** Splits an SSE body into comment (`: …`) and `data:` events. */
export function parseSse(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.length > 0)
    .map((block) =>
      block.startsWith(':') ? { kind: 'comment', text: block.slice(2) } : { kind: 'data', text: block.slice(6) },
    );
}

export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: LLAMA_3B, messages: [{ role: 'user', content: 'Write a binary search.' }], ...extra };
}

/** Reads a streamed body until `pattern` appears; fails when the stream ends or time runs out. */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  timeoutMs = 8000,
): Promise<string> {
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (!pattern.test(text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}`);
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended before ${pattern}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Reads the rest of a streamed body. */
export async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
  }
}

/** The reader of a fetch response body. */
export function bodyReader(res: Response): ReadableStreamDefaultReader<Uint8Array> {
  if (!res.body) throw new Error('response has no body');
  return (res.body as ReadableStream<Uint8Array>).getReader();
}
