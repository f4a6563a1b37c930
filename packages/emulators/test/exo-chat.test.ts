/**
 * Chat completions of the EXO emulator: the official `openai` client, the raw SSE wire (keep-alive,
 * prefill progress, chunks, usage, generation stats, [DONE]), bench mode, waiting for runners,
 * batching and queueing, cancellation and the fault knobs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { NATURAL_ANSWER_TOKENS } from '../src/text-generator.js';
import {
  LLAMA_3B,
  QWEN_3B,
  chatBody,
  getState,
  parseSse,
  placeAndWait,
  bodyReader,
  postJson,
  readRest,
  readUntil,
  startNode,
  testProfile,
  waitFor,
} from './exo-helpers.js';

/** Per-token time of Llama-3.2-3B on the test profile: 1.86 GB at 200 GB/s × efficiency. */
function expectedTokensPerSecond(): number {
  const p = testProfile(16);
  return (p.cpu.memBandwidthBytesPerSec * p.cpu.decodeEfficiency) / 1_863_319_552;
}

async function streamText(url: string, body: Record<string, unknown>, signal?: AbortSignal) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
    ...(signal ? { signal } : {}),
  });
  return { res, text: await res.text() };
}

type Chunk = {
  id: string;
  object: string;
  model: string;
  choices: { delta: { content: string }; finish_reason: string | null }[];
  usage: Record<string, unknown> | null;
};

describe('chat completions before and around placement', () => {
  test('404 "No instance found" before placement; 422 on invalid bodies', async (t) => {
    const node = await startNode(t);
    const missing = await postJson(node.url, '/v1/chat/completions', chatBody());
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      error: { message: `No instance found for model ${LLAMA_3B}`, type: 'Not Found', param: null, code: 404 },
    });
    const bench = await postJson(node.url, '/bench/chat/completions', chatBody({ max_tokens: 4 }));
    assert.equal(bench.status, 404);

    const invalid = await postJson(node.url, '/v1/chat/completions', { model: LLAMA_3B, max_tokens: 1.5 });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body, {
      detail: [
        {
          type: 'missing',
          loc: ['body', 'messages'],
          msg: 'Field required',
          input: { model: LLAMA_3B, max_tokens: 1.5 },
        },
        {
          type: 'int_from_float',
          loc: ['body', 'max_tokens'],
          msg: 'Input should be a valid integer, got a number with a fractional part',
          input: 1.5,
        },
      ],
    });
  });

  test('a request sent while the runner loads waits until it is ready', async (t) => {
    // 1.86 GB at 2 GB/s: about 1.3 s from placement to RunnerReady.
    const node = await startNode(t, { profile: testProfile(16, { diskReadBytesPerSec: 2e9 }) });
    const started = Date.now();
    assert.equal((await postJson(node.url, '/place_instance', { model_id: LLAMA_3B })).status, 200);
    await waitFor('instance in state', async () =>
      Object.keys((await getState(node.url)).instances).length > 0 ? true : undefined,
    );
    const answer = await postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 3 }));
    assert.equal(answer.status, 200);
    assert.ok(Date.now() - started >= 1200, `answered after ${Date.now() - started} ms`);
  });
});

describe('chat completions on a ready instance', () => {
  test('the official openai client: non-streaming and streaming', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused', maxRetries: 0 });

    const completion = await client.chat.completions.create({
      model: LLAMA_3B,
      messages: [{ role: 'user', content: 'Write a binary search.' }],
      max_tokens: 8,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, LLAMA_3B);
    assert.equal(completion.choices[0]?.message.content, 'Here is a binary search function:\n\n');
    assert.equal(completion.choices[0]?.finish_reason, 'length');
    assert.equal(completion.usage?.completion_tokens, 8);
    assert.equal(completion.usage?.total_tokens, (completion.usage?.prompt_tokens ?? 0) + 8);

    const stream = await client.chat.completions.create({
      model: LLAMA_3B,
      messages: [{ role: 'user', content: 'Write a binary search.' }],
      stream: true,
    });
    let content = '';
    let finish: string | null = null;
    let usage: unknown = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    // The natural answer, then the end-of-sequence token: an empty chunk that still counts.
    assert.equal(chunks, NATURAL_ANSWER_TOKENS + 1);
    assert.equal(finish, 'stop');
    assert.ok(content.startsWith('Here is a binary search function:'));
    assert.equal((usage as { completion_tokens: number }).completion_tokens, NATURAL_ANSWER_TOKENS + 1);
  });

  test('the raw SSE stream has EXO v1.0.71 quirks', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const { res, text } = await streamText(node.url, chatBody({ max_tokens: 4 }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const events = parseSse(text);
    assert.deepEqual(events[0], { kind: 'comment', text: 'keep-alive' });
    const prefill = events.filter((e) => e.text.startsWith('prefill_progress '));
    assert.ok(prefill.length >= 2);
    const last = JSON.parse(prefill.at(-1)!.text.slice('prefill_progress '.length)) as {
      PrefillProgressChunk: { model: string; processed_tokens: number; total_tokens: number };
    };
    assert.equal(last.PrefillProgressChunk.model, LLAMA_3B);
    assert.equal(last.PrefillProgressChunk.processed_tokens, last.PrefillProgressChunk.total_tokens);

    const data = events.filter((e) => e.kind === 'data');
    assert.equal(data.at(-1)?.text, '[DONE]');
    const chunks = data.slice(0, -1).map((e) => JSON.parse(e.text) as Chunk);
    assert.equal(chunks.length, 4);
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion');
      assert.equal(chunk.id, chunks[0]!.id);
      assert.equal(chunk.model, LLAMA_3B);
    }
    // v1.0.71 still serialises explicit nulls.
    assert.deepEqual(Object.keys(JSON.parse(data[0]!.text) as object), [
      'id',
      'object',
      'created',
      'model',
      'choices',
      'usage',
      'service_tier',
    ]);
    assert.equal(chunks[0]!.choices[0]!.finish_reason, null);
    assert.equal(chunks[0]!.usage, null);
    assert.equal(chunks[3]!.choices[0]!.finish_reason, 'length');
    assert.equal((chunks[3]!.usage as { completion_tokens: number }).completion_tokens, 4);
    assert.deepEqual((chunks[3]!.usage as { prompt_tokens_details: unknown }).prompt_tokens_details, {
      cached_tokens: 0,
      audio_tokens: 0,
    });

    const statsEvent = events.find((e) => e.text.startsWith('generation_stats '));
    assert.ok(statsEvent, 'generation_stats comment');
    assert.ok(events.indexOf(statsEvent) > events.indexOf(data.at(-2)!));
    const stats = JSON.parse(statsEvent.text.slice('generation_stats '.length)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(stats), [
      'prompt_tps',
      'generation_tps',
      'prompt_tokens',
      'generation_tokens',
      'peak_memory_usage',
      'prefix_cache_hit',
    ]);
    assert.equal(stats.generation_tokens, 4);
    assert.ok('in_bytes' in (stats.peak_memory_usage as object));
  });

  test('bench: exactly max_tokens tokens, generation_stats, the model decode rate', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const res = await postJson(node.url, '/bench/chat/completions', chatBody({ max_tokens: 100 }));
    assert.equal(res.status, 200);
    const body = res.body as {
      object: string;
      choices: { message: { content: string }; finish_reason: string }[];
      usage: unknown;
      generation_stats: { generation_tokens: number; generation_tps: number; peak_memory_usage: { inBytes: number } };
      power_usage: { nodes: unknown[] };
    };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0]!.finish_reason, 'length');
    assert.equal(body.usage, null);
    // EOS banned: generation runs past the natural answer up to max_tokens.
    assert.equal(body.generation_stats.generation_tokens, 100);
    assert.ok(body.generation_stats.peak_memory_usage.inBytes > 1_863_319_552);
    assert.deepEqual(body.power_usage.nodes, []);
    const expected = expectedTokensPerSecond();
    const measured = body.generation_stats.generation_tps;
    assert.ok(measured > expected * 0.75 && measured < expected * 1.1, `tps ${measured} vs model ${expected}`);
  });

  test('a stalled event loop does not slow the stream: overdue tokens go out at once', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const tokens = 120; // within the natural answer (125 tokens), so the stream ends at max_tokens
    const stallMs = 1000;
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: tokens })),
    });
    const reader = bodyReader(res);
    let text = await readUntil(reader, /data: \{/);
    // The node runs in this process: block its event loop for a second (~75 decode steps).
    const until = performance.now() + stallMs;
    while (performance.now() < until) {
      // busy
    }
    text += await readRest(reader);
    const events = parseSse(text);
    // Every overdue token is still its own event.
    assert.equal(events.filter((e) => e.kind === 'data').length, tokens + 1);
    const stats = JSON.parse(
      events.find((e) => e.text.startsWith('generation_stats '))!.text.slice('generation_stats '.length),
    ) as { generation_tps: number };
    // ~1.6 s of decode: had the stall been added (relative sleeps), the rate would drop by 40 %.
    const expected = expectedTokensPerSecond();
    assert.ok(
      stats.generation_tps > expected * 0.8 && stats.generation_tps < expected * 1.1,
      `tps ${stats.generation_tps} vs model ${expected}`,
    );
  });

  test('up to maxConcurrentRequests decode together; more wait in the queue', async (t) => {
    const node = await startNode(t, { maxConcurrentRequests: 2 });
    await placeAndWait(node.url);
    const tokens = 40;
    const stepMs = 1000 / expectedTokensPerSecond();
    // When each stream's first token and its end arrived, ms after all requests were sent.
    const run = async (sentAt: number): Promise<{ first: number; end: number }> => {
      const res = await fetch(`${node.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody({ stream: true, max_tokens: tokens })),
      });
      assert.equal(res.status, 200);
      const reader = bodyReader(res);
      await readUntil(reader, /data: \{/);
      const first = Date.now() - sentAt;
      assert.match(await readRest(reader), /data: \[DONE\]/);
      return { first, end: Date.now() - sentAt };
    };
    const together = async (n: number): Promise<{ first: number; end: number }[]> => {
      const sentAt = Date.now();
      return Promise.all(Array.from({ length: n }, () => run(sentAt)));
    };
    // Two fit in one batch: each streams before the other has finished.
    const pair = await together(2);
    assert.ok(
      Math.max(...pair.map((r) => r.first)) < Math.min(...pair.map((r) => r.end)),
      `two in one batch: ${JSON.stringify(pair)}`,
    );
    // A third waits for a free slot, so its first token needs a whole 40-token generation first.
    // Steps are never early, so this lower bound holds however loaded the machine is.
    const triple = await together(3);
    const waits = triple.map((r) => r.first).sort((a, b) => a - b);
    assert.ok(waits[2]! >= tokens * stepMs, `a third request queues: first tokens after ${waits.join(', ')} ms`);
    assert.ok(waits[1]! < triple.map((r) => r.end).sort((a, b) => a - b)[0]!, 'the other two share the batch');
  });

  test('runners report RunnerRunning while decoding, RunnerReady after', async (t) => {
    const node = await startNode(t);
    const instance = await placeAndWait(node.url);
    const runnerId = Object.values(instance.shardAssignments.nodeToRunner)[0]!;
    const status = async (): Promise<string[]> => Object.keys((await getState(node.url)).runners[runnerId] ?? {});
    // A long stream (~40 s if left alone) that the test ends itself.
    const abort = new AbortController();
    t.after(() => abort.abort());
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 3000 })),
      signal: abort.signal,
    });
    // Its first token is out and thousands are still due: it is decoding now.
    await readUntil(bodyReader(res), /data: \{/);
    assert.deepEqual(await status(), ['RunnerRunning']);
    abort.abort();
    // A short request after the disconnect: by its last token the engine has stepped past the
    // abort, and the status is updated in the same step that sends that token.
    const short = await postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 2 }));
    assert.equal(short.status, 200);
    assert.deepEqual(await status(), ['RunnerReady']);
  });

  test('a client that disconnects cancels its generation', async (t) => {
    const node = await startNode(t, { maxConcurrentRequests: 1 });
    await placeAndWait(node.url);
    const abort = new AbortController();
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 3000 })),
      signal: abort.signal,
    });
    await readUntil(bodyReader(res), /data: \{/);
    abort.abort();
    // With one slot, a request queued behind a 3000-token stream would wait ~40 s.
    const started = Date.now();
    const next = await postJson(node.url, '/bench/chat/completions', chatBody({ max_tokens: 10 }));
    assert.equal(next.status, 200);
    assert.ok(Date.now() - started < 3000, `second request took ${Date.now() - started} ms`);
  });

  test('POST /v1/cancel/{command_id} ends the stream without [DONE]; unknown ids 404', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 3000 })),
    });
    const reader = bodyReader(res);
    let text = await readUntil(reader, /data: (\{.*\})\n\n/);
    const id = (JSON.parse(/data: (\{.*\})\n\n/.exec(text)![1]!) as Chunk).id;
    const cancelled = await postJson(node.url, `/v1/cancel/${id}`, {});
    assert.equal(cancelled.status, 200);
    assert.deepEqual(cancelled.body, { message: 'Command cancelled.', command_id: id });
    text += await readRest(reader);
    assert.ok(!text.includes('[DONE]'));
    const unknown = await postJson(node.url, `/v1/cancel/${id}`, {});
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, {
      error: { message: 'Command not found or already completed', type: 'Not Found', param: null, code: 404 },
    });
  });
});

describe('faults', () => {
  test('errorAfterTokens: the mid-stream error shape then [DONE]; non-stream gets a bare 500', async (t) => {
    const node = await startNode(t, { faults: { errorAfterTokens: 3 } });
    await placeAndWait(node.url);
    const { res, text } = await streamText(node.url, chatBody({ max_tokens: 20 }));
    assert.equal(res.status, 200);
    const data = parseSse(text).filter((e) => e.kind === 'data');
    assert.equal(data.length, 5);
    assert.deepEqual(JSON.parse(data[3]!.text), {
      error: { message: 'Injected error after 3 tokens', type: 'InternalServerError', param: null, code: 500 },
    });
    assert.equal(data[4]!.text, '[DONE]');
    const plain = await postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 20 }));
    assert.equal(plain.status, 500);
    assert.equal(plain.text, '');
    const bench = await postJson(node.url, '/bench/chat/completions', chatBody({ max_tokens: 20 }));
    assert.equal(bench.status, 500);
    assert.deepEqual(bench.body, {
      error: { message: 'Injected error after 3 tokens', type: 'Internal Server Error', param: null, code: 500 },
    });
  });

  test('cutAfterTokens closes the connection mid-stream: no final line', async (t) => {
    const node = await startNode(t, { faults: { cutAfterTokens: 2 } });
    await placeAndWait(node.url);
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 20 })),
    });
    let text = '';
    const decoder = new TextDecoder();
    try {
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(piece);
    } catch {
      // undici may or may not report the missing terminating chunk (the response says Connection: close).
    }
    assert.equal(parseSse(text).filter((e) => e.kind === 'data').length, 2);
    assert.ok(!text.includes('[DONE]'));
  });

  test('http500Rate, extraLatencyMs and slowFirstTokenMs (set at runtime)', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    await postJson(node.url, '/_emulator/faults', { http500Rate: 1 }, 'PUT');
    const failed = await postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 2 }));
    assert.equal(failed.status, 500);
    assert.deepEqual(failed.body, {
      error: { message: 'Internal server error', type: 'Internal Server Error', param: null, code: 500 },
    });
    await postJson(
      node.url,
      '/_emulator/faults',
      { http500Rate: 0, extraLatencyMs: 300, slowFirstTokenMs: 300 },
      'PUT',
    );
    const started = Date.now();
    const ok = await postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 2 }));
    assert.equal(ok.status, 200);
    assert.ok(Date.now() - started >= 600, `took ${Date.now() - started} ms`);
  });

  test('crashAfterRequests calls onCrash and drops the request that crossed the limit', async (t) => {
    let crashes = 0;
    const node = await startNode(t, { faults: { crashAfterRequests: 2 }, onCrash: () => (crashes += 1) });
    await placeAndWait(node.url);
    assert.equal((await postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 2 }))).status, 200);
    await assert.rejects(postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 2 })));
    assert.equal(crashes, 1);
  });

  test('a keep-alive comment follows every 10 s of silence', async (t) => {
    const node = await startNode(t, { faults: { slowFirstTokenMs: 10_300 } });
    await placeAndWait(node.url);
    const { text } = await streamText(node.url, chatBody({ max_tokens: 1 }));
    const events = parseSse(text);
    assert.deepEqual(events.slice(0, 2), [
      { kind: 'comment', text: 'keep-alive' },
      { kind: 'comment', text: 'keep-alive' },
    ]);
    assert.ok(events[2]!.text.startsWith('prefill_progress '));
    assert.equal(events.at(-1)!.text, '[DONE]');
  });
});

describe('tasks and prompts as EXO sees them', () => {
  test('state.tasks holds the TextGeneration task while a request runs, and drops it after', async (t) => {
    const node = await startNode(t);
    const instance = await placeAndWait(node.url);
    const abort = new AbortController();
    t.after(() => abort.abort());
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: LLAMA_3B,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Write a binary search.' },
        ],
        stream: true,
        max_tokens: 3000,
        top_k: 5,
      }),
      signal: abort.signal,
    });
    const reader = bodyReader(res);
    const head = await readUntil(reader, /data: \{.*\n\n/);
    const chunk = JSON.parse(/data: (\{.*\})\n\n/.exec(head)![1]!) as Chunk;
    // A second request joins the running batch: its task is only acknowledged, so it stays Pending.
    const second = postJson(node.url, '/v1/chat/completions', chatBody({ max_tokens: 2 }));
    const tasks = await waitFor('two tasks', async () => {
      const all = Object.values((await getState(node.url)).tasks as Record<string, { TextGeneration: Task }>);
      return all.length === 2 ? all.map((x) => x.TextGeneration) : undefined;
    });
    const first = tasks.find((x) => x.commandId === chunk.id)!;
    assert.ok(first, 'the task carries the command id the chunks carry');
    assert.equal(first.taskStatus, 'Running');
    assert.equal(first.instanceId, instance.instanceId);
    assert.equal(first.errorType, null);
    assert.equal(tasks.find((x) => x !== first)?.taskStatus, 'Pending');
    const p = first.taskParams;
    assert.equal(p.model, LLAMA_3B);
    assert.deepEqual(p.input, [{ role: 'user', content: 'Write a binary search.' }]);
    assert.equal(p.instructions, 'Be brief.');
    assert.equal(p.max_output_tokens, 3000);
    assert.equal(p.stream, true);
    assert.equal(p.bench, false);
    // Unset sampling values come from the card (Llama 3.2: 0.6 / 0.9); set ones are kept.
    assert.equal(p.temperature, 0.6);
    assert.equal(p.top_p, 0.9);
    assert.equal(p.top_k, 5);
    assert.deepEqual(p.chat_template_messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Write a binary search.' },
    ]);
    assert.equal((await second).status, 200);
    abort.abort();
    await waitFor('no tasks left', async () =>
      Object.keys((await getState(node.url)).tasks as object).length === 0 ? true : undefined,
    );
  });

  test('prompt tokens include the chat template of the model family', async (t) => {
    const node = await startNode(t);
    await placeAndWait(node.url);
    await placeAndWait(node.url, QWEN_3B);
    const promptTokens = async (model: string, messages: { role: string; content: string }[]) => {
      const res = await postJson(node.url, '/v1/chat/completions', { model, messages, max_tokens: 1 });
      assert.equal(res.status, 200);
      return (res.body as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    };
    const hi = [{ role: 'user', content: 'Hi' }];
    // Llama 3: begin-of-text, the dated system block, a header per message, the answer's header.
    const llama = await promptTokens(LLAMA_3B, hi);
    assert.ok(llama >= 25 && llama <= 40, `llama: ${llama}`);
    // Qwen2.5: the default system prompt is inserted unless the request brings its own.
    const qwen = await promptTokens(QWEN_3B, hi);
    assert.ok(qwen >= 25 && qwen <= 40, `qwen: ${qwen}`);
    const withSystem = await promptTokens(QWEN_3B, [{ role: 'system', content: 'Be brief.' }, ...hi]);
    assert.ok(withSystem < qwen, `own system prompt ${withSystem} vs default ${qwen}`);
    // Every further message costs its text plus a few template tokens.
    const two = await promptTokens(LLAMA_3B, [...hi, { role: 'assistant', content: 'Hello' }, ...hi]);
    assert.ok(two - llama >= 10 && two - llama <= 16, `two more messages: +${two - llama}`);
  });
});

interface Task {
  taskId: string;
  taskStatus: string;
  instanceId: string;
  commandId: string;
  taskParams: Record<string, unknown>;
  errorType: string | null;
  errorMessage: string | null;
}
