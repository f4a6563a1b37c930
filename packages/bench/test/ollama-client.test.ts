import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createOllamaClient, type ChatRequest, type ProtocolClient } from '../src/index.js';
import {
  json,
  ndjsonHead,
  ollamaChunk,
  ollamaDone,
  refusedPort,
  hang,
  sleep,
  startScriptedServer,
  write,
  type Handler,
  type ScriptedServer,
} from './helpers/scripted-server.js';

const request = (over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'qwen2.5:3b',
  prompt: 'hello',
  maxTokens: 16,
  timeoutMs: 5000,
  ...over,
});

async function setup(t: TestContext, handler: Handler): Promise<{ server: ScriptedServer; client: ProtocolClient }> {
  const server = await startScriptedServer(handler);
  t.after(() => server.close());
  const client = createOllamaClient({ url: server.url + '/' });
  t.after(() => client.close());
  return { server, client };
}

/** Polls `cond` until it holds; fails after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

const DONE_COUNTERS = {
  total_duration: 900_000_000,
  load_duration: 1_000_000,
  prompt_eval_count: 11,
  prompt_eval_duration: 13_000_000,
  eval_count: 3,
  eval_duration: 60_000_000,
};

void describe('ollama client: /api/chat NDJSON', () => {
  void test('sends the native request and reads tokens plus the done counters', async (t) => {
    const { server, client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('Hel'));
      await sleep(5);
      await write(res, ollamaChunk('lo'));
      await sleep(5);
      await write(res, ollamaChunk('!'));
      res.end(ollamaDone(DONE_COUNTERS));
    });
    const m = await client.chat(request({ numCtx: 4096, temperature: 0, seed: 7 }));
    assert.equal(m.success, true, JSON.stringify(m.error));
    assert.equal(m.protocol, 'ollama');
    assert.deepEqual(server.requests[0]?.body, {
      model: 'qwen2.5:3b',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      // No keep_alive: the node's own OLLAMA_KEEP_ALIVE decides how long models stay resident.
      options: { num_predict: 16, num_ctx: 4096, temperature: 0, seed: 7 },
    });
    assert.equal(server.requests[0]?.path, '/api/chat');
    assert.equal(m.client_token_events, 3);
    assert.equal(m.output_tokens, 3);
    assert.equal(m.output_tokens_source, 'server');
    assert.equal(m.output_tokens_approx, false);
    assert.equal(m.prompt_tokens, 11);
    assert.equal(m.server_decode_tps, 50); // 3 / 0.06 s
    assert.equal(m.server.load_ms, 1);
    assert.equal(m.server.eval_ms, 60);
    assert.equal(m.server.total_ms, 900);
    assert.equal(m.finish_reason, 'stop');
    assert.equal(m.token_offsets_ms.length, 3);
    assert.ok(m.ttfb_ms !== null && m.ttft_ms !== null && m.e2e_ms !== null);
    assert.ok(m.ttfb_ms <= m.ttft_ms && m.ttft_ms <= m.e2e_ms && m.e2e_ms <= m.total_ms);
    assert.ok(m.decode_tps !== null && m.decode_tps > 0);
  });

  void test('empty-content chunks are not tokens; thinking is a reasoning token', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk(''));
      await sleep(30);
      await write(res, ollamaChunk('', { thinking: 'hmm' }));
      await sleep(80);
      await write(res, ollamaChunk('Yes'));
      res.end(ollamaDone({ eval_count: 2, eval_duration: 1_000_000 }));
    });
    const m = await client.chat(request());
    assert.equal(m.success, true);
    assert.equal(m.client_token_events, 2);
    assert.ok(m.ttft_ms !== null && m.ttfo_ms !== null);
    assert.ok(m.ttft_ms >= 25, `ttft ${m.ttft_ms} skips the empty chunk`);
    assert.ok(m.ttfo_ms - m.ttft_ms >= 25, 'first answer token comes after the thinking token');
  });

  void test('multi-token chunks are counted with eval_count, not by events', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      for (const piece of ['a b c', 'd e f', 'g h i']) {
        await write(res, ollamaChunk(piece));
        await sleep(10);
      }
      res.end(ollamaDone({ eval_count: 9, eval_duration: 30_000_000 }));
    });
    const m = await client.chat(request());
    assert.equal(m.client_token_events, 3);
    assert.equal(m.output_tokens, 9);
    assert.equal(m.server_output_tokens, 9);
    const span = (m.token_offsets_ms[2] ?? 0) - (m.token_offsets_ms[0] ?? 0);
    assert.ok(m.decode_tps !== null && Math.abs(m.decode_tps - 8 / (span / 1000)) < 1e-6);
  });

  void test('without eval_count the text is tokenised; events are the flagged last resort', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('Hello'));
      await write(res, ollamaChunk(' world'));
      res.end(ollamaDone({}));
    });
    const m = await client.chat(request());
    assert.equal(m.success, true);
    assert.equal(m.output_tokens, 2);
    assert.equal(m.output_tokens_source, 'tokenizer');
    assert.equal(m.output_tokens_approx, false);
    assert.equal(m.server_decode_tps, null);

    // Tool calls stream no text: only their events can be counted, and that is flagged.
    const tools = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(
        res,
        `${JSON.stringify({ model: 'qwen2.5:3b', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: {} } }] }, done: false })}\n`,
      );
      res.end(ollamaDone({}));
    });
    const n = await tools.client.chat(request());
    assert.equal(n.success, true);
    assert.equal(n.output_tokens, 1);
    assert.equal(n.output_tokens_source, 'events');
    assert.equal(n.output_tokens_approx, true);
  });

  void test('lines split across writes, and multi-byte characters split across chunks', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      const line = Buffer.from(ollamaChunk('héllo ✓'));
      const cut = line.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
      await new Promise<void>((r) => res.write(line.subarray(0, cut), () => r()));
      await sleep(10);
      await new Promise<void>((r) => res.write(line.subarray(cut), () => r()));
      // the last line arrives without its newline, as ollama-js tolerates
      res.end(ollamaDone({ eval_count: 1, eval_duration: 1 }).trimEnd());
    });
    const m = await client.chat(request());
    assert.equal(m.success, true, JSON.stringify(m.error));
    assert.equal(m.client_token_events, 1);
  });

  void test('an error line after tokens fails the request (OOM is recognised)', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('a'));
      res.end(JSON.stringify({ error: 'an error was encountered while running the model' }) + '\n');
    });
    const m = await client.chat(request());
    assert.equal(m.success, false);
    assert.equal(m.error?.kind, 'stream_error');
    assert.equal(m.error?.message, 'an error was encountered while running the model');
    assert.equal(m.client_token_events, 1, 'tokens before the error are kept');

    const oom = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('a'));
      res.end(JSON.stringify({ error: 'CUDA error: out of memory' }) + '\n');
    });
    assert.equal((await oom.client.chat(request())).error?.kind, 'oom');
  });

  void test('a non-JSON line fails with bad_line', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('a'));
      await write(res, '<html>proxy error</html>\n');
      res.end(ollamaDone({ eval_count: 1 }));
    });
    const m = await client.chat(request());
    assert.equal(m.success, false);
    assert.equal(m.error?.kind, 'bad_line');
    assert.match(m.error?.message ?? '', /proxy error/);
  });

  void test('a stream that ends without done:true, or whose connection breaks, is cut', async (t) => {
    const ended = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('a'));
      res.end();
    });
    const a = await ended.client.chat(request());
    assert.equal(a.error?.kind, 'stream_cut');
    assert.equal(a.client_token_events, 1);

    const broken = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('a'));
      await sleep(10);
      res.socket?.destroy();
    });
    const b = await broken.client.chat(request());
    assert.equal(b.success, false);
    assert.equal(b.error?.kind, 'stream_cut');
  });

  void test('404 and 500 answers carry status and the server message', async (t) => {
    const nf = await setup(t, (_req, res) => json(res, 404, { error: "model 'qwen2.5:3b' not found" }));
    const a = await nf.client.chat(request());
    assert.deepEqual(a.error, { kind: 'http_status', message: "model 'qwen2.5:3b' not found", status: 404 });
    assert.equal(a.ttft_ms, null);
    assert.equal(a.output_tokens, 0);

    const oom = await setup(t, (_req, res) =>
      json(res, 500, { error: 'model requires more system memory (7.5 GiB) than is available (5.2 GiB)' }),
    );
    const b = await oom.client.chat(request());
    assert.equal(b.error?.kind, 'oom');
    assert.equal(b.error?.status, 500);

    const plain = await setup(t, (_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found');
    });
    assert.equal((await plain.client.chat(request())).error?.message, '404 page not found');
  });

  void test('a request slower than its timeout fails with timeout', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await write(res, ollamaChunk('a'));
      await hang(2000);
      res.end(ollamaDone());
    });
    const m = await client.chat(request({ timeoutMs: 200 }));
    assert.equal(m.error?.kind, 'timeout');
    assert.ok(m.total_ms >= 190 && m.total_ms < 1500, `gave up after ${m.total_ms} ms`);
  });

  void test('connection refused and caller abort', async (t) => {
    const port = await refusedPort();
    const refused = createOllamaClient({ url: `http://127.0.0.1:${port}` });
    t.after(() => refused.close());
    const a = await refused.chat(request());
    assert.equal(a.error?.kind, 'connection');
    assert.match(a.error?.message ?? '', /ECONNREFUSED/);

    const { client } = await setup(t, async (_req, res) => {
      ndjsonHead(res);
      await hang(2000);
      res.end(ollamaDone());
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const b = await client.chat(request({ signal: ac.signal }));
    assert.equal(b.error?.kind, 'aborted');
    const pre = await client.chat(request({ signal: AbortSignal.abort() }));
    assert.equal(pre.error?.kind, 'aborted');
  });

  void test('close() destroys the pooled keep-alive connection; a second close() is a no-op', async (t) => {
    const { server, client } = await setup(t, (_req, res) => {
      ndjsonHead(res);
      res.end(ollamaChunk('hi') + ollamaDone({ eval_count: 1, eval_duration: 1_000_000 }));
    });
    const m = await client.chat(request());
    assert.equal(m.success, true, JSON.stringify(m.error));
    await sleep(20);
    assert.equal(server.openConnections(), 1, 'the socket stays pooled after the request');
    client.close();
    await waitFor(() => server.openConnections() === 0, 'the server sees the pooled socket closed');
    assert.doesNotThrow(() => client.close());
    assert.equal(server.openConnections(), 0);
  });
});
