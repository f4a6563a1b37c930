/**
 * The emulated scheduler: keep-alive expiry, GPU / CPU placement, the OOM error, parallel slots
 * with a queue (503 when full, wait only in total_duration), and disconnects freeing their slot.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_OLLAMA_MODELS, batchFactor, decodeSecondsPerToken } from '../src/index.js';
import {
  CPU_SERVER_PROFILE,
  FAST_CPU_PROFILE,
  captureLog,
  postJson,
  psModels,
  readLines,
  startEmulator,
  waitFor,
} from './ollama-helpers.js';

interface Final {
  total_duration: number;
  load_duration?: number;
  prompt_eval_duration: number;
  eval_duration: number;
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

void describe('keep-alive', () => {
  void test('a short keep_alive unloads the model when it expires', async (t) => {
    const emu = await startEmulator(t);
    const sent = Date.now();
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      stream: false,
      keep_alive: '300ms',
      options: { num_predict: 1 },
    });
    assert.equal(res.status, 200);
    await res.json();
    const ps = await psModels(emu.url);
    const answeredAt = Date.now();
    assert.equal(ps.length, 1);
    const expiresAt = Date.parse(String(ps[0]?.expires_at));
    assert.ok(expiresAt > sent && expiresAt <= answeredAt + 300, 'expires_at is about 300 ms ahead');
    // Poll until unloaded; a poll answered well before expires_at must still see the model.
    let unloadedSeenAt = 0;
    assert.ok(
      await waitFor(async () => {
        const loaded = (await psModels(emu.url)).length;
        const at = Date.now();
        if (loaded === 1) return false;
        unloadedSeenAt = at;
        return true;
      }, 5000),
      'unloaded after expiry',
    );
    // expires_at has millisecond precision and the timer may fire a millisecond early.
    assert.ok(
      unloadedSeenAt >= expiresAt - 5,
      `not unloaded before its keep_alive (${expiresAt - unloadedSeenAt} ms early)`,
    );
  });

  void test('negative keep_alive keeps the model forever (expires_at centuries ahead)', async (t) => {
    const emu = await startEmulator(t);
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b', keep_alive: -1 })).json();
    const ps = await psModels(emu.url);
    const year = new Date(String(ps[0]?.expires_at)).getUTCFullYear();
    assert.ok(year >= 2300, `expires_at year ${year}`);
  });

  void test('the server default keep-alive applies when a request sets none', async (t) => {
    const emu = await startEmulator(t, { keepAlive: '250ms' });
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b' })).json();
    assert.equal((await psModels(emu.url)).length, 1);
    assert.ok(await waitFor(async () => (await psModels(emu.url)).length === 0, 3000));
  });
});

void describe('placement and memory', () => {
  void test('on a GPU profile the model is all in VRAM; on a CPU profile size_vram is 0', async (t) => {
    const gpu = await startEmulator(t);
    await (await postJson(`${gpu.url}/api/generate`, { model: 'qwen2.5:3b' })).json();
    const [onGpu] = await psModels(gpu.url);
    assert.ok(onGpu);
    assert.equal(onGpu.size_vram, onGpu.size);
    // weights + 32768 (the automatic context of a 23 GiB GPU) × 36 KiB KV + 512 MiB graph
    assert.equal(onGpu.size, 1_929_912_432 + 32768 * 36 * 1024 + 512 * 1024 ** 2);
    assert.equal(onGpu.context_length, 32768);

    const cpu = await startEmulator(t, { profile: FAST_CPU_PROFILE });
    await (await postJson(`${cpu.url}/api/generate`, { model: 'qwen2.5:3b' })).json();
    const [onCpu] = await psModels(cpu.url);
    assert.equal(onCpu?.size_vram, 0);
    assert.equal(onCpu?.context_length, 4096);
  });

  void test('llama3.3:70b on the 32 GB CPU server fails with the llama-server OOM text', async (t) => {
    const emu = await startEmulator(t, { profile: CPU_SERVER_PROFILE });
    const llama70b = DEFAULT_OLLAMA_MODELS.find((m) => m.name === 'llama3.3:70b');
    assert.ok(llama70b);
    // Without a GPU Ollama turns mmap off: the 42.5 GB of weights must fit the 28 GiB free RAM.
    const expected =
      'llama-server reported out-of-memory during startup: ' +
      `ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${llama70b.sizeBytes}\n` +
      'error loading model: unable to allocate CPU buffer';
    for (const stream of [true, false]) {
      const res = await postJson(`${emu.url}/api/generate`, { model: 'llama3.3:70b', prompt: 'hi', stream });
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await res.json(), {
        error: expected,
      });
    }
    assert.deepEqual(await psModels(emu.url), []);
  });

  void test('a huge explicit num_ctx is capped at the trained context, not refused', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE });
    const res = await postJson(`${emu.url}/api/chat`, {
      model: 'qwen2.5:3b',
      messages: [{ role: 'user', content: 'x' }],
      stream: false,
      options: { num_ctx: 1_000_000, num_predict: 1 },
    });
    assert.equal(res.status, 200);
    await res.json();
    const [ps] = await psModels(emu.url);
    assert.equal(ps?.context_length, 32768);
    assert.equal(ps?.size, 1_929_912_432 + 32768 * 36 * 1024 + 512 * 1024 ** 2);
  });
});

void describe('parallel slots and the queue', () => {
  void test('only requests waiting in the scheduler count against maxQueue; a loaded model queues on its runner', async (t) => {
    const log = captureLog();
    const emu = await startEmulator(t, {
      profile: FAST_CPU_PROFILE,
      numParallel: 1,
      maxQueue: 0,
      logger: log.logger,
    });
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b' })).json(); // warm
    const aborts = [new AbortController(), new AbortController(), new AbortController()];
    t.after(() => {
      for (const a of aborts) a.abort();
    });
    // An open-ended answer on the CPU profile takes ~5 s: the slot stays taken while the test runs.
    const ask = (signal: AbortSignal, options: Record<string, unknown> = {}): Promise<Response> =>
      postJson(
        `${emu.url}/api/generate`,
        { model: 'llama3.2:1b', prompt: 'x', options: { num_predict: -1, ...options } },
        { signal },
      );
    const first = await ask(aborts[0]!.signal);
    assert.equal(first.status, 200);
    // A token arrived: the first request holds the only slot and decodes (the body stays open).
    const firstChunk = await first.body?.getReader().read();
    assert.ok(firstChunk && !firstChunk.done);

    // Same model, same options: it goes to the loaded runner and waits there, so even a queue limit
    // of 0 does not refuse it.
    const second = ask(aborts[1]!.signal);
    assert.ok(await waitFor(() => log.count('request queued') === 1, 10_000), 'the second request waits');
    // Another context needs a reload: the scheduler takes it on (one at a time) ...
    const third = ask(aborts[2]!.signal, { num_ctx: 2048 });
    assert.ok(await waitFor(() => log.count('request queued') === 2, 10_000), 'the reload request waits');
    // ... and with maxQueue 0 nothing more may wait in its channel: 503.
    const fourth = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      options: { num_ctx: 1024 },
    });
    assert.equal(fourth.status, 503);
    assert.equal(fourth.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await fourth.json(), {
      error: 'server busy, please try again.  maximum pending requests exceeded',
    });
    assert.equal(log.count('request queued'), 2, 'the refused request never entered the queue');

    // The first client leaves: its slot goes to the request that waited first, which streams.
    aborts[0]!.abort();
    const b = await second;
    assert.equal(b.status, 200);
    const secondLines = await readLines(b, 2);
    assert.equal(secondLines.length, 2);
    assert.equal((JSON.parse(secondLines[0]?.text ?? '{}') as { done?: boolean }).done, false);
    aborts[2]!.abort();
    await third.catch(() => undefined);
  });

  void test('queue wait shows in total_duration only', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, numParallel: 1, deterministic: true });
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b' })).json(); // warm
    const ask = async (): Promise<Final> =>
      (await (
        await postJson(`${emu.url}/api/generate`, {
          model: 'llama3.2:1b',
          prompt: 'x',
          stream: false,
          options: { num_predict: 8 },
        })
      ).json()) as Final;
    const [first, second] = await Promise.all([ask(), ask()]);
    const overhead = (f: Final): number =>
      f.total_duration - (f.load_duration ?? 0) - f.prompt_eval_duration - f.eval_duration;
    const [early, late] = overhead(first) < overhead(second) ? [first, second] : [second, first];
    assert.ok(overhead(early) < 50e6, `the first runs at once (${overhead(early)} ns unaccounted)`);
    assert.ok(overhead(late) > 0.7 * early.eval_duration, 'the second waited about one generation');
    assert.ok((late.load_duration ?? 0) < 50e6, 'the wait is not load time');
  });

  void test('numParallel 2 runs two requests at once, each a little slower (shared batch)', async (t) => {
    // Without the prompt cache both prompts take the same prefill, so both streams decode together
    // from the start (with it, the slot that ran the solo request would start far earlier).
    const emu = await startEmulator(t, {
      profile: FAST_CPU_PROFILE,
      numParallel: 2,
      deterministic: true,
      faults: { promptCache: false },
    });
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b' })).json(); // warm
    const tokens = 20;
    const ask = async (): Promise<Final & { eval_count: number }> =>
      (await (
        await postJson(`${emu.url}/api/generate`, {
          model: 'llama3.2:1b',
          prompt: 'x',
          stream: false,
          options: { num_predict: tokens },
        })
      ).json()) as Final & { eval_count: number };
    const llama1b = DEFAULT_OLLAMA_MODELS.find((m) => m.name === 'llama3.2:1b');
    assert.ok(llama1b);
    const stepNs = decodeSecondsPerToken(llama1b.sizeBytes, FAST_CPU_PROFILE.cpu) * 1e9;
    const solo = await ask();
    assert.equal(solo.eval_count, tokens);
    // Steps are due at absolute deadlines, so a stream is never faster than the model.
    assert.ok(solo.eval_duration >= tokens * stepNs * 0.999, 'a solo stream keeps the model rate');
    const overhead = (f: Final): number =>
      f.total_duration - (f.load_duration ?? 0) - f.prompt_eval_duration - f.eval_duration;
    const pair = await Promise.all([ask(), ask()]);
    for (const r of pair) {
      // Had one waited for the other, its wait (a whole generation) would show here.
      assert.ok(overhead(r) < 0.5 * tokens * stepNs, `no queueing (${overhead(r)} ns unaccounted)`);
      // Both decode together for most of their steps: every shared step costs the batch factor, so
      // each stream is slower than the solo model. (At least half the steps shared: the two prefills
      // may end a few steps apart on a busy machine.)
      const batchedFloor = tokens * (1 + (batchFactor(2) - 1) / 2) * stepNs;
      assert.ok(r.eval_duration >= batchedFloor * 0.999, `batched steps are slower (${r.eval_duration} ns)`);
    }
  });

  void test('a client that disconnects mid-stream frees its slot and leaves no timers', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, numParallel: 1 });
    await (await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b' })).json(); // warm
    const baseline = activeTimers();
    const controller = new AbortController();
    const res = await postJson(
      `${emu.url}/api/generate`,
      { model: 'llama3.2:1b', prompt: 'x', options: { num_predict: -1 } },
      { signal: controller.signal },
    );
    const reader = res.body?.getReader();
    assert.ok(reader);
    await reader.read(); // at least one token arrived
    controller.abort();
    const started = performance.now();
    const freed = await waitFor(async () => {
      const r = await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        stream: false,
        options: { num_predict: 1 },
      });
      await r.text();
      return r.status === 200;
    }, 2000);
    assert.ok(freed, 'slot freed after the disconnect');
    assert.ok(performance.now() - started < 1500, 'freed at once, not after the ~5 s natural answer');
    assert.ok(await waitFor(() => activeTimers() <= baseline, 1000), 'no timers left behind');
  });
});
