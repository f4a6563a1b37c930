/**
 * readOpenAiChunk: one reading of an OpenAI chat-completions event for every server the lab
 * talks to (EXO's explicit nulls and finish-chunk usage, Ollama's `/v1` layouts, error events).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readOpenAiChunk } from '../src/index.js';

test('an EXO token chunk: content, explicit nulls read as absent', () => {
  const view = readOpenAiChunk({
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        delta: { role: 'assistant', content: 'Hel', reasoning_content: null, tool_calls: null },
        finish_reason: null,
        usage: null,
      },
    ],
    usage: null,
  });
  assert.deepEqual(view, {
    error: undefined,
    content: 'Hel',
    reasoning: '',
    hasToolCalls: false,
    finishReason: undefined,
    usage: undefined,
  });
});

test("EXO's finish chunk carries text, finish_reason and usage with cached tokens", () => {
  const view = readOpenAiChunk({
    choices: [{ index: 0, delta: { role: 'assistant', content: '.' }, finish_reason: 'length' }],
    usage: { prompt_tokens: 15, completion_tokens: 8, total_tokens: 23, prompt_tokens_details: { cached_tokens: 4 } },
  });
  assert.equal(view.content, '.');
  assert.equal(view.finishReason, 'length');
  assert.deepEqual(view.usage, { promptTokens: 15, completionTokens: 8, cachedPromptTokens: 4 });
});

test("reasoning: EXO's reasoning_content, Ollama's reasoning; tool calls; a usage-only chunk", () => {
  assert.equal(readOpenAiChunk({ choices: [{ delta: { reasoning_content: 'hmm' } }] }).reasoning, 'hmm');
  assert.equal(readOpenAiChunk({ choices: [{ delta: { reasoning: 'so' } }] }).reasoning, 'so');
  const tools = readOpenAiChunk({ choices: [{ delta: { tool_calls: [{ id: 'a' }] }, finish_reason: 'tool_calls' }] });
  assert.equal(tools.hasToolCalls, true);
  assert.equal(tools.finishReason, 'tool_calls');
  const usageOnly = readOpenAiChunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 'x' } });
  assert.equal(usageOnly.content, '');
  assert.deepEqual(usageOnly.usage, { promptTokens: 3 });
});

test('a non-streamed completion reads its message', () => {
  const view = readOpenAiChunk({
    choices: [{ message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
  });
  assert.equal(view.content, 'Hello!');
  assert.equal(view.finishReason, 'stop');
});

test('error events: an object with a message, a bare string, anything else as JSON', () => {
  const exo = readOpenAiChunk({ error: { message: 'boom', type: 'InternalServerError', code: 500 } });
  assert.equal(exo.error, 'boom');
  assert.equal(exo.content, '');
  assert.equal(exo.usage, undefined);
  assert.equal(readOpenAiChunk({ error: 'plain' }).error, 'plain');
  assert.equal(readOpenAiChunk({ error: { code: 1 } }).error, '{"code":1}');
  assert.equal(readOpenAiChunk({ error: null, choices: [] }).error, undefined);
});

test('odd shapes read as an empty chunk instead of throwing', () => {
  for (const chunk of [{}, { choices: 'x' }, { choices: [null] }, { choices: [{ delta: [] }] }, { choices: [[1]] }]) {
    const view = readOpenAiChunk(chunk);
    assert.equal(view.content, '');
    assert.equal(view.finishReason, undefined);
    assert.equal(view.error, undefined);
  }
});
