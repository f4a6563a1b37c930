/**
 * Wire-level fidelity of the Ollama emulator's non-generating routes: gin's 404/405, Go JSON
 * errors, `/`, `/api/version`, `/api/tags`, `/api/show`, `/api/pull` and the `/v1/models` pair.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_OLLAMA_MODELS } from '../src/index.js';
import { decodeGoJson, goMarshal } from '../src/ollama/go-json.js';
import { formatRfc3339Nano, humanBytes2, parseGoDuration, parseKeepAliveJson } from '../src/ollama/go-time.js';
import { postJson, readNdjson, startEmulator } from './ollama-helpers.js';

void describe('Go JSON and time helpers', () => {
  void test('decoder errors read like encoding/json', () => {
    assert.deepEqual(decodeGoJson('   '), { kind: 'eof' });
    assert.deepEqual(decodeGoJson('{"model":'), { kind: 'error', message: 'unexpected EOF' });
    assert.deepEqual(decodeGoJson('x'), {
      kind: 'error',
      message: "invalid character 'x' looking for beginning of value",
    });
    assert.deepEqual(decodeGoJson('{"a" 1}'), { kind: 'error', message: "invalid character '1' after object key" });
    assert.deepEqual(decodeGoJson('{"a":1 2}'), {
      kind: 'error',
      message: "invalid character '2' after object key:value pair",
    });
    assert.deepEqual(decodeGoJson('[1 2]'), { kind: 'error', message: "invalid character '2' after array element" });
    assert.deepEqual(decodeGoJson("{'a':1}"), {
      kind: 'error',
      message: "invalid character '\\'' looking for beginning of object key string",
    });
    assert.deepEqual(decodeGoJson('tru'), { kind: 'error', message: 'unexpected EOF' });
    assert.deepEqual(decodeGoJson('nul!'), {
      kind: 'error',
      message: "invalid character '!' in literal null (expecting 'l')",
    });
    // Like json.Decoder, only the first value counts.
    assert.deepEqual(decodeGoJson('{"a":1} trailing'), { kind: 'ok', value: { a: 1 } });
  });

  void test('marshal escapes HTML characters like Go', () => {
    assert.equal(goMarshal({ s: '<|im_end|> & x' }), '{"s":"\\u003c|im_end|\\u003e \\u0026 x"}');
  });

  void test('durations, keep-alives, timestamps and sizes', () => {
    assert.deepEqual(parseGoDuration('1h2m3.5s'), { ok: true, ns: 3723.5e9 });
    assert.deepEqual(parseGoDuration('300ms'), { ok: true, ns: 300e6 });
    assert.deepEqual(parseGoDuration('5'), { ok: false, message: 'time: missing unit in duration "5"' });
    assert.deepEqual(parseGoDuration('5d'), { ok: false, message: 'time: unknown unit "d" in duration "5d"' });
    assert.deepEqual(parseGoDuration('abc'), { ok: false, message: 'time: invalid duration "abc"' });
    assert.deepEqual(parseKeepAliveJson(90), { ok: true, ms: 90_000 });
    assert.deepEqual(parseKeepAliveJson('-1s'), { ok: true, ms: Infinity });
    assert.deepEqual(parseKeepAliveJson(-1), { ok: true, ms: Infinity });
    assert.deepEqual(parseKeepAliveJson(true), { ok: false, message: "Unsupported type: 'bool'" });
    assert.equal(formatRfc3339Nano(1_700_000_000_123_450_000n, 'utc'), '2023-11-14T22:13:20.12345Z');
    assert.equal(formatRfc3339Nano(1_700_000_000_000_000_000n, 'utc'), '2023-11-14T22:13:20Z');
    assert.equal(humanBytes2(7.5 * 1024 ** 3), '7.5 GiB');
    assert.equal(humanBytes2(512), '512 B');
  });
});

void describe('routing and errors', () => {
  void test('GET and HEAD / answer "Ollama is running"', async (t) => {
    const emu = await startEmulator(t);
    const res = await fetch(`${emu.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await res.text(), 'Ollama is running');
    const head = await fetch(`${emu.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  void test('version is configurable', async (t) => {
    const emu = await startEmulator(t, { version: '0.12.3' });
    const res = await fetch(`${emu.url}/api/version`);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(await res.text(), '{"version":"0.12.3"}');
    assert.equal((await fetch(`${emu.url}/api/version`, { method: 'HEAD' })).status, 200);
  });

  void test('unknown routes are gin 404s, wrong methods 405s', async (t) => {
    const emu = await startEmulator(t);
    const notFound = await fetch(`${emu.url}/api/nothing`);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers.get('content-type'), 'text/plain');
    assert.equal(await notFound.text(), '404 page not found');
    for (const [method, path] of [
      ['POST', '/api/tags'],
      ['GET', '/api/generate'],
      ['DELETE', '/api/chat'],
      ['HEAD', '/api/ps'],
      ['GET', '/v1/chat/completions'],
    ] as const) {
      const res = await fetch(`${emu.url}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(await res.text(), '405 method not allowed');
    }
  });

  void test('a trailing slash redirects like gin (301 for GET, 307 otherwise)', async (t) => {
    const emu = await startEmulator(t);
    const get = await fetch(`${emu.url}/api/tags/`, { redirect: 'manual' });
    assert.equal(get.status, 301);
    assert.equal(get.headers.get('location'), '/api/tags');
    await get.text();
    const post = await fetch(`${emu.url}/api/generate/`, { method: 'POST', body: '{}', redirect: 'manual' });
    assert.equal(post.status, 307);
    assert.equal(post.headers.get('location'), '/api/generate');
    await post.text();
  });

  void test('bind errors: empty body, bad JSON, wrong types, bad keep_alive', async (t) => {
    const emu = await startEmulator(t);
    const cases: [string, string, string][] = [
      ['/api/generate', '', 'missing request body'],
      ['/api/chat', '  ', 'missing request body'],
      ['/api/show', '', 'missing request body'],
      ['/api/pull', '', 'missing request body'],
      ['/api/generate', '{"model":', 'unexpected EOF'],
      ['/api/generate', '{model:1}', "invalid character 'm' looking for beginning of object key string"],
      [
        '/api/generate',
        '{"model":"qwen2.5:3b","prompt":5}',
        'json: cannot unmarshal number into Go struct field GenerateRequest.prompt of type string',
      ],
      [
        '/api/generate',
        '{"model":"qwen2.5:3b","stream":"yes"}',
        'json: cannot unmarshal string into Go struct field GenerateRequest.stream of type bool',
      ],
      ['/api/generate', '[]', 'json: cannot unmarshal array into Go value of type api.GenerateRequest'],
      [
        '/api/chat',
        '{"model":"qwen2.5:3b","messages":[{"role":"user","content":1}]}',
        'json: cannot unmarshal number into Go struct field ChatRequest.messages.content of type string',
      ],
      ['/api/generate', '{"model":"qwen2.5:3b","keep_alive":"5"}', 'time: missing unit in duration "5"'],
      ['/api/generate', '{"model":"qwen2.5:3b","keep_alive":true}', "Unsupported type: 'bool'"],
      ['/api/generate', '{"model":"qwen2.5:3b","top_logprobs":21}', 'top_logprobs must be between 0 and 20'],
    ];
    for (const [path, body, message] of cases) {
      const res = await postJson(`${emu.url}${path}`, body);
      assert.equal(res.status, 400, `${path} ${body}`);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await res.json(), { error: message }, `${path} ${body}`);
    }
  });

  void test('missing models: 404 with the requested or normalised name, 400 without a name', async (t) => {
    const emu = await startEmulator(t);
    const gen = await postJson(`${emu.url}/api/generate`, { model: 'qwen2.5:7b', prompt: 'hi' });
    assert.equal(gen.status, 404);
    assert.deepEqual(await gen.json(), { error: "model 'qwen2.5:7b' not found" });
    const chat = await postJson(`${emu.url}/api/chat`, { model: 'nope', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(chat.status, 404);
    assert.deepEqual(await chat.json(), { error: "model 'nope' not found" });
    const chatNoName = await postJson(`${emu.url}/api/chat`, { messages: [] });
    assert.equal(chatNoName.status, 400);
    assert.deepEqual(await chatNoName.json(), { error: 'model is required' });
    const show = await postJson(`${emu.url}/api/show`, { model: 'qwen2.5' });
    assert.equal(show.status, 404);
    assert.deepEqual(await show.json(), { error: "model 'qwen2.5:latest' not found" });
    const showNoName = await postJson(`${emu.url}/api/show`, {});
    assert.equal(showNoName.status, 400);
    assert.deepEqual(await showNoName.json(), { error: 'model is required' });
  });

  void test('a model lacking thinking refuses think:true', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/generate`, { model: 'qwen2.5:3b', prompt: 'x', think: true });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: '"qwen2.5:3b" does not support thinking' });
  });
});

void describe('model listing routes', () => {
  void test('/api/tags lists the pulled models with real sizes and digests', async (t) => {
    const emu = await startEmulator(t);
    const res = await fetch(`${emu.url}/api/tags`);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await res.json()) as { models: Record<string, unknown>[] };
    assert.equal(body.models.length, DEFAULT_OLLAMA_MODELS.length);
    const qwen = body.models.find((m) => m.name === 'qwen2.5:3b');
    assert.ok(qwen);
    assert.equal(qwen.model, 'qwen2.5:3b');
    assert.equal(qwen.size, 1_929_912_432);
    assert.equal(qwen.digest, '357c53fb659c5076de1d65ccb0b397446227b71a42be9d1603d46168015c9e4b');
    assert.match(String(qwen.modified_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/);
    assert.deepEqual(qwen.details, {
      parent_model: '',
      format: 'gguf',
      family: 'qwen2',
      families: ['qwen2'],
      parameter_size: '3.1B',
      quantization_level: 'Q4_K_M',
      // Since 0.30: the GGUF's trained context and embedding width.
      context_length: 32768,
      embedding_length: 2048,
    });
    const llama70b = body.models.find((m) => m.name === 'llama3.3:70b');
    const details = llama70b?.details as Record<string, unknown> | undefined;
    assert.equal(details?.context_length, 131072);
    assert.equal(details?.embedding_length, 8192);
  });

  void test('an empty store lists {"models":[]} and /v1/models data null', async (t) => {
    const emu = await startEmulator(t, { models: [] });
    assert.equal(await (await fetch(`${emu.url}/api/tags`)).text(), '{"models":[]}');
    assert.equal(await (await fetch(`${emu.url}/v1/models`)).text(), '{"object":"list","data":null}\n');
    assert.equal(await (await fetch(`${emu.url}/api/ps`)).text(), '{"models":[]}');
  });

  void test('/api/show returns details, model_info and capabilities; accepts legacy name', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/show`, { name: 'llama3.2:1b' });
    assert.equal(res.status, 200);
    const raw = await res.text();
    assert.ok(raw.includes('\\u003c|eot_id|\\u003e'), 'Go escapes < and > in the template');
    const body = JSON.parse(raw) as Record<string, unknown>;
    const info = body.model_info as Record<string, unknown>;
    assert.equal(info['general.architecture'], 'llama');
    assert.equal(info['llama.block_count'], 16);
    assert.equal(info['llama.context_length'], 131072);
    assert.deepEqual(Object.keys(info), [...Object.keys(info)].sort(), 'model_info keys sorted like a Go map');
    assert.ok(Array.isArray(body.capabilities));
    assert.match(String(body.modelfile), /^# Modelfile generated by "ollama show"/);
    assert.match(String(body.parameters), /^stop {27}"<\|start_header_id\|>"/);
  });

  void test('/v1/models and /v1/models/:model', async (t) => {
    const emu = await startEmulator(t);
    const list = await fetch(`${emu.url}/v1/models`);
    assert.equal(list.headers.get('content-type'), 'application/json');
    const body = (await list.json()) as { object: string; data: Record<string, unknown>[] };
    assert.equal(body.object, 'list');
    const qwen = body.data.find((m) => m.id === 'qwen2.5:3b');
    assert.deepEqual(qwen, {
      id: 'qwen2.5:3b',
      object: 'model',
      created: Math.floor(Date.parse('2026-01-14T23:40:16.358619994+02:00') / 1000),
      owned_by: 'library',
    });
    const one = await fetch(`${emu.url}/v1/models/qwen2.5:3b`);
    assert.deepEqual(await one.json(), qwen);
    const missing = await fetch(`${emu.url}/v1/models/qwen2.5`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      error: { message: "model 'qwen2.5:latest' not found", type: 'not_found_error', param: null, code: null },
    });
  });
});

void describe('/api/pull', () => {
  void test('a pulled model streams its layers complete, then success', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/pull`, { model: 'qwen2.5:3b' });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = await readNdjson(res);
    assert.deepEqual(lines[0], { status: 'pulling manifest' });
    const layers = lines.filter((l) => String(l.status).startsWith('pulling ') && l.digest !== undefined);
    assert.ok(layers.length >= 2);
    for (const layer of layers) {
      assert.match(String(layer.digest), /^sha256:[0-9a-f]{64}$/);
      assert.equal(layer.status, `pulling ${String(layer.digest).slice(7, 19)}`);
      assert.equal(layer.completed, layer.total);
    }
    const total = layers.reduce((sum, l) => sum + Number(l.total), 0);
    assert.equal(total, 1_929_912_432, 'layer sizes add up to the tags size');
    assert.deepEqual(lines.slice(-3), [
      { status: 'verifying sha256 digest' },
      { status: 'writing manifest' },
      { status: 'success' },
    ]);
  });

  void test('a registry model not yet pulled downloads with progress and then lists', async (t) => {
    const emu = await startEmulator(t, { models: DEFAULT_OLLAMA_MODELS.filter((m) => m.name !== 'llama3.2:1b') });
    const before = (await (await fetch(`${emu.url}/api/tags`)).json()) as { models: { name: string }[] };
    assert.ok(!before.models.some((m) => m.name === 'llama3.2:1b'));
    const lines = await readNdjson(await postJson(`${emu.url}/api/pull`, { name: 'llama3.2:1b' }));
    const first = lines[1];
    assert.ok(first && first.completed === undefined, 'first layer line omits completed (zero)');
    const weights = lines.filter((l) => l.digest === first.digest).map((l) => Number(l.completed ?? 0));
    assert.ok(weights.length > 2);
    assert.deepEqual(
      weights,
      [...weights].sort((a, b) => a - b),
      'completed grows',
    );
    assert.equal(lines.at(-1)?.status, 'success');
    const after = (await (await fetch(`${emu.url}/api/tags`)).json()) as { models: { name: string }[] };
    assert.ok(after.models.some((m) => m.name === 'llama3.2:1b'));
  });

  void test('stream:false answers one success object', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/pull`, { model: 'qwen2.5:3b', stream: false });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"status":"success"}');
  });

  void test('an unknown model: error line when streaming, 500 otherwise', async (t) => {
    const emu = await startEmulator(t);
    const streamed = await postJson(`${emu.url}/api/pull`, { model: 'no-such-model:1b' });
    assert.equal(streamed.status, 200);
    assert.deepEqual(await readNdjson(streamed), [
      { status: 'pulling manifest' },
      { error: 'pull model manifest: file does not exist' },
    ]);
    const plain = await postJson(`${emu.url}/api/pull`, { model: 'no-such-model:1b', stream: false });
    assert.equal(plain.status, 500);
    assert.deepEqual(await plain.json(), { error: 'pull model manifest: file does not exist' });
    const unnamed = await postJson(`${emu.url}/api/pull`, {});
    assert.equal(unnamed.status, 400);
    assert.deepEqual(await unnamed.json(), { error: 'invalid model name' });
  });
});
