/**
 * The per-slot prompt cache: a repeated prompt evaluates only its last token (prompt_eval_count
 * unchanged, prompt_eval_duration and TTFT collapse) on /api/generate, /api/chat and /v1; a new
 * first line gets a full prefill; the `promptCache` knob turns reuse off; an unload drops the cache.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAST_CPU_PROFILE, postJson, readLines, startEmulator } from './ollama-helpers.js';

interface Final {
  prompt_eval_count: number;
  prompt_eval_duration: number;
}

// ~135 tokens (+ the template's): a full prefill of llama3.2:1b on the CPU profile takes ~0.65 s.
const BODY = 'The quick brown fox jumps over the lazy dog. '.repeat(12);

async function generate(url: string, prompt: string, raw = false): Promise<Final & { ttftMs: number }> {
  const sent = performance.now();
  const res = await postJson(`${url}/api/generate`, {
    model: 'llama3.2:1b',
    prompt,
    raw,
    options: { num_predict: 2 },
  });
  assert.equal(res.status, 200);
  const lines = await readLines(res);
  const first = lines[0];
  const last = lines.at(-1);
  assert.ok(first && last);
  return { ...(JSON.parse(last.text) as Final), ttftMs: first.at - sent };
}

async function putFaults(url: string, patch: unknown): Promise<void> {
  const res = await fetch(`${url}/_emulator/faults`, { method: 'PUT', body: JSON.stringify(patch) });
  assert.equal(res.status, 200);
  await res.text();
}

void describe('prompt cache', () => {
  void test('a repeated prompt evaluates one token: same prompt_eval_count, much shorter prompt eval and TTFT', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true });
    const cold = await generate(emu.url, BODY);
    const warm = await generate(emu.url, BODY);
    assert.equal(warm.prompt_eval_count, cold.prompt_eval_count, 'the whole prompt is still counted');
    assert.ok(cold.prompt_eval_count > 100);
    // A full prefill of ~160 tokens takes ~0.65 s here; one evaluated token one weight pass (~37 ms).
    assert.ok(
      warm.prompt_eval_duration < cold.prompt_eval_duration / 5,
      `cached prompt eval ${warm.prompt_eval_duration} ns vs ${cold.prompt_eval_duration} ns`,
    );
    assert.ok(warm.ttftMs < cold.ttftMs / 3, `TTFT ${warm.ttftMs.toFixed(0)} ms vs ${cold.ttftMs.toFixed(0)} ms`);
  });

  void test('a new first line (a unique prefix) gets a full prefill', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true });
    const cold = await generate(emu.url, BODY);
    const fresh = await generate(emu.url, `Request 2 of the run.\n${BODY}`);
    assert.ok(fresh.prompt_eval_count > cold.prompt_eval_count);
    // Only the template tokens before the first line are shared: nearly the whole prompt is evaluated.
    assert.ok(
      fresh.prompt_eval_duration > 0.8 * cold.prompt_eval_duration,
      `prefill ${fresh.prompt_eval_duration} ns vs cold ${cold.prompt_eval_duration} ns`,
    );
  });

  void test('with the promptCache knob off nothing is reused; back on, the next repeat hits', async (t) => {
    const emu = await startEmulator(t, {
      profile: FAST_CPU_PROFILE,
      deterministic: true,
      faults: { promptCache: false },
    });
    const first = await generate(emu.url, BODY);
    const again = await generate(emu.url, BODY);
    assert.equal(again.prompt_eval_count, first.prompt_eval_count);
    assert.ok(
      again.prompt_eval_duration > 0.8 * first.prompt_eval_duration,
      `no reuse: ${again.prompt_eval_duration} ns vs ${first.prompt_eval_duration} ns`,
    );
    await putFaults(emu.url, { promptCache: true });
    const hit = await generate(emu.url, BODY);
    assert.ok(hit.prompt_eval_duration < first.prompt_eval_duration / 5);
  });

  void test('unloading the model drops its cache', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true });
    const cold = await generate(emu.url, BODY);
    const unload = await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b', keep_alive: 0 });
    assert.equal(((await unload.json()) as { done_reason: string }).done_reason, 'unload');
    const reloaded = await generate(emu.url, BODY);
    assert.ok(reloaded.prompt_eval_duration > 0.8 * cold.prompt_eval_duration, 'a fresh runner has an empty cache');
  });

  void test('chat and /v1 reuse the cache too; a longer conversation reuses its earlier turns', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true });
    const chat = async (messages: { role: string; content: string }[]): Promise<Final> => {
      const res = await postJson(`${emu.url}/api/chat`, {
        model: 'llama3.2:1b',
        messages,
        stream: false,
        options: { num_predict: 1 },
      });
      assert.equal(res.status, 200);
      return (await res.json()) as Final;
    };
    const turn = [{ role: 'user', content: BODY }];
    const cold = await chat(turn);
    const repeat = await chat(turn);
    assert.equal(repeat.prompt_eval_count, cold.prompt_eval_count);
    assert.ok(repeat.prompt_eval_duration < cold.prompt_eval_duration / 5);
    const longer = await chat([...turn, { role: 'assistant', content: 'Sure.' }, { role: 'user', content: 'Again?' }]);
    assert.ok(longer.prompt_eval_count > cold.prompt_eval_count);
    assert.ok(longer.prompt_eval_duration < cold.prompt_eval_duration / 5, 'only the new turns are evaluated');

    // /v1 goes through the same runner: its usage counts the whole prompt, TTFT collapses.
    const v1 = async (): Promise<{ ttftMs: number; promptTokens: number }> => {
      const sent = performance.now();
      const res = await postJson(`${emu.url}/v1/chat/completions`, {
        model: 'llama3.2:1b',
        messages: [{ role: 'user', content: `v1 ${BODY}` }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 2,
      });
      const lines = await readLines(res);
      const first = lines.find((l) => l.text.startsWith('data: '));
      const usageLine = lines.find((l) => l.text.includes('"usage"'));
      assert.ok(first && usageLine);
      const usage = (JSON.parse(usageLine.text.slice('data: '.length)) as { usage: { prompt_tokens: number } }).usage;
      return { ttftMs: first.at - sent, promptTokens: usage.prompt_tokens };
    };
    const v1Cold = await v1();
    const v1Warm = await v1();
    assert.equal(v1Warm.promptTokens, v1Cold.promptTokens);
    assert.ok(v1Warm.ttftMs < v1Cold.ttftMs / 3, `TTFT ${v1Warm.ttftMs.toFixed(0)} vs ${v1Cold.ttftMs.toFixed(0)} ms`);
  });

  void test('each parallel slot keeps its own prompt; a prompt sharing > 10 % goes to the similar slot', async (t) => {
    // Raw prompts with different first words share no prefix: the second takes the other (least
    // recently used) slot, and both stay cached.
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true, numParallel: 2 });
    const a = `Alpha document.\n${BODY}`;
    const b = `Beta document.\n${BODY}`;
    const aCold = await generate(emu.url, a, true);
    const bCold = await generate(emu.url, b, true);
    assert.ok(bCold.prompt_eval_duration > 0.8 * aCold.prompt_eval_duration, 'b took the other slot, uncached');
    const aWarm = await generate(emu.url, a, true);
    const bWarm = await generate(emu.url, b, true);
    assert.ok(aWarm.prompt_eval_duration < aCold.prompt_eval_duration / 5, 'a still cached in its slot');
    assert.ok(bWarm.prompt_eval_duration < bCold.prompt_eval_duration / 5, 'b still cached in its slot');

    // Templated, both share the chat template's tokens (> 10 % of the prompt): like llama-server, b
    // picks a's slot for that prefix and overwrites it, so a misses afterwards.
    const shared = await startEmulator(t, { profile: FAST_CPU_PROFILE, deterministic: true, numParallel: 2 });
    const sharedA = await generate(shared.url, a);
    await generate(shared.url, b);
    const aAgain = await generate(shared.url, a);
    assert.ok(aAgain.prompt_eval_duration > 0.8 * sharedA.prompt_eval_duration, "b replaced a's cached prompt");
  });
});
