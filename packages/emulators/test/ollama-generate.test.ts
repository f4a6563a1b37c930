/**
 * `/api/generate` and `/api/chat`: streaming and not, load / unload replies, `num_predict`,
 * `num_ctx`, metrics (omitted when zero, consistent with the client's clock) and determinism.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_OLLAMA_MODELS, decodeSecondsPerToken } from '../src/index.js';
import { NATURAL_ANSWER_TOKENS } from '../src/text-generator.js';
import { FAST_CPU_PROFILE, postJson, psModels, readLines, readNdjson, startEmulator } from './ollama-helpers.js';

const CREATED_AT_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const METRICS = [
  'total_duration',
  'load_duration',
  'prompt_eval_count',
  'prompt_eval_duration',
  'eval_count',
  'eval_duration',
];

void describe('/api/generate', () => {
  void test('streams NDJSON per token and ends with done, done_reason, context and metrics', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'Write a binary search',
      options: { num_predict: 6 },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = await readNdjson(res);
    assert.equal(lines.length, 7);
    const tokens = lines.slice(0, 6);
    for (const chunk of tokens) {
      assert.deepEqual(Object.keys(chunk), ['model', 'created_at', 'response', 'done']);
      assert.equal(chunk.model, 'llama3.2:1b');
      assert.match(String(chunk.created_at), CREATED_AT_UTC);
      assert.equal(chunk.done, false);
    }
    const final = lines[6] ?? {};
    assert.deepEqual(Object.keys(final), [
      'model',
      'created_at',
      'response',
      'done',
      'done_reason',
      'context',
      ...METRICS,
    ]);
    assert.equal(final.response, '');
    assert.equal(final.done, true);
    assert.equal(final.done_reason, 'length');
    assert.equal(final.eval_count, 6);
    const context = final.context as number[];
    assert.equal(context.length, Number(final.prompt_eval_count) + 6);
    for (const key of METRICS) assert.ok(Number.isInteger(final[key]) && Number(final[key]) > 0, key);
    assert.ok(Number(final.load_duration) >= 300e6, 'cold load is in load_duration');
    assert.ok(Number(final.total_duration) >= Number(final.load_duration) + Number(final.eval_duration));
  });

  void test('stream:false returns one object with the whole response; raw omits context', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      stream: false,
      raw: true,
      options: { num_predict: 4 },
    });
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.response, 'Here is a binary');
    assert.equal(body.done, true);
    assert.equal(body.context, undefined);
  });

  void test('num_predict: negative runs to the natural end (stop), huge values are bounded', async (t) => {
    const emu = await startEmulator(t);
    for (const numPredict of [-1, -2, 1e12, undefined]) {
      const res = await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        stream: false,
        options: numPredict === undefined ? {} : { num_predict: numPredict },
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.done_reason, 'stop', `num_predict ${String(numPredict)}`);
      assert.equal(body.eval_count, NATURAL_ANSWER_TOKENS);
    }
    // 10 × num_ctx bounds an open-ended generation (llm/llama_server.go boundedNumPredict).
    const bounded = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      stream: false,
      options: { num_ctx: 4, num_predict: -1 },
    });
    const body = (await bounded.json()) as Record<string, unknown>;
    assert.equal(body.done_reason, 'length');
    assert.equal(body.eval_count, 40);
  });

  void test('bad option types fail like api.Options.FromMap', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      options: { num_ctx: '8k' },
    });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'option "num_ctx" must be of type integer' });
  });

  void test('empty prompt loads (done_reason load); keep_alive 0 unloads', async (t) => {
    const emu = await startEmulator(t);
    const load = await postJson(`${emu.url}/api/generate`, { model: 'qwen2.5:3b' });
    assert.equal(load.status, 200);
    assert.equal(load.headers.get('content-type'), 'application/json; charset=utf-8');
    const loaded = (await load.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(loaded), ['model', 'created_at', 'response', 'done', 'done_reason']);
    assert.equal(loaded.done_reason, 'load');
    assert.equal(loaded.response, '');
    assert.deepEqual(
      (await psModels(emu.url)).map((m) => m.name),
      ['qwen2.5:3b'],
    );
    const unload = await postJson(`${emu.url}/api/generate`, { model: 'qwen2.5:3b', keep_alive: 0 });
    const unloaded = (await unload.json()) as Record<string, unknown>;
    assert.equal(unloaded.done_reason, 'unload');
    assert.deepEqual(await psModels(emu.url), []);
  });

  void test('changing num_ctx reloads the model (load time again, ps context_length)', async (t) => {
    const emu = await startEmulator(t);
    const first = (await (
      await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        stream: false,
        options: { num_predict: 1 },
      })
    ).json()) as Record<string, unknown>;
    assert.ok(Number(first.load_duration) >= 300e6);
    const warm = (await (
      await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        stream: false,
        options: { num_predict: 1 },
      })
    ).json()) as Record<string, unknown>;
    assert.ok(Number(warm.load_duration ?? 0) < 50e6, 'a warm model loads at once');
    // The automatic default on a 23 GiB GPU.
    assert.equal((await psModels(emu.url))[0]?.context_length, 32768);
    const reload = (await (
      await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        stream: false,
        options: { num_predict: 1, num_ctx: 2048 },
      })
    ).json()) as Record<string, unknown>;
    assert.ok(Number(reload.load_duration) >= 300e6, 'new num_ctx forces a reload');
    const ps = await psModels(emu.url);
    assert.equal(ps.length, 1);
    assert.equal(ps[0]?.context_length, 2048);
  });
});

void describe('/api/chat', () => {
  void test('streams message chunks and a final chunk without context', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/api/chat`, {
      model: 'qwen2.5:3b',
      messages: [{ role: 'user', content: 'Write a binary search' }],
      options: { num_predict: 3 },
    });
    const lines = await readNdjson(res);
    assert.equal(lines.length, 4);
    assert.deepEqual(lines[0]?.message, { role: 'assistant', content: 'Here' });
    assert.deepEqual(Object.keys(lines[0] ?? {}), ['model', 'created_at', 'message', 'done']);
    const final = lines[3] ?? {};
    assert.deepEqual(Object.keys(final), ['model', 'created_at', 'message', 'done', 'done_reason', ...METRICS]);
    assert.deepEqual(final.message, { role: 'assistant', content: '' });
    assert.equal(final.done_reason, 'length');
  });

  void test('stream:false gathers the content; empty messages load; keep_alive 0 unloads', async (t) => {
    const emu = await startEmulator(t);
    const body = (await (
      await postJson(`${emu.url}/api/chat`, {
        model: 'qwen2.5:3b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: false,
        options: { num_predict: 2 },
      })
    ).json()) as Record<string, unknown>;
    assert.deepEqual(body.message, { role: 'assistant', content: 'Here is' });
    assert.equal(body.eval_count, 2);
    const load = (await (
      await postJson(`${emu.url}/api/chat`, { model: 'qwen2.5:3b', messages: [] })
    ).json()) as Record<string, unknown>;
    assert.deepEqual(load.message, { role: 'assistant', content: '' });
    assert.equal(load.done_reason, 'load');
    const unload = (await (
      await postJson(`${emu.url}/api/chat`, { model: 'qwen2.5:3b', messages: [], keep_alive: '0s' })
    ).json()) as Record<string, unknown>;
    assert.equal(unload.done_reason, 'unload');
    assert.deepEqual(await psModels(emu.url), []);
  });
});

void describe('timing and determinism', () => {
  void test("reported eval rate matches the client's own measurement", async (t) => {
    // llama3.2:1b on the DDR4 CPU server: ~37 ms per token, large against timer granularity. 40
    // tokens span ~1.5 s: a late event loop delays a token now and then (never the schedule), so
    // rates over this span stay within the tolerances below even on a loaded machine.
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true });
    const started = performance.now();
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      options: { num_predict: 40 },
    });
    const lines = await readLines(res);
    const finished = performance.now();
    const tokenLines = lines.slice(0, -1);
    const final = JSON.parse(lines.at(-1)?.text ?? '{}') as Record<string, number>;
    const firstAt = tokenLines[0]?.at ?? 0;
    const lastAt = tokenLines.at(-1)?.at ?? 0;
    const clientRate = (tokenLines.length - 1) / ((lastAt - firstAt) / 1000);
    const serverRate = (final.eval_count ?? 0) / ((final.eval_duration ?? 1) / 1e9);
    assert.ok(
      Math.abs(clientRate - serverRate) / serverRate < 0.25,
      `client ${clientRate} vs server ${serverRate} tok/s`,
    );
    const llama1b = DEFAULT_OLLAMA_MODELS.find((m) => m.name === 'llama3.2:1b');
    assert.ok(llama1b);
    const modelRate = 1 / decodeSecondsPerToken(llama1b.sizeBytes, FAST_CPU_PROFILE.cpu);
    // Absolute deadlines: never faster than the model (bar rounding), and lateness never accumulates.
    assert.ok(serverRate <= modelRate * 1.001, `rate ${serverRate} above the timing model ${modelRate} tok/s`);
    assert.ok(
      Math.abs(serverRate - modelRate) / modelRate < 0.2,
      `rate ${serverRate} vs timing model ${modelRate} tok/s`,
    );
    const wallMs = finished - started;
    assert.ok(wallMs >= (final.total_duration ?? 0) / 1e6 - 5, 'total_duration fits within the wall clock');
    const ttftMs = firstAt - started;
    const serverTtftMs = ((final.load_duration ?? 0) + (final.prompt_eval_duration ?? 0)) / 1e6;
    assert.ok(ttftMs >= serverTtftMs, 'time to first token includes load and prefill');
  });

  void test('a stalled event loop does not slow the stream: overdue tokens go out at once', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true });
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b' })).json(); // warm
    const llama1b = DEFAULT_OLLAMA_MODELS.find((m) => m.name === 'llama3.2:1b');
    assert.ok(llama1b);
    const stepMs = decodeSecondsPerToken(llama1b.sizeBytes, FAST_CPU_PROFILE.cpu) * 1000;
    const tokens = 40;
    const stallMs = 1000;
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      options: { num_predict: tokens },
    });
    const body = res.body;
    assert.ok(body);
    const reader = body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    let text = '';
    let stalled = false;
    for (let i = 0; i < 10_000; i += 1) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!stalled && text.split('\n').length > 3) {
        // The emulator runs in this process: block its event loop for a whole second (~27 steps).
        stalled = true;
        const until = performance.now() + stallMs;
        while (performance.now() < until) {
          // busy
        }
      }
    }
    assert.ok(stalled);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | boolean>);
    // Every overdue token is still its own chunk.
    assert.equal(lines.length, tokens + 1);
    const final = lines.at(-1)!;
    assert.equal(final.eval_count, tokens);
    // The schedule was fixed before the stall, so decode ends on time: the stall is not added.
    const evalMs = Number(final.eval_duration) / 1e6;
    assert.ok(evalMs >= tokens * stepMs * 0.999, `decode ${evalMs} ms, faster than the model`);
    assert.ok(
      evalMs < tokens * stepMs + stallMs / 2,
      `decode ${evalMs} ms vs ${tokens * stepMs} ms model: the ${stallMs} ms stall was added`,
    );
  });

  void test('deterministic mode yields identical text twice', async (t) => {
    const emu = await startEmulator(t, { deterministic: true });
    const ask = async (): Promise<string> => {
      const body = (await (
        await postJson(`${emu.url}/api/generate`, {
          model: 'llama3.2:1b',
          prompt: 'x',
          stream: false,
          options: { num_predict: 20 },
        })
      ).json()) as { response: string };
      return body.response;
    };
    const a = await ask();
    const b = await ask();
    assert.equal(a, b);
    assert.ok(a.length > 20);
  });
});
