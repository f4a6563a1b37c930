/**
 * The gateway with the official clients (ollama-js, openai) in front and emulated backends behind,
 * all over real sockets: two Ollama nodes and an EXO node serving a model no Ollama node has.
 * Routing (loaded first, the run lock, stickiness), failover before the first byte, a stream cut
 * after it, a client leaving mid-stream, and every bad input the issue lists.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { pino } from 'pino';
import { createGateway, type Gateway, type GatewayConfig } from '@kage/coordinator';
import { DEFAULT_OLLAMA_MODELS, startOllamaEmulator, type RunningEmulator } from '@kage/emulators';
import { profile, startExoCluster } from './src/emulated-lab.js';

const silent = pino({ level: 'silent' });
const SMALL = 'qwen2.5:3b';
const EXO_ONLY = 'qwen2.5-coder:32b';
const EXO_ONLY_ID = 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit';

async function ollamaNode(t: TestContext, profileId: string, faults = {}): Promise<RunningEmulator> {
  const node = await startOllamaEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    profile: profile(profileId),
    models: DEFAULT_OLLAMA_MODELS.filter((m) => m.name === SMALL),
    deterministic: true,
    logger: silent,
    faults,
  });
  t.after(() => node.close());
  return node;
}

function gatewayConfig(backends: GatewayConfig['backends'], extra: Partial<GatewayConfig> = {}): GatewayConfig {
  const config = {
    host: '127.0.0.1',
    port: 0,
    backends,
    models: [],
    connectTimeoutMs: 1000,
    firstByteTimeoutMs: 30_000,
    healthIntervalMs: 200,
    breakerFailures: 3,
    breakerOpenMs: 5000,
    maxBodyBytes: 64 * 1024,
    sticky: true,
    ...extra,
  };
  if (!('clientTokens' in extra)) Object.defineProperty(config, 'clientTokens', { value: new Set<string>() });
  return config as GatewayConfig;
}

async function startGateway(
  t: TestContext,
  config: GatewayConfig,
  busy: Set<string> = new Set(),
  benchRates: Array<{ url: string; model: string; decodeTps: number }> = [],
): Promise<{ gateway: Gateway; url: string }> {
  const gateway = createGateway({ config, log: silent, busyUrls: () => busy, benchRates: () => benchRates });
  const port = await gateway.start();
  t.after(() => gateway.close());
  return { gateway, url: `http://127.0.0.1:${port}` };
}

const backend = (id: string, kind: 'ollama' | 'exo', url: string, numParallel = 1) => ({
  id,
  kind,
  url,
  nodes: [id],
  numParallel,
});

/** An EXO node with an instance of `model` placed and every runner ready. */
async function exoWithInstance(t: TestContext, model: string): Promise<RunningEmulator> {
  const [exo] = await startExoCluster([{ name: 'exo1', profile: 'strix-halo-8060s-128gb' }]);
  if (exo === undefined) throw new Error('no EXO node');
  t.after(() => exo.close());
  const placed = await fetch(`${exo.url}/place_instance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model_id: model }),
  });
  assert.equal(placed.status, 200, await placed.text());
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = (await (await fetch(`${exo.url}/state`)).json()) as { runners?: Record<string, unknown> };
    const runners = Object.values(state.runners ?? {}).map((r) => Object.keys(r as object)[0]);
    if (runners.length > 0 && runners.every((s) => s === 'RunnerReady')) return exo;
    if (Date.now() > deadline) throw new Error(`EXO instance of ${model} not ready: ${JSON.stringify(runners)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('ollama-js and openai through the gateway: Ollama nodes and a model only EXO runs, each in its own protocol', async (t) => {
  const fast = await ollamaNode(t, 'rtx4090-desktop');
  const exo = await exoWithInstance(t, EXO_ONLY_ID);
  // The pair is built in; the config's alias (the design's example) says the same and changes nothing.
  const { url } = await startGateway(
    t,
    gatewayConfig([backend('ollama-fast', 'ollama', fast.url), backend('exo-cluster', 'exo', exo.url)], {
      models: [{ name: EXO_ONLY, exo: EXO_ONLY_ID }],
    }),
  );
  const ollama = new Ollama({ host: url });

  // An Ollama model on an Ollama node: streamed NDJSON, the final chunk with its counts.
  const parts: string[] = [];
  let last: Record<string, unknown> = {};
  for await (const chunk of await ollama.chat({
    model: SMALL,
    messages: [{ role: 'user', content: 'Say hello.' }],
    stream: true,
    options: { num_predict: 8 },
  })) {
    parts.push(chunk.message.content);
    last = chunk as unknown as Record<string, unknown>;
  }
  assert.ok(parts.join('').length > 0);
  assert.equal(last['done'], true);
  assert.equal(last['eval_count'], 8);

  // A model only EXO runs, asked the Ollama way: EXO's SSE comes back as Ollama's NDJSON.
  const exoParts: string[] = [];
  let exoLast: Record<string, unknown> = {};
  for await (const chunk of await ollama.chat({
    model: EXO_ONLY,
    messages: [{ role: 'user', content: 'Write a haiku.' }],
    stream: true,
    options: { num_predict: 6 },
  })) {
    exoParts.push(chunk.message.content);
    exoLast = chunk as unknown as Record<string, unknown>;
  }
  assert.ok(exoParts.join('').length > 0);
  assert.equal(exoLast['done'], true);
  assert.equal(exoLast['model'], EXO_ONLY, 'answers carry the name the client asked for');
  assert.equal(typeof exoLast['eval_count'], 'number');

  const generated = await ollama.generate({
    model: EXO_ONLY,
    prompt: 'One word.',
    stream: false,
    options: { num_predict: 4 },
  });
  assert.equal(generated.done, true);
  assert.ok((generated.response ?? '').length > 0);

  // The header names the backend.
  const raw = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: EXO_ONLY_ID,
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
      options: { num_predict: 2 },
    }),
  });
  assert.equal(raw.headers.get('x-kage-backend'), 'exo-cluster');
  assert.equal(raw.status, 200, await raw.clone().text());

  // The union of models, and where each lives.
  const tags = await ollama.list();
  const byName = new Map(
    tags.models.map((m) => [m.name, (m as unknown as { kage: { backends: string[] } }).kage.backends]),
  );
  assert.deepEqual(byName.get(SMALL), ['ollama-fast']);
  assert.deepEqual(byName.get(EXO_ONLY), ['exo-cluster']);

  // The openai client, to both kinds of backend.
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused' });
  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => m.id).sort(), [EXO_ONLY, SMALL].sort());
  for (const model of [SMALL, EXO_ONLY]) {
    const stream = await openai.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Count to three.' }],
      stream: true,
      max_tokens: 5,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0, `${model} streamed`);
    const whole = await openai.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 3,
    });
    assert.ok((whole.choices[0]?.message.content ?? '').length > 0, `${model} answered`);
  }
});

test('routing: a backend with the model loaded first; the run lock; failover before the first byte; a cut after it', async (t) => {
  const slow = await ollamaNode(t, 'cpu-server-ddr4');
  const fast = await ollamaNode(t, 'rtx4090-desktop');
  const failing = await ollamaNode(t, 'rtx4090-desktop', { http500Rate: 1 });
  const busy = new Set<string>();
  const { url, gateway } = await startGateway(
    t,
    gatewayConfig([backend('slow', 'ollama', slow.url), backend('fast', 'ollama', fast.url)]),
    busy,
  );
  const chat = async (content: string) => {
    const res = await fetch(`${url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({
        model: SMALL,
        messages: [{ role: 'user', content }],
        stream: false,
        options: { num_predict: 2 },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.arrayBuffer();
    return res.headers.get('x-kage-backend');
  };
  // Load the model on the slow node only (directly), and wait for the gateway to see it.
  await (
    await fetch(`${slow.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: SMALL, prompt: 'x', stream: false, options: { num_predict: 1 } }),
    })
  ).arrayBuffer();
  const seen = async (id: string) => {
    const deadline = Date.now() + 5000;
    while (
      !gateway
        .backends()
        .find((b) => b.id === id)
        ?.loaded.has(SMALL)
    ) {
      if (Date.now() > deadline) throw new Error(`the gateway never saw ${SMALL} loaded on ${id}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await seen('slow');
  assert.equal(await chat('a'), 'slow', 'loaded beats faster-but-cold');

  // A run measuring the slow node: the gateway sends it nothing.
  busy.add(`${slow.url}/`);
  assert.equal(await chat('b'), 'fast');
  busy.clear();

  // A backend answering 500 before any byte is skipped for the next one.
  const { url: url2 } = await startGateway(
    t,
    gatewayConfig([backend('failing', 'ollama', failing.url), backend('slow', 'ollama', slow.url)]),
  );
  const res = await fetch(`${url2}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: SMALL,
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
      options: { num_predict: 2 },
    }),
  });
  // Both have the model; 'failing' is not loaded either, and faster: tried first, then 'slow'.
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-kage-backend'), 'slow');
});

test("routing by expected time: a benchmark's speeds first, then what the gateway measured itself", async (t) => {
  const a = await ollamaNode(t, 'cpu-server-ddr4');
  const b = await ollamaNode(t, 'cpu-server-ddr4');
  // Two equal, cold nodes; a benchmark found b four times faster for this model.
  const { url, gateway } = await startGateway(
    t,
    gatewayConfig([backend('a', 'ollama', a.url), backend('b', 'ollama', b.url)], { sticky: false }),
    new Set(),
    [
      { url: a.url, model: SMALL, decodeTps: 5 },
      { url: `${b.url}/`, model: SMALL, decodeTps: 20 },
    ],
  );
  assert.equal(
    gateway
      .backends()
      .find((x) => x.id === 'b')
      ?.rates(SMALL)?.source,
    'bench',
  );
  const res = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: SMALL,
      messages: [{ role: 'user', content: 'x' }],
      stream: false,
      options: { num_predict: 4 },
    }),
  });
  await res.arrayBuffer();
  assert.equal(res.headers.get('x-kage-backend'), 'b');
  // The relayed answer's own counts replace the benchmark's figure.
  const measured = gateway
    .backends()
    .find((x) => x.id === 'b')
    ?.rates(SMALL);
  assert.equal(measured?.source, 'live');
  assert.ok((measured?.decodeTps ?? 0) > 0);
});

test('a backend that dies mid-stream ends the stream with the protocol error; a client that leaves frees the slot', async (t) => {
  const cutting = await ollamaNode(t, 'rtx4090-desktop', { cutAfterTokens: 3 });
  const { url, gateway } = await startGateway(t, gatewayConfig([backend('cutting', 'ollama', cutting.url)]));
  const res = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model: SMALL, messages: [{ role: 'user', content: 'go' }], options: { num_predict: 20 } }),
  });
  const lines = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(res.status, 200);
  assert.ok(lines.length >= 2);
  assert.match(String(lines[lines.length - 1]?.['error']), /mid-answer/);

  void gateway;

  const slowish = await ollamaNode(t, 'cpu-server-ddr4');
  const second = await startGateway(t, gatewayConfig([backend('slowish', 'ollama', slowish.url)]));
  const controller = new AbortController();
  const streaming = await fetch(`${second.url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: SMALL,
      messages: [{ role: 'user', content: 'long' }],
      options: { num_predict: 500 },
    }),
    signal: controller.signal,
  });
  const reader = streaming.body!.getReader();
  await reader.read();
  const state = second.gateway.backends()[0]!;
  const inFlight = (): number => state.inFlight;
  assert.equal(inFlight(), 1);
  controller.abort();
  const deadline = Date.now() + 5000;
  while (inFlight() !== 0) {
    if (Date.now() > deadline) throw new Error('the backend request was not cancelled when the client left');
    await new Promise((r) => setTimeout(r, 20));
  }
  // The backend is free again: the next request is answered at once, not queued behind 500 tokens.
  const next = await fetch(`${second.url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: SMALL,
      messages: [{ role: 'user', content: 'next' }],
      stream: false,
      options: { num_predict: 1 },
    }),
  });
  assert.equal(next.status, 200);
});

test("bad input: each answered in the protocol's own error shape, with nothing sent to a backend", async (t) => {
  const node = await ollamaNode(t, 'rtx4090-desktop');
  const tokens = new Set(['client-token-0123456789abcdef']);
  const open = await startGateway(t, gatewayConfig([backend('n', 'ollama', node.url)]));
  const post = (base: string, path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', body, headers });

  const malformed = await post(open.url, '/api/chat', '{"model": "qwen2.5:3b", ');
  assert.equal(malformed.status, 400);
  assert.match(((await malformed.json()) as { error: string }).error, /invalid JSON body/);

  const noModel = await post(open.url, '/api/generate', '{"prompt":"x"}');
  assert.equal(noModel.status, 400);
  assert.deepEqual(await noModel.json(), { error: 'model is required' });

  const unknown = await post(open.url, '/api/chat', JSON.stringify({ model: 'nope:1b', messages: [] }));
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: string }).error, /model 'nope:1b' not found/);

  const unknownOpenAI = await post(
    open.url,
    '/v1/chat/completions',
    JSON.stringify({ model: 'nope:1b', messages: [] }),
  );
  assert.equal(unknownOpenAI.status, 404);
  const oe = (await unknownOpenAI.json()) as { error: { message: string; type: string } };
  assert.match(oe.error.message, /nope:1b/);
  assert.equal(typeof oe.error.type, 'string');

  for (const trick of ['../../etc/passwd', 'qwen2.5:3b/../../x', 'a\\b', `${'x'.repeat(300)}:1b`]) {
    const res = await post(open.url, '/api/chat', JSON.stringify({ model: trick, messages: [] }));
    assert.equal(res.status, 400, trick);
    assert.equal(typeof ((await res.json()) as { error: unknown }).error, 'string');
  }

  const huge = await post(open.url, '/api/chat', JSON.stringify({ model: SMALL, prompt: 'x'.repeat(100 * 1024) }));
  assert.equal(huge.status, 413);
  assert.match(((await huge.json()) as { error: string }).error, /larger than 65536 bytes/);

  const locked = await startGateway(t, gatewayConfig([backend('n', 'ollama', node.url)], { clientTokens: tokens }));
  const refused = await post(locked.url, '/api/chat', JSON.stringify({ model: SMALL, messages: [] }));
  assert.equal(refused.status, 401);
  const allowed = await post(
    locked.url,
    '/api/chat',
    JSON.stringify({
      model: SMALL,
      messages: [{ role: 'user', content: 'x' }],
      stream: false,
      options: { num_predict: 1 },
    }),
    { authorization: 'Bearer client-token-0123456789abcdef' },
  );
  assert.equal(allowed.status, 200, await allowed.clone().text());
});

test('what `ollama run` asks first: /api/show from the node that has the model, EXO-only models answered, unknown 404', async (t) => {
  const node = await ollamaNode(t, 'rtx4090-desktop');
  const exo = await exoWithInstance(t, EXO_ONLY_ID);
  const { url } = await startGateway(
    t,
    gatewayConfig([backend('ollama-a', 'ollama', node.url), backend('exo-cluster', 'exo', exo.url)]),
  );
  const ollama = new Ollama({ host: url });
  // The backends' models are known after the first health round.
  const deadline = Date.now() + 5000;
  while ((await ollama.list()).models.length < 2) {
    if (Date.now() > deadline) assert.fail('the gateway never listed both models');
    await new Promise((r) => setTimeout(r, 50));
  }

  // The CLI's sequence: show (capabilities decide what it offers), a load-only request, the chat.
  const direct = await new Ollama({ host: node.url }).show({ model: SMALL });
  const shown = await ollama.show({ model: SMALL });
  assert.deepEqual(shown, direct, 'relayed exactly as the node answered');
  const legacy = await fetch(`${url}/api/show`, { method: 'POST', body: JSON.stringify({ name: SMALL }) });
  assert.equal(legacy.status, 200, 'the older `name` field is accepted');
  assert.equal(legacy.headers.get('x-kage-backend'), 'ollama-a');
  const loaded = await ollama.generate({ model: SMALL, prompt: '' });
  assert.equal(loaded.done_reason, 'load');

  const exoShown = await ollama.show({ model: EXO_ONLY });
  assert.deepEqual(exoShown.capabilities, ['completion']);
  assert.equal(exoShown.details.format, 'mlx');

  const missing = await fetch(`${url}/api/show`, { method: 'POST', body: JSON.stringify({ model: 'nope:7b' }) });
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "model 'nope:7b' not found" });
  const bad = await fetch(`${url}/api/show`, { method: 'POST', body: '{"model": 3}' });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /model is required/);
});
