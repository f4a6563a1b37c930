/**
 * The official `ollama` npm client against the emulator: list, ps, show, pull (streamed),
 * generate and chat (streamed and not), errors, and aborting a stream. And openai-node reading a
 * /v1 stream the server cut short with an error.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { DEFAULT_OLLAMA_MODELS } from '../src/index.js';
import { FAST_CPU_PROFILE, postJson, startEmulator, waitFor } from './ollama-helpers.js';

void describe('ollama-js client', () => {
  void test('list, ps, show and version', async (t) => {
    const emu = await startEmulator(t);
    const ollama = new Ollama({ host: emu.url });
    const list = await ollama.list();
    assert.deepEqual(list.models.map((m) => m.name).sort(), DEFAULT_OLLAMA_MODELS.map((m) => m.name).sort());
    assert.deepEqual((await ollama.ps()).models, []);
    await ollama.generate({ model: 'qwen2.5:3b', prompt: '' });
    const ps = await ollama.ps();
    assert.equal(ps.models[0]?.name, 'qwen2.5:3b');
    assert.ok(ps.models[0] && ps.models[0].size_vram > 0);
    const show = await ollama.show({ model: 'qwen2.5:3b' });
    assert.equal(show.details.family, 'qwen2');
    // The typings say Map, the wire carries a plain object.
    assert.equal((show.model_info as unknown as Record<string, unknown>)['qwen2.block_count'], 36);
    assert.equal((await ollama.version()).version, '0.32.15');
  });

  void test('pull streams progress to success; an unknown model throws the server text', async (t) => {
    const emu = await startEmulator(t);
    const ollama = new Ollama({ host: emu.url });
    const statuses: string[] = [];
    for await (const part of await ollama.pull({ model: 'llama3.2:1b', stream: true })) statuses.push(part.status);
    assert.equal(statuses[0], 'pulling manifest');
    assert.equal(statuses.at(-1), 'success');
    await assert.rejects(
      async () => {
        for await (const part of await ollama.pull({ model: 'nope:1b', stream: true })) void part;
      },
      { message: 'pull model manifest: file does not exist' },
    );
    const plain = await ollama.pull({ model: 'qwen2.5:3b' });
    assert.equal(plain.status, 'success');
  });

  void test('generate and chat, streamed and not', async (t) => {
    const emu = await startEmulator(t);
    const ollama = new Ollama({ host: emu.url });
    const whole = await ollama.generate({ model: 'llama3.2:1b', prompt: 'hi', options: { num_predict: 5 } });
    assert.equal(whole.done, true);
    assert.equal(whole.done_reason, 'length');
    assert.equal(whole.eval_count, 5);
    assert.ok(String(whole.response).length > 0);

    let streamed = '';
    let last;
    for await (const part of await ollama.generate({
      model: 'llama3.2:1b',
      prompt: 'hi',
      stream: true,
      options: { num_predict: 5 },
    })) {
      streamed += part.response;
      last = part;
    }
    assert.equal(streamed, whole.response);
    assert.equal(last?.done, true);

    const chat = await ollama.chat({
      model: 'qwen2.5:3b',
      messages: [{ role: 'user', content: 'hi' }],
      options: { num_predict: 4 },
    });
    assert.equal(chat.message.role, 'assistant');
    assert.equal(chat.eval_count, 4);
    let chatText = '';
    for await (const part of await ollama.chat({
      model: 'qwen2.5:3b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      options: { num_predict: 4 },
    })) {
      chatText += part.message.content;
    }
    assert.equal(chatText, chat.message.content);
  });

  void test('errors surface as ResponseError with status and server text', async (t) => {
    const emu = await startEmulator(t);
    const ollama = new Ollama({ host: emu.url });
    await assert.rejects(ollama.generate({ model: 'missing:7b', prompt: 'x' }), {
      name: 'ResponseError',
      status_code: 404,
      error: "model 'missing:7b' not found",
    });
    await assert.rejects(ollama.show({ model: 'missing' }), {
      status_code: 404,
      error: "model 'missing:latest' not found",
    });
  });

  void test('aborting a stream stops generation on the server and frees the slot', async (t) => {
    const emu = await startEmulator(t, { profile: FAST_CPU_PROFILE, numParallel: 1, maxQueue: 0 });
    const ollama = new Ollama({ host: emu.url });
    await ollama.generate({ model: 'llama3.2:1b', prompt: '' });
    const stream = await ollama.generate({ model: 'llama3.2:1b', prompt: 'x', stream: true });
    let received = 0;
    await assert.rejects(
      async () => {
        for await (const part of stream) {
          void part;
          received += 1;
          if (received === 2) stream.abort();
        }
      },
      { name: 'AbortError' },
    );
    assert.equal(received, 2);
    const freed = await waitFor(async () => {
      const res = await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        stream: false,
        options: { num_predict: 1 },
      });
      await res.text();
      return res.status === 200;
    }, 2000);
    assert.ok(freed);
  });
});

void describe('openai-node client', () => {
  void test('an error after the /v1 stream started reads as a silent truncation, not a thrown error', async (t) => {
    const emu = await startEmulator(t, { faults: { errorAfterTokens: 3 } });
    const client = new OpenAI({ baseURL: `${emu.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    // Ends without throwing: the client never sees the error text, a finish_reason or usage.
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.length, 4);
    assert.deepEqual(
      chunks.map((c) => [c.model, c.choices[0]?.delta.content, c.choices[0]?.finish_reason]),
      [
        ['llama3.2:1b', 'Here', null],
        ['llama3.2:1b', ' is', null],
        ['llama3.2:1b', ' a', null],
        ['', '', null],
      ],
    );
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    assert.ok(
      chunks.every((c) => c.usage === undefined || c.usage === null),
      'no usage chunk',
    );
  });
});
