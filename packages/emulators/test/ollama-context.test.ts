/**
 * Context sizing and memory under Ollama 0.32: the automatic num_ctx by VRAM tier, its cap at the
 * trained context, OLLAMA_CONTEXT_LENGTH precedence, partial GPU offload (size_vram < size, slower
 * decode), the one-step reduction of an automatic context after an out-of-memory load, and the
 * llama-server out-of-memory text. Also the 400 for malformed model names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_OLLAMA_MODELS,
  decodeSecondsPerToken,
  findHardwareProfile,
  type HardwareProfile,
} from '../src/index.js';
import { FAST_CPU_PROFILE, FAST_GPU_PROFILE, postJson, psModels, startEmulator } from './ollama-helpers.js';

const GiB = 1024 ** 3;

function fastProfile(id: string): HardwareProfile {
  const found = findHardwareProfile(id);
  assert.ok(found);
  return { ...found, id: `test-fast-${id}`, diskReadBytesPerSec: 1e13 };
}

/** Loads `model` (empty prompt) and returns its /api/ps entry, or the error answer. */
async function load(
  url: string,
  model: string,
  options?: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown>; ps: Record<string, unknown> | undefined }> {
  const res = await postJson(`${url}/api/generate`, { model, ...(options && { options }) });
  const body = (await res.json()) as Record<string, unknown>;
  const ps = (await psModels(url)).find((m) => m.name === model);
  return { status: res.status, body, ps };
}

function kvBytes(name: string, numCtx: number): number {
  const model = DEFAULT_OLLAMA_MODELS.find((m) => m.name === name);
  assert.ok(model);
  const { layers, kvHeads, headDim } = model.shape;
  return numCtx * layers * kvHeads * headDim * 2 * 2;
}

void describe('automatic num_ctx', () => {
  void test('picks 4096 without a GPU, 32768 on a 23 GiB GPU, 262144 on ≥ 47 GiB capped at the trained context', async (t) => {
    const cpu = await startEmulator(t, { profile: FAST_CPU_PROFILE });
    assert.equal((await load(cpu.url, 'llama3.2:1b')).ps?.context_length, 4096);

    const gpu = await startEmulator(t, { profile: FAST_GPU_PROFILE });
    const onGpu = await load(gpu.url, 'llama3.2:1b');
    assert.equal(onGpu.ps?.context_length, 32768);
    assert.equal(onGpu.ps?.size, 1_321_098_329 + kvBytes('llama3.2:1b', 32768) + 512 * 1024 ** 2);

    // 112 GiB of VRAM: 262144, but llama3.2 was trained for 131072 and qwen2.5 for 32768.
    const big = await startEmulator(t, { profile: fastProfile('strix-halo-8060s-128gb') });
    assert.equal((await load(big.url, 'llama3.2:1b')).ps?.context_length, 131072);
    assert.equal((await load(big.url, 'qwen2.5:3b')).ps?.context_length, 32768);
  });

  void test('OLLAMA_CONTEXT_LENGTH (contextLength) replaces the tier; a request num_ctx replaces both', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_GPU_PROFILE, contextLength: 8192 });
    assert.equal((await load(emu.url, 'llama3.2:1b')).ps?.context_length, 8192);
    assert.equal((await load(emu.url, 'llama3.2:1b', { num_ctx: 2048 })).ps?.context_length, 2048);
  });

  void test('an out-of-memory load with the automatic context retries once a step lower', async (t) => {
    // The 4090 desktop with only 24 GiB of free RAM: llama3.3:70b at 32768 leaves ~29 GB for the
    // host (no fit); at 4096 ~20 GB (fits, partly offloaded).
    const tight: HardwareProfile = { ...FAST_GPU_PROFILE, id: 'test-tight-4090', memAvailableBytes: 24 * GiB };
    const emu = await startEmulator(t, { profile: tight });
    const loaded = await load(emu.url, 'llama3.3:70b');
    assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
    assert.equal(loaded.ps?.context_length, 4096);
    const size = Number(loaded.ps?.size);
    const vram = Number(loaded.ps?.size_vram);
    assert.equal(size, 42_520_413_916 + kvBytes('llama3.3:70b', 4096) + 512 * 1024 ** 2);
    assert.ok(vram > 0 && vram < size && vram <= 23 * GiB, `partial offload: ${vram} of ${size} on the GPU`);

    // A fixed context is not reduced: the load fails with llama-server's KV-cache allocation error.
    const fixed = await startEmulator(t, { profile: tight, contextLength: 32768 });
    const failed = await load(fixed.url, 'llama3.3:70b');
    assert.equal(failed.status, 500);
    assert.equal(
      failed.body.error,
      'llama-server reported out-of-memory during startup: ' +
        `ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${kvBytes('llama3.3:70b', 32768)}\n` +
        'llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache',
    );
    assert.equal(failed.ps, undefined);
  });
});

void describe('partial GPU offload', () => {
  void test('a model larger than the GPU loads split: size_vram < size, decode slower than all-GPU', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_GPU_PROFILE, deterministic: true });
    // qwen2.5-coder:32b at the automatic 32768: 19.9 GB weights + 8.6 GB KV + graph > 23 GiB.
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'qwen2.5-coder:32b',
      prompt: 'x',
      stream: false,
      options: { num_predict: 5 },
    });
    assert.equal(res.status, 200);
    const final = (await res.json()) as { eval_count: number; eval_duration: number };
    const [ps] = await psModels(emu.url);
    assert.ok(ps);
    const size = Number(ps.size);
    const vram = Number(ps.size_vram);
    assert.equal(size, 19_851_349_898 + kvBytes('qwen2.5-coder:32b', 32768) + 512 * 1024 ** 2);
    assert.ok(vram > 0.7 * size && vram < size, `most layers on the GPU: ${vram} of ${size}`);
    const gpu = FAST_GPU_PROFILE.gpu;
    assert.ok(gpu);
    const allGpuStep = decodeSecondsPerToken(19_851_349_898, gpu) * 1e9;
    const perToken = final.eval_duration / final.eval_count;
    // The CPU part streams its share of the weights at DDR5 speed: several times the all-GPU step.
    assert.ok(perToken > 2 * allGpuStep, `split step ${perToken} ns vs all-GPU ${allGpuStep} ns`);

    // With a small explicit context the same model fits the GPU entirely.
    await load(emu.url, 'qwen2.5-coder:32b', { num_ctx: 2048 });
    const [whole] = await psModels(emu.url);
    assert.equal(whole?.size_vram, whole?.size);
  });
});

void describe('model names', () => {
  void test('a malformed name is 400 "invalid model name" on generate, chat and /v1; an empty one keeps its own answer', async (t) => {
    const emu = await startEmulator(t);
    for (const name of ['bad name!', 'a/b/c/d:x', 'qwen2.5:', '-leading']) {
      const gen = await postJson(`${emu.url}/api/generate`, { model: name, prompt: 'x' });
      assert.equal(gen.status, 400, name);
      assert.deepEqual(await gen.json(), { error: 'invalid model name' });
      const chat = await postJson(`${emu.url}/api/chat`, { model: name, messages: [] });
      assert.equal(chat.status, 400, name);
      assert.deepEqual(await chat.json(), { error: 'invalid model name' });
      const v1 = await postJson(`${emu.url}/v1/chat/completions`, {
        model: name,
        messages: [{ role: 'user', content: 'x' }],
      });
      assert.equal(v1.status, 400, name);
      assert.deepEqual(await v1.json(), {
        error: { message: 'invalid model name', type: 'invalid_request_error', param: null, code: null },
      });
    }
    // A well-formed name that is not pulled is still a 404; an empty one as before.
    const missing = await postJson(`${emu.url}/api/generate`, {
      model: 'registry.ollama.ai/library/nope:1b',
      prompt: 'x',
    });
    assert.equal(missing.status, 404);
    await missing.text();
    const empty = await postJson(`${emu.url}/api/generate`, { model: '', prompt: 'x' });
    assert.equal(empty.status, 404);
    assert.deepEqual(await empty.json(), { error: "model '' not found" });
    const emptyChat = await postJson(`${emu.url}/api/chat`, { model: ' ', messages: [] });
    assert.equal(emptyChat.status, 400);
    assert.deepEqual(await emptyChat.json(), { error: 'model is required' });
  });
});
