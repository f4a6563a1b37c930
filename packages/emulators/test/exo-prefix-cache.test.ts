/**
 * EXO's KV prefix cache in the emulator: exact and partial hits on the wire (`cached_tokens`,
 * `prefix_cache_hit`, prefill progress over the uncached tokens only, a collapsed time to first
 * token), bench's `use_prefix_cache`, the `promptCache` fault knob, and the cache's bookkeeping
 * (update in place, duplicates, LRU eviction under memory pressure).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PromptPrefixCache, evictionThreshold, type StageMemory } from '../src/exo/prefix-cache.js';
import { LLAMA_3B, parseSse, placeAndWait, postJson, request, startNode, testProfile } from './exo-helpers.js';

const GiB = 1024 ** 3;

/** A node whose prefill is slow enough to see (Llama 3B: ~5 ms per prompt token). */
function slowPrefillProfile() {
  const base = testProfile(16);
  return testProfile(16, { cpu: { ...base.cpu, peakFlops: 2e12 } });
}

interface StreamResult {
  ttftMs: number;
  usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
  stats: { prefix_cache_hit: string; prompt_tps: number; prompt_tokens: number };
  progress: { processed_tokens: number; total_tokens: number }[];
}

async function streamChat(url: string, body: Record<string, unknown>): Promise<StreamResult> {
  const started = Date.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: LLAMA_3B, max_tokens: 3, stream: true, ...body }),
  });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ttftMs = -1;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (ttftMs < 0 && text.includes('data: {')) ttftMs = Date.now() - started;
  }
  const events = parseSse(text);
  const last = events.filter((e) => e.kind === 'data' && e.text !== '[DONE]').at(-1);
  const stats = events.find((e) => e.kind === 'comment' && e.text.startsWith('generation_stats '));
  assert.ok(last && stats, `incomplete stream: ${text.slice(0, 300)}`);
  return {
    ttftMs,
    usage: (JSON.parse(last.text) as { usage: StreamResult['usage'] }).usage,
    stats: JSON.parse(stats.text.slice('generation_stats '.length)) as StreamResult['stats'],
    progress: events
      .filter((e) => e.kind === 'comment' && e.text.startsWith('prefill_progress '))
      .map(
        (e) =>
          (
            JSON.parse(e.text.slice('prefill_progress '.length)) as {
              PrefillProgressChunk: StreamResult['progress'][0];
            }
          ).PrefillProgressChunk,
      ),
  };
}

const LONG_QUESTION = 'Explain, step by step, how a binary search narrows the range it searches. '.repeat(16);

describe('prefix cache on the wire', () => {
  test('a repeated prompt is an exact hit: prompt − 2 tokens cached, the prefill collapses', async (t) => {
    const node = await startNode(t, { profile: slowPrefillProfile() });
    await placeAndWait(node.url);
    const messages = [{ role: 'user', content: LONG_QUESTION }];

    const first = await streamChat(node.url, { messages });
    const n = first.usage.prompt_tokens;
    assert.ok(n > 250, `prompt of ${n} tokens`);
    assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0);
    assert.equal(first.stats.prefix_cache_hit, 'none');
    // The prefill runs over all prompt tokens but the last.
    assert.equal(first.progress.at(-1)?.total_tokens, n - 1);
    assert.equal(first.progress.at(-1)?.processed_tokens, n - 1);

    const second = await streamChat(node.url, { messages });
    assert.equal(second.usage.prompt_tokens, n);
    assert.equal(second.usage.prompt_tokens_details.cached_tokens, n - 2);
    assert.equal(second.stats.prefix_cache_hit, 'exact');
    assert.equal(second.stats.prompt_tokens, n);
    // Only one token is prefilled; an exact hit reports the prompt rate stored with the entry.
    assert.deepEqual(
      second.progress.map((p) => p.total_tokens),
      [1, 1],
    );
    assert.equal(second.stats.prompt_tps, first.stats.prompt_tps);
    assert.ok(first.ttftMs > 800, `first TTFT ${first.ttftMs} ms`);
    assert.ok(second.ttftMs < first.ttftMs / 4, `TTFT ${first.ttftMs} ms → ${second.ttftMs} ms`);
  });

  test('a conversation that grows is a partial hit over its earlier turns', async (t) => {
    const node = await startNode(t, { profile: slowPrefillProfile() });
    await placeAndWait(node.url);
    const turn1 = [{ role: 'user', content: LONG_QUESTION }];
    const first = await streamChat(node.url, { messages: turn1 });
    const turn2 = [
      ...turn1,
      { role: 'assistant', content: 'It halves the range each time.' },
      { role: 'user', content: 'And why is that logarithmic?' },
    ];
    const second = await streamChat(node.url, { messages: turn2 });
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    assert.equal(second.stats.prefix_cache_hit, 'partial');
    // The first prompt's kept KV (its length − 2) is the common prefix's upper bound.
    assert.equal(cached, first.usage.prompt_tokens - 2);
    assert.equal(second.progress.at(-1)?.total_tokens, second.usage.prompt_tokens - cached - 1);

    // A different prompt shares only the template's opening tokens: a small partial hit.
    const other = await streamChat(node.url, { messages: [{ role: 'user', content: 'Something else entirely.' }] });
    assert.equal(other.stats.prefix_cache_hit, 'partial');
    assert.ok(other.usage.prompt_tokens_details.cached_tokens < 30);
  });

  test('promptCache: false (PUT /_emulator/faults) turns the cache off; bad values are refused', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const off = await postJson(node.url, '/_emulator/faults', { promptCache: false }, 'PUT');
    assert.equal(off.status, 200);
    assert.equal((off.body as { promptCache: boolean }).promptCache, false);
    assert.equal(((await request(node.url, '/_emulator/faults')).body as { promptCache: boolean }).promptCache, false);
    const messages = [{ role: 'user', content: LONG_QUESTION }];
    for (let i = 0; i < 2; i++) {
      const res = await streamChat(node.url, { messages });
      assert.equal(res.usage.prompt_tokens_details.cached_tokens, 0);
      assert.equal(res.stats.prefix_cache_hit, 'none');
    }
    const bad = await postJson(node.url, '/_emulator/faults', { promptCache: 'no' }, 'PUT');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { error: 'invalid fault options', errors: ['promptCache: must be true or false'] });

    assert.equal((await postJson(node.url, '/_emulator/faults', { promptCache: true }, 'PUT')).status, 200);
    await streamChat(node.url, { messages });
    assert.equal((await streamChat(node.url, { messages })).stats.prefix_cache_hit, 'exact');
  });

  test('a node started with promptCache off never hits', async (t) => {
    const node = await startNode(t, { faults: { promptCache: false } });
    await placeAndWait(node.url);
    const messages = [{ role: 'user', content: LONG_QUESTION }];
    await streamChat(node.url, { messages });
    assert.equal((await streamChat(node.url, { messages })).stats.prefix_cache_hit, 'none');
  });

  test('bench requests use the cache only with use_prefix_cache', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const bench = async (extra: Record<string, unknown>) => {
      const res = await postJson(node.url, '/bench/chat/completions', {
        model: LLAMA_3B,
        messages: [{ role: 'user', content: LONG_QUESTION }],
        max_tokens: 2,
        ...extra,
      });
      assert.equal(res.status, 200);
      return (res.body as { generation_stats: { prefix_cache_hit: string } }).generation_stats.prefix_cache_hit;
    };
    assert.equal(await bench({}), 'none');
    assert.equal(await bench({}), 'none');
    assert.equal(await bench({ use_prefix_cache: true }), 'none');
    assert.equal(await bench({ use_prefix_cache: true }), 'exact');
  });
});

describe('prefix cache bookkeeping', () => {
  const roomy: StageMemory[] = [{ memTotalBytes: 32 * GiB, baseUsedBytes: 6 * GiB, kvBytesPerToken: 100_000 }];
  const prompt = (length: number, seed = 0): number[] => Array.from({ length }, (_, i) => seed * 1_000_000 + i);

  test('short prompts sent again are added as duplicates; long hits update their entry in place', () => {
    const cache = new PromptPrefixCache();
    const short = prompt(100);
    cache.save(short, cache.lookup(short), 0, 50, roomy);
    const hit = cache.lookup(short);
    assert.deepEqual(hit, { cachedTokens: 98, matchedIndex: 0, hit: 'exact', storedPromptTps: 50 });
    cache.save(short, hit, 0, 50, roomy);
    assert.equal(cache.size, 2);

    const long = prompt(3000, 1);
    cache.save(long, cache.lookup(long), 0, 40, roomy);
    const longer = [...long, ...prompt(500, 2)];
    const partial = cache.lookup(longer);
    assert.equal(partial.hit, 'partial');
    assert.equal(partial.cachedTokens, 2998);
    cache.save(longer, partial, 0, 30, roomy);
    assert.equal(cache.size, 3);
    // A system prompt longer than the hit keeps the old entry and adds a new one.
    const again = [...longer, ...prompt(10, 3)];
    cache.save(again, cache.lookup(again), 5000, 30, roomy);
    assert.equal(cache.size, 4);
  });

  test('least recently used entries are evicted while memory use is over the threshold', () => {
    assert.equal(evictionThreshold(16 * GiB), 0.7);
    assert.equal(evictionThreshold(32 * GiB), 0.75);
    assert.equal(evictionThreshold(64 * GiB), 0.8);
    assert.equal(evictionThreshold(128 * GiB), 0.85);
    // 16 GiB node with 10 GiB in use: each 1000-token entry costs ~1 GiB of KV.
    const tight: StageMemory[] = [{ memTotalBytes: 16 * GiB, baseUsedBytes: 10 * GiB, kvBytesPerToken: GiB / 1000 }];
    const cache = new PromptPrefixCache();
    for (let i = 0; i < 4; i++) {
      const p = prompt(1002, i);
      cache.save(p, cache.lookup(p), 0, 10, tight);
    }
    // 10 GiB + 1 entry (1 GiB) is 0.69 of 16 GiB: room for one more, and the rest were evicted.
    assert.equal(cache.size, 2);
    assert.equal(cache.lookup(prompt(1002, 3)).hit, 'exact');
    assert.equal(cache.lookup(prompt(1002, 2)).hit, 'exact');
    assert.equal(cache.lookup(prompt(1002, 0)).hit, 'none');
  });
});
