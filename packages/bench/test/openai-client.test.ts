import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createOpenAiClient, type ChatRequest, type ProtocolClient } from '../src/index.js';
import {
  hang,
  json,
  openaiChunk,
  refusedPort,
  sleep,
  sseData,
  sseHead,
  startScriptedServer,
  write,
  type Handler,
  type ScriptedServer,
} from './helpers/scripted-server.js';

const request = (over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'qwen2.5:3b',
  prompt: 'hello',
  maxTokens: 32,
  timeoutMs: 5000,
  ...over,
});

async function setup(t: TestContext, handler: Handler): Promise<{ server: ScriptedServer; client: ProtocolClient }> {
  const server = await startScriptedServer(handler);
  t.after(() => server.close());
  const client = createOpenAiClient({ url: server.url });
  t.after(() => client.close());
  return { server, client };
}

const USAGE = { prompt_tokens: 26, completion_tokens: 3, total_tokens: 29 };

void describe('openai client: /v1/chat/completions SSE', () => {
  void test('role-only first chunk, finish chunk and usage-only chunk are not tokens', async (t) => {
    const { server, client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, ': keep-alive\n\n');
      await write(res, openaiChunk({ role: 'assistant' })); // role only, early: must not set TTFT
      await sleep(40);
      await write(res, openaiChunk({ content: 'Hel' }));
      await sleep(5);
      await write(res, openaiChunk({ content: 'lo' }));
      await write(res, openaiChunk({ content: '!' }));
      await write(res, openaiChunk({}, { finish_reason: 'stop' }));
      await write(res, sseData({ id: 'x', object: 'chat.completion.chunk', choices: [], usage: USAGE }));
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat(request({ temperature: 0.5, seed: 3, numCtx: 8192 }));
    assert.equal(m.success, true, JSON.stringify(m.error));
    assert.deepEqual(server.requests[0]?.body, {
      model: 'qwen2.5:3b',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 32,
      temperature: 0.5,
      seed: 3,
    });
    assert.equal(server.requests[0]?.path, '/v1/chat/completions');
    assert.equal(m.client_token_events, 3);
    assert.equal(m.output_tokens, 3);
    assert.equal(m.output_tokens_source, 'server');
    assert.equal(m.prompt_tokens, 26);
    assert.equal(m.finish_reason, 'stop');
    assert.equal(m.comment_events, 1);
    assert.ok(m.ttft_ms !== null && m.ttft_ms >= 35, `TTFT ${m.ttft_ms} must skip the role-only chunk`);
  });

  void test('classic Ollama /v1 layout: role in every delta, empty finish content', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ role: 'assistant', content: 'Hel' }));
      await write(res, openaiChunk({ role: 'assistant', content: 'lo' }));
      await write(res, openaiChunk({ role: 'assistant', content: '' }, { finish_reason: 'stop' }));
      await write(res, sseData({ choices: [], usage: { ...USAGE, completion_tokens: 2 } }));
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat(request());
    assert.equal(m.success, true);
    assert.equal(m.client_token_events, 2);
    assert.equal(m.output_tokens, 2);
  });

  void test('multi-token chunks use usage.completion_tokens; without usage events are counted and flagged', async (t) => {
    const multi = await setup(t, async (_req, res) => {
      sseHead(res);
      for (const piece of ['one two', 'three four', 'five six']) {
        await write(res, openaiChunk({ content: piece }));
        await sleep(10);
      }
      await write(res, sseData({ choices: [], usage: { ...USAGE, completion_tokens: 6 } }));
      res.end(sseData('[DONE]'));
    });
    const a = await multi.client.chat(request());
    assert.equal(a.output_tokens, 6);
    assert.equal(a.client_token_events, 3);
    assert.equal(a.output_tokens_approx, false);

    // No usage: the text is tokenised (o200k_base), so two multi-token chunks count as 6, not 2.
    const bare = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ content: 'Hello world,' }));
      await write(res, openaiChunk({ content: ' binary search function' }));
      res.end(sseData('[DONE]'));
    });
    const b = await bare.client.chat(request());
    assert.equal(b.success, true);
    assert.equal(b.client_token_events, 2);
    assert.equal(b.output_tokens, 6);
    assert.equal(b.output_tokens_source, 'tokenizer');
    assert.equal(b.output_tokens_approx, false);
  });

  void test('reasoning deltas count for TTFT, answer deltas for TTFO; tool calls are tokens', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ reasoning_content: 'think' }));
      await sleep(80);
      await write(res, openaiChunk({ reasoning: 'more' }));
      await write(res, openaiChunk({ tool_calls: [{ index: 0, function: { name: 'f', arguments: '{}' } }] }));
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat(request());
    assert.equal(m.client_token_events, 3);
    assert.ok(m.ttft_ms !== null && m.ttfo_ms !== null && m.ttfo_ms - m.ttft_ms >= 25);
  });

  void test('an error event after tokens fails the request even if [DONE] follows', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ content: 'a' }));
      await write(res, sseData({ error: { message: 'boom', type: 'InternalServerError', code: 500 } }));
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat(request());
    assert.equal(m.success, false);
    assert.deepEqual(m.error, { kind: 'stream_error', message: 'boom', status: null });
  });

  void test('non-JSON data fails with bad_line; a stream without [DONE] is cut', async (t) => {
    const bad = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ content: 'a' }));
      await write(res, 'data: {not json\n\n');
      res.end(sseData('[DONE]'));
    });
    assert.equal((await bad.client.chat(request())).error?.kind, 'bad_line');

    const cut = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ content: 'a' }));
      res.end();
    });
    const m = await cut.client.chat(request());
    assert.equal(m.error?.kind, 'stream_cut');
    assert.equal(m.client_token_events, 1);

    const broken = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ content: 'a' }));
      await sleep(10);
      res.socket?.destroy();
    });
    assert.equal((await broken.client.chat(request())).error?.kind, 'stream_cut');
  });

  void test('Ollama /v1\'s error after streaming started (an empty chunk with model "", no [DONE]) is a cut stream', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ role: 'assistant', content: 'a' }));
      await write(res, openaiChunk({ content: 'b' }));
      // The real server's error chunk: an ordinary chunk whose model is empty and whose content is "".
      await write(
        res,
        sseData({
          id: 'chatcmpl-1',
          object: 'chat.completion.chunk',
          created: 1730000000,
          model: '',
          system_fingerprint: 'fp_ollama',
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
        }),
      );
      res.end();
    });
    const m = await client.chat(request());
    assert.equal(m.success, false);
    assert.equal(m.error?.kind, 'stream_cut');
    assert.match(m.error?.message ?? '', /empty "model".*Ollama's \/v1 reports an error/);
    assert.equal(m.client_token_events, 2, 'the empty chunk is not a token');
  });

  void test("usage.prompt_tokens_details.cached_tokens is kept as the server's cached prompt count", async (t) => {
    const reply =
      (cached: unknown): Handler =>
      async (_req, res) => {
        sseHead(res);
        await write(res, openaiChunk({ content: 'a' }));
        await write(res, openaiChunk({}, { finish_reason: 'stop' }));
        await write(
          res,
          sseData({
            id: 'chatcmpl-1',
            object: 'chat.completion.chunk',
            created: 1730000000,
            model: 'qwen2.5:3b',
            choices: [],
            usage: { ...USAGE, ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }) },
          }),
        );
        res.end(sseData('[DONE]'));
      };
    const hit = await setup(t, reply(24));
    assert.equal((await hit.client.chat(request())).server.cached_prompt_tokens, 24);
    const none = await setup(t, reply(undefined));
    assert.equal((await none.client.chat(request())).server.cached_prompt_tokens, null, 'absent: unknown, not 0');
    const junk = await setup(t, reply('24'));
    assert.equal((await junk.client.chat(request())).server.cached_prompt_tokens, null);
  });

  void test('the terminator completes the request even if the server holds the body open', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ content: 'a' }));
      await write(res, sseData('[DONE]'));
      await hang(3000);
      res.end();
    });
    const m = await client.chat(request({ timeoutMs: 1000 }));
    assert.equal(m.success, true, JSON.stringify(m.error));
    assert.ok(m.total_ms < 900, `ended at the terminator, not the timeout (${m.total_ms} ms)`);
  });

  void test('the keep-alive connection is reused across requests', async (t) => {
    const ports = new Set<number>();
    const { client } = await setup(t, async (_req, res) => {
      ports.add(res.socket?.remotePort ?? 0);
      sseHead(res);
      await write(res, openaiChunk({ content: 'a' }));
      res.end(sseData('[DONE]'));
    });
    for (let i = 0; i < 3; i++) assert.equal((await client.chat(request())).success, true);
    assert.equal(ports.size, 1, 'one client port for three sequential requests');
  });

  void test('[DONE] with no token is no_tokens', async (t) => {
    const { client } = await setup(t, async (_req, res) => {
      sseHead(res);
      await write(res, openaiChunk({ role: 'assistant' }));
      res.end(sseData('[DONE]'));
    });
    assert.equal((await client.chat(request())).error?.kind, 'no_tokens');
  });

  void test('OpenAI-shaped 404 and a 500', async (t) => {
    const nf = await setup(t, (_req, res) =>
      json(res, 404, {
        error: { message: "model 'qwen2.5:7b' not found", type: 'not_found_error', param: null, code: null },
      }),
    );
    assert.deepEqual((await nf.client.chat(request())).error, {
      kind: 'http_status',
      message: "model 'qwen2.5:7b' not found",
      status: 404,
    });
    const ise = await setup(t, (_req, res) => json(res, 500, { error: { message: 'runner crashed' } }));
    assert.equal((await ise.client.chat(request())).error?.status, 500);
  });

  void test('timeout and connection refused', async (t) => {
    const slow = await setup(t, async (_req, res) => {
      sseHead(res);
      await hang(2000);
      res.end();
    });
    const a = await slow.client.chat(request({ timeoutMs: 150 }));
    assert.equal(a.error?.kind, 'timeout');

    const port = await refusedPort();
    const client = createOpenAiClient({ url: `http://127.0.0.1:${port}` });
    t.after(() => client.close());
    assert.equal((await client.chat(request())).error?.kind, 'connection');
  });
});
