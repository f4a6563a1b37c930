import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createOllamaClient, runCell, type CellEvent, type RunCellOptions } from '../src/index.js';
import {
  hang,
  json,
  ndjsonHead,
  ollamaChunk,
  ollamaDone,
  sleep,
  startScriptedServer,
  write,
} from './helpers/scripted-server.js';

interface Fake {
  prompts: string[];
  maxInFlight: () => number;
  count: () => number;
  options: (over?: Partial<RunCellOptions>) => RunCellOptions;
}

/** An Ollama-like server: 4 tokens, 10 ms apart; `failOn` arrival numbers (1-based) get a 500. */
async function fakeOllama(t: TestContext, o: { failOn?: number[]; hangMs?: number } = {}): Promise<Fake> {
  let inFlight = 0;
  let max = 0;
  let arrivals = 0;
  const prompts: string[] = [];
  const server = await startScriptedServer(async (req, res) => {
    arrivals += 1;
    prompts.push((req.body as { messages: Array<{ content: string }> }).messages[0]?.content ?? '');
    if (o.failOn?.includes(arrivals))
      return json(res, 500, { error: 'an error was encountered while running the model' });
    inFlight += 1;
    max = Math.max(max, inFlight);
    try {
      ndjsonHead(res);
      if (o.hangMs !== undefined) await hang(o.hangMs);
      for (let i = 0; i < 4; i++) {
        await sleep(10);
        await write(res, ollamaChunk(`t${i}`));
      }
      res.end(ollamaDone({ eval_count: 4, eval_duration: 30_000_000 }));
    } finally {
      inFlight -= 1;
    }
  });
  t.after(() => server.close());
  const client = createOllamaClient({ url: server.url });
  t.after(() => client.close());
  return {
    prompts,
    maxInFlight: () => max,
    count: () => arrivals,
    options: (over = {}) => ({
      client,
      model: 'qwen2.5:3b',
      prompt: 'Write binary search.',
      maxTokens: 4,
      concurrency: 1,
      repetitions: 3,
      warmup: 0,
      requestTimeoutMs: 5000,
      target: 'ollama-rog',
      ...over,
    }),
  };
}

void describe('cell runner', () => {
  void test('warm-up then measured requests from N closed-loop clients', async (t) => {
    const fake = await fakeOllama(t);
    const events: CellEvent[] = [];
    const r = await runCell(
      fake.options({ concurrency: 2, repetitions: 5, warmup: 1, onEvent: (e) => events.push(e) }),
    );
    assert.equal(fake.count(), 6, 'one warm-up + five measured, nothing more');
    assert.equal(fake.maxInFlight(), 2);
    assert.equal(r.status, 'completed');
    assert.equal(r.warmup_requests.length, 1);
    assert.equal(r.warmup_requests[0]?.phase, 'warmup');
    assert.equal(r.requests.length, 5);
    assert.deepEqual(r.requests.map((x) => x.index).sort(), [0, 1, 2, 3, 4]);
    assert.ok(r.requests.every((x) => x.phase === 'measured' && (x.client === 0 || x.client === 1)));
    assert.equal(r.attempts, 5);
    assert.equal(r.successes, 5);
    assert.equal(r.success_rate, 1);
    assert.equal(r.output_tokens_total, 20);
    assert.equal(r.target, 'ollama-rog');
    assert.equal(r.model, 'qwen2.5:3b');

    // closed loop: a client's next request starts only after its previous one ended
    for (const client of [0, 1]) {
      const mine = r.requests.filter((x) => x.client === client).sort((a, b) => a.t_send_ms - b.t_send_ms);
      for (let i = 1; i < mine.length; i++) {
        const prev = mine[i - 1];
        const cur = mine[i];
        assert.ok(prev && cur && cur.t_send_ms >= prev.t_send_ms + prev.total_ms - 0.01);
      }
    }
    // window covers the measured phase only; aggregate rate = tokens / window
    const first = Math.min(...r.requests.map((x) => x.t_send_ms));
    const last = Math.max(...r.requests.map((x) => x.t_send_ms + x.total_ms));
    assert.ok(r.window_ms !== null && Math.abs(r.window_ms - (last - first)) < 1e-6);
    assert.ok(r.aggregate_tps !== null && Math.abs(r.aggregate_tps - 20 / (r.window_ms / 1000)) < 1e-6);
    assert.ok((r.warmup_requests[0]?.t_send_ms ?? Infinity) < first);

    const kinds = events.map((e) => e.type);
    assert.deepEqual(kinds.filter((k) => k === 'phase').length, 2);
    assert.equal(kinds.filter((k) => k === 'request-done').length, 6);
    assert.equal(kinds.at(-1), 'cell-done');
    const measuredDone = events.filter(
      (e): e is Extract<CellEvent, { type: 'request-done' }> =>
        e.type === 'request-done' && e.record.phase === 'measured',
    );
    assert.deepEqual(
      measuredDone.map((e) => e.done),
      [1, 2, 3, 4, 5],
    );
    assert.ok(measuredDone.every((e) => e.total === 5));
  });

  void test('concurrency 1 is strictly sequential', async (t) => {
    const fake = await fakeOllama(t);
    const r = await runCell(fake.options({ concurrency: 1, repetitions: 3 }));
    assert.equal(fake.maxInFlight(), 1);
    assert.ok(r.requests.every((x) => x.client === 0));
  });

  void test('failures are recorded and never retried', async (t) => {
    const fake = await fakeOllama(t, { failOn: [3] });
    const r = await runCell(fake.options({ repetitions: 5, warmup: 1 }));
    assert.equal(fake.count(), 6, 'no retry');
    assert.equal(r.attempts, 5);
    assert.equal(r.successes, 4);
    assert.equal(r.success_rate, 0.8);
    assert.equal(r.output_tokens_total, 16);
    const failed = r.requests.find((x) => !x.success);
    assert.equal(failed?.error?.kind, 'http_status');
    assert.equal(failed?.error?.status, 500);
  });

  void test('unique prompt prefix: every request differs and still carries the prompt', async (t) => {
    const fake = await fakeOllama(t);
    await runCell(fake.options({ repetitions: 4, warmup: 1, uniquePromptPrefix: true }));
    assert.equal(new Set(fake.prompts).size, 5);
    assert.ok(fake.prompts.every((p) => /^\[[0-9a-f]{12}\] Write binary search\.$/.test(p)));

    const plain = await fakeOllama(t);
    await runCell(plain.options({ repetitions: 2 }));
    assert.deepEqual(plain.prompts, ['Write binary search.', 'Write binary search.']);
  });

  void test('an AbortSignal stops the cell cleanly, without sending more requests', async (t) => {
    const fake = await fakeOllama(t, { hangMs: 5000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const r = await runCell(fake.options({ concurrency: 2, repetitions: 10, signal: ac.signal }));
    assert.ok(Date.now() - started < 3000, 'returned promptly');
    assert.equal(r.status, 'aborted');
    assert.equal(fake.count(), 2, 'only the in-flight requests were ever sent');
    assert.equal(r.requests.length, 2);
    assert.ok(r.requests.every((x) => x.error?.kind === 'aborted'));
    assert.equal(r.attempts, 0, 'cancelled requests are not attempts');
    assert.equal(r.success_rate, 0);
    assert.equal(r.aggregate_tps, null);

    const pre = await runCell(fake.options({ signal: AbortSignal.abort() }));
    assert.equal(pre.status, 'aborted');
    assert.equal(pre.requests.length, 0);
  });

  void test('rejects a non-positive concurrency', async (t) => {
    const fake = await fakeOllama(t);
    await assert.rejects(runCell(fake.options({ concurrency: 0 })), TypeError);
  });
});
