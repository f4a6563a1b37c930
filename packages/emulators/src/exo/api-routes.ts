/**
 * EXO v1.0.71's state, model and instance routes (`src/exo/api/main.py`): `/node_id`, `/state` and
 * `/state/{path}`, `/models` and `/v1/models`, `/models/add`, `/models/search`, `/place_instance`,
 * `/instance/placement`, `/instance/previews`, `POST /instance`, `GET|DELETE /instance/{id}`, and the
 * download commands `POST /download/start`, `DELETE /download/{node_id}/{model_id}`,
 * `POST /download/cancel` (EXO's benchmark, `bench/exo_bench.py`, drives all of these).
 *
 * Download commands go to the target node's coordinator only; EXO answers with the command id
 * whatever the target, so an unknown node or a model nobody has gets a 200 and no effect.
 *
 * `POST /place_instance` only queues a command: the real API answers "Command received." even when
 * the model does not fit, the master logs the ValueError, and no instance appears. The error text
 * is available synchronously from `GET /instance/placement` (400), as the dashboard uses it.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parseAddModel, parseModelSearch, parsePlaceParams, parsePlacementQuery } from './api-requests.js';
import type { ClusterCommand } from './cluster-state.js';
import { sendHttpException, sendUnhandledError, sendValidationError } from './http-errors.js';
import { newUuid, randomEphemeralPort } from './ids.js';
import type { CardRegistry, ExoCard } from './model-cards.js';
import { cardJson, modelListEntry } from './model-cards.js';
import {
  PlacementError,
  placeInstance,
  placementViewFromState,
  type InstanceMeta,
  type Sharding,
} from './placement.js';
import { readJsonObjectBody } from './validation.js';
import type { StateJson } from './wire-types.js';
import { downloadModelId, instanceBody } from './wire-types.js';
import { parseCancelDownload, parseCreateInstance, parseStartDownload } from './instance-requests.js';

/** What these routes need from the node. */
export interface ApiHost {
  readonly nodeId: string;
  readonly log: Logger;
  readonly cards: CardRegistry;
  /** The replicated cluster state this node serves. */
  state(): StateJson;
  /** Sends a command to the master (fire and forget); resolves once sent, i.e. after an election. */
  sendCommand(cmd: ClusterCommand): Promise<void>;
}

const ids = { instanceId: newUuid, runnerId: newUuid, ephemeralPort: randomEphemeralPort };

/**
 * `ModelCard.load`: a card missing from the cache is fetched from the (emulated) Hugging Face hub.
 * The routes do not catch a failed fetch, so an id the hub does not know is an unhandled
 * exception: a plain 500.
 */
function loadCard(host: ApiHost, modelId: string): ExoCard | undefined {
  try {
    return host.cards.load(modelId);
  } catch (err) {
    host.log.warn({ modelId, err: (err as Error).message }, 'model card could not be loaded; answering 500');
    return undefined;
  }
}

export function registerApiRoutes(app: FastifyInstance, host: ApiHost): void {
  app.get('/node_id', (_request, reply) => reply.type('application/json').send(JSON.stringify(host.nodeId)));

  app.get('/state', (_request, reply) => reply.send(host.state()));
  app.get<{ Params: { '*': string } }>('/state/*', (request, reply) => {
    const path = request.params['*'];
    let x: unknown = host.state();
    try {
      for (const attr of path.split('/')) {
        if (attr === '') continue;
        if (Array.isArray(x)) {
          if (!/^-?\d+$/.test(attr)) throw new Error('not an index');
          const i = Number(attr);
          x = x.at(i);
          if (x === undefined) throw new Error('index out of range');
        } else if (typeof x === 'object' && x !== null) {
          if (!Object.hasOwn(x, attr)) throw new Error('missing key');
          x = (x as Record<string, unknown>)[attr];
        }
      }
    } catch {
      return sendHttpException(reply, 404, `unable to find path '${path.replaceAll('/', '.')}' in state json`);
    }
    return reply.type('application/json').send(JSON.stringify(x));
  });

  const listModels = (status: unknown): Record<string, unknown> => {
    let cards = host.cards.list();
    if (status === 'downloaded') {
      const downloaded = new Set<string>();
      for (const list of Object.values(host.state().downloads)) {
        for (const d of list) if ('DownloadCompleted' in d) downloaded.add(downloadModelId(d));
      }
      cards = cards.filter((c) => downloaded.has(c.modelId));
    }
    const created = Math.floor(Date.now() / 1000);
    return { object: 'list', data: cards.map((c) => modelListEntry(c, created)) };
  };
  for (const path of ['/models', '/v1/models']) {
    app.get<{ Querystring: { status?: string } }>(path, (request, reply) =>
      reply.send(listModels(request.query.status)),
    );
  }

  // The hub's answer as `HuggingFaceSearchResult`s. EXO asks Hugging Face from the node itself, so
  // this is also how a client learns whether an id without a card exists there.
  app.get<{ Querystring: Record<string, unknown> }>('/models/search', (request, reply) => {
    const parsed = parseModelSearch(request.query);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    return reply.send(
      host.cards.searchHub(parsed.value.query, parsed.value.limit).map((id) => ({
        id,
        author: id.split('/')[0] ?? '',
        downloads: 0,
        likes: 0,
        last_modified: '',
        tags: [],
      })),
    );
  });

  app.post('/models/add', async (request, reply) => {
    const body = readJsonObjectBody(request.body as string | undefined, request.headers['content-type']);
    if (!body.ok) return sendValidationError(reply, body.errors);
    const parsed = parseAddModel(body.body);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    let card: ExoCard;
    try {
      card = host.cards.fetchFromHub(parsed.value.modelId);
    } catch (err) {
      return sendHttpException(reply, 400, `Failed to fetch model: ${(err as Error).message}`);
    }
    host.cards.add(card);
    await host.sendCommand({ type: 'add-card', commandId: newUuid(), card });
    // add_custom_model builds its answer without family, quantization or context length.
    return reply.send({ ...modelListEntry(card, Math.floor(Date.now() / 1000)), context_length: 0 });
  });

  app.post('/place_instance', async (request, reply) => {
    const body = readJsonObjectBody(request.body as string | undefined, request.headers['content-type']);
    if (!body.ok) return sendValidationError(reply, body.errors);
    const parsed = parsePlaceParams(body.body);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    const card = loadCard(host, parsed.value.modelId);
    if (!card) return sendUnhandledError(reply);
    const commandId = newUuid();
    await host.sendCommand({ type: 'place', commandId, card, ...parsed.value });
    return reply.send({ message: 'Command received.', command_id: commandId, model_card: cardJson(card) });
  });

  app.post('/instance', async (request, reply) => {
    const body = readJsonObjectBody(request.body as string | undefined, request.headers['content-type']);
    if (!body.ok) return sendValidationError(reply, body.errors);
    const parsed = parseCreateInstance(body.body);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    if (!('MlxRingInstance' in parsed.value)) {
      return sendHttpException(
        reply,
        400,
        'MlxJacclInstance needs RDMA over Thunderbolt, which no emulated (Linux) node has; use an MlxRingInstance',
      );
    }
    const instance = parsed.value;
    const card = loadCard(host, instanceBody(instance).shardAssignments.modelId);
    if (!card) return sendUnhandledError(reply);
    // create_instance compares the card's size with the RAM available on all nodes together.
    const available = Object.values(host.state().nodeMemory).reduce((sum, m) => sum + m.ramAvailable.inBytes, 0);
    if (card.storageBytes > available) {
      const gb = (bytes: number): string => (bytes / 1024 ** 3).toFixed(1);
      return sendHttpException(
        reply,
        400,
        `Insufficient memory to create instance. Required: ${gb(card.storageBytes)}GB, Available: ${gb(available)}GB`,
      );
    }
    const commandId = newUuid();
    await host.sendCommand({ type: 'create', commandId, instance, card });
    return reply.send({ message: 'Command received.', command_id: commandId, model_card: cardJson(card) });
  });

  // StartDownloadResponse & co. are FrozenModels: their key is camelCase.
  app.post('/download/start', async (request, reply) => {
    const body = readJsonObjectBody(request.body as string | undefined, request.headers['content-type']);
    if (!body.ok) return sendValidationError(reply, body.errors);
    const parsed = parseStartDownload(body.body);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    const commandId = newUuid();
    await host.sendCommand({ type: 'download-start', commandId, ...parsed.value });
    return reply.send({ commandId });
  });

  app.delete<{ Params: { nodeId: string; '*': string } }>('/download/:nodeId/*', async (request, reply) => {
    const commandId = newUuid();
    const { nodeId, '*': modelId } = request.params;
    await host.sendCommand({ type: 'download-delete', commandId, targetNodeId: nodeId, modelId });
    return reply.send({ commandId });
  });

  app.post('/download/cancel', async (request, reply) => {
    const body = readJsonObjectBody(request.body as string | undefined, request.headers['content-type']);
    if (!body.ok) return sendValidationError(reply, body.errors);
    const parsed = parseCancelDownload(body.body);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    const commandId = newUuid();
    await host.sendCommand({ type: 'download-cancel', commandId, ...parsed.value });
    return reply.send({ commandId });
  });

  app.get<{ Querystring: Record<string, unknown> }>('/instance/placement', (request, reply) => {
    const parsed = parsePlacementQuery(request.query);
    if (!parsed.ok) return sendValidationError(reply, parsed.errors);
    const card = loadCard(host, parsed.value.modelId);
    if (!card) return sendUnhandledError(reply);
    try {
      const instance = placeInstance(
        { card, cardJson: cardJson(card), ...parsed.value },
        placementViewFromState(host.state()),
        ids,
      );
      return reply.send(instance);
    } catch (err) {
      if (err instanceof PlacementError) return sendHttpException(reply, 400, err.message);
      throw err;
    }
  });

  app.get<{ Querystring: Record<string, unknown> }>('/instance/previews', (request, reply) => {
    const modelId = request.query.model_id;
    if (typeof modelId !== 'string') {
      return sendValidationError(reply, [
        { type: 'missing', loc: ['query', 'model_id'], msg: 'Field required', input: null },
      ]);
    }
    const state = host.state();
    if (state.topology.nodes.length === 0) return reply.send({ previews: [] });
    let card: ExoCard;
    try {
      card = host.cards.load(modelId);
    } catch (err) {
      return sendHttpException(reply, 400, `Failed to load model card: ${(err as Error).message}`);
    }
    return reply.send({ previews: previews(card, state) });
  });

  app.get<{ Params: { id: string } }>('/instance/:id', (request, reply) => {
    const instance = host.state().instances[request.params.id];
    if (!instance) return sendHttpException(reply, 404, 'Instance not found');
    return reply.send(instance);
  });

  app.delete<{ Params: { id: string } }>('/instance/:id', async (request, reply) => {
    const instanceId = request.params.id;
    if (!host.state().instances[instanceId]) return sendHttpException(reply, 404, 'Instance not found');
    const commandId = newUuid();
    await host.sendCommand({ type: 'delete', commandId, instanceId });
    return reply.send({ message: 'Command received.', command_id: commandId, instance_id: instanceId });
  });
}

/** `get_placement_previews`: every sharding × meta × node count, errors once per combination. */
function previews(card: ExoCard, state: StateJson): Record<string, unknown>[] {
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  const view = placementViewFromState(state);
  for (const sharding of ['Pipeline', 'Tensor'] as Sharding[]) {
    for (const instanceMeta of ['MlxRing', 'MlxJaccl'] as InstanceMeta[]) {
      for (let minNodes = 1; minNodes <= state.topology.nodes.length; minNodes++) {
        const base = { model_id: card.modelId, sharding, instance_meta: instanceMeta };
        let instance;
        try {
          instance = placeInstance({ card, cardJson: cardJson(card), sharding, instanceMeta, minNodes }, view, ids);
        } catch (err) {
          if (!(err instanceof PlacementError)) throw err;
          const key = `${sharding}/${instanceMeta}/0`;
          if (!seen.has(key)) {
            out.push({ ...base, instance: null, memory_delta_by_node: null, error: err.message });
            seen.add(key);
          }
          continue;
        }
        const nodeIds = Object.keys(instanceBody(instance).shardAssignments.nodeToRunner);
        const key = `${sharding}/${instanceMeta}/${nodeIds.length}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const perNode = Math.floor(card.storageBytes / nodeIds.length);
        const remainder = card.storageBytes % nodeIds.length;
        const delta: Record<string, number> = {};
        [...nodeIds].sort().forEach((id, i) => {
          delta[id] = perNode + (i < remainder ? 1 : 0);
        });
        out.push({ ...base, instance, memory_delta_by_node: delta, error: null });
      }
    }
  }
  return out;
}
