/**
 * The OpenAI-compatible `/v1/chat/completions`: raw SSE layouts of both versions, usage chunks,
 * OpenAI-shaped errors, and the official `openai` client (v6) streaming and not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { postJson, readSse, startEmulator } from './ollama-helpers.js';

const USER = [{ role: 'user', content: 'Write a binary search' }];

void describe('/v1/chat/completions wire format', () => {
  void test('non-streamed by default: one chat.completion with usage', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'qwen2.5:3b',
      messages: USER,
      max_tokens: 3,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const text = await res.text();
    assert.ok(text.endsWith('}\n'), 'json.Encoder adds a newline');
    const body = JSON.parse(text) as Record<string, unknown>;
    assert.match(String(body.id), /^chatcmpl-\d{1,3}$/);
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'qwen2.5:3b');
    assert.equal(body.system_fingerprint, 'fp_ollama');
    assert.deepEqual(body.choices, [
      { index: 0, message: { role: 'assistant', content: 'Here is a' }, finish_reason: 'length' },
    ]);
    const usage = body.usage as Record<string, number>;
    assert.equal(usage.completion_tokens, 3);
    assert.equal(usage.total_tokens, (usage.prompt_tokens ?? 0) + 3);
  });

  void test('new layout (>= 0.32.6): role once, finish chunk with empty delta, usage, [DONE]', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'qwen2.5:3b',
      messages: USER,
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = await readSse(res);
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Record<string, unknown>);
    assert.equal(chunks.length, 5);
    const deltas = chunks.slice(0, 3).map((c) => (c.choices as Record<string, unknown>[])[0]?.delta);
    assert.deepEqual(deltas, [{ role: 'assistant', content: 'Here' }, { content: ' is' }, { content: ' a' }]);
    assert.deepEqual(chunks[3]?.choices, [{ index: 0, delta: {}, finish_reason: 'length' }]);
    assert.deepEqual(chunks[4]?.choices, []);
    assert.equal((chunks[4]?.usage as Record<string, number>).completion_tokens, 3);
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1, 'one created per stream');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
  });

  void test('classic layout (< 0.32.6): role in every delta, done chunk with empty content', async (t) => {
    const emu = await startEmulator(t, { version: '0.32.5' });
    const res = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'qwen2.5:3b',
      messages: USER,
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = await readSse(res);
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Record<string, unknown>);
    assert.equal(chunks.length, 4);
    assert.deepEqual(chunks[0]?.choices, [
      { index: 0, delta: { role: 'assistant', content: 'Here' }, finish_reason: null },
    ]);
    assert.deepEqual(chunks[1]?.choices, [
      { index: 0, delta: { role: 'assistant', content: ' is' }, finish_reason: null },
    ]);
    assert.deepEqual(chunks[2]?.choices, [
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'length' },
    ]);
    assert.deepEqual(chunks[3]?.choices, []);
    assert.ok(chunks[3]?.usage);
  });

  void test('without include_usage no usage chunk is streamed', async (t) => {
    const emu = await startEmulator(t);
    const res = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'qwen2.5:3b',
      messages: USER,
      max_tokens: 2,
      stream: true,
    });
    const events = await readSse(res);
    assert.ok(!events.some((e) => e.includes('"usage"')));
    assert.equal(events.at(-1), '[DONE]');
  });

  void test('errors are OpenAI-shaped', async (t) => {
    const emu = await startEmulator(t);
    const empty = await postJson(`${emu.url}/v1/chat/completions`, { model: 'qwen2.5:3b', messages: [] });
    assert.equal(empty.status, 400);
    assert.deepEqual(await empty.json(), {
      error: { message: "[] is too short - 'messages'", type: 'invalid_request_error', param: null, code: null },
    });
    const noBody = await postJson(`${emu.url}/v1/chat/completions`, '');
    assert.equal(noBody.status, 400);
    assert.equal(((await noBody.json()) as { error: { message: string } }).error.message, 'EOF');
    const missing = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'qwen2.5:7b',
      messages: USER,
      stream: true,
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), 'application/json');
    assert.deepEqual(await missing.json(), {
      error: { message: "model 'qwen2.5:7b' not found", type: 'not_found_error', param: null, code: null },
    });
    const badType = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'qwen2.5:3b',
      messages: USER,
      stream: 'yes',
    });
    assert.equal(badType.status, 400);
    assert.equal(
      ((await badType.json()) as { error: { message: string } }).error.message,
      'json: cannot unmarshal string into Go struct field ChatCompletionRequest.stream of type bool',
    );
  });
});

void describe('official openai client', () => {
  void test('non-streamed completion', async (t) => {
    const emu = await startEmulator(t);
    const client = new OpenAI({ baseURL: `${emu.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices[0]?.message.content, 'Here is a binary');
    assert.equal(completion.choices[0]?.finish_reason, 'length');
    assert.equal(completion.usage?.completion_tokens, 4);
  });

  void test('streamed completion with include_usage; natural end is stop', async (t) => {
    const emu = await startEmulator(t);
    const client = new OpenAI({ baseURL: `${emu.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(finish, 'stop');
    assert.match(text, /def binary_search/);
    assert.ok(usage && usage.completion_tokens > 100);
  });

  void test('not found surfaces as NotFoundError', async (t) => {
    const emu = await startEmulator(t);
    const client = new OpenAI({ baseURL: `${emu.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({ model: 'missing:1b', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof OpenAI.NotFoundError && /model 'missing:1b' not found/.test(err.message),
    );
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === 'qwen2.5:3b'));
    const one = await client.models.retrieve('qwen2.5:3b');
    assert.equal(one.owned_by, 'library');
  });
});
