/**
 * The gateway's protocol translation: Ollama requests → OpenAI bodies for EXO, EXO's answers →
 * Ollama's NDJSON, error bodies in each protocol's shape. The round trips send the translated
 * request to the EXO emulator, convert its real SSE stream, and hold every line against what the
 * Ollama emulator sends for the same request; the edge cases feed chunks by hand on a fake clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GatewayError } from '../src/gateway/gateway-error.js';
import { goJson, goTimestamp, ndjsonLine } from '../src/gateway/ollama-json.js';
import {
  OllamaStreamConverter,
  ollamaLoadReply,
  openAICompletionToOllama,
  type GatewayClock,
  type OllamaStreamLine,
} from '../src/gateway/ollama-response.js';
import {
  OPENAI_SSE_DONE,
  ollamaErrorBody,
  ollamaErrorLine,
  openAIErrorBody,
  openAIErrorEvent,
  openAIErrorType,
} from '../src/gateway/protocol-errors.js';
import {
  ollamaChatToOpenAI,
  ollamaGenerateToOpenAI,
  ollamaLoadOnly,
  renameModelInOllamaChunk,
  renameModelInOpenAIChunk,
} from '../src/gateway/protocol-translate.js';
import {
  EXO_ID,
  OLLAMA_TAG,
  ndjsonObjects,
  postJson,
  readSse,
  startGatewayLab,
  type GatewayLab,
} from './helpers/gateway-lab.js';

type Line = Record<string, unknown>;

const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const METRICS = [
  'total_duration',
  'load_duration',
  'prompt_eval_count',
  'prompt_eval_duration',
  'eval_count',
  'eval_duration',
];

/** A clock tests move by hand: monotonic ns from 0, wall clock from a fixed instant. */
function fakeClock(): GatewayClock & { advanceMs(ms: number): void } {
  let ns = 0n;
  const epoch = Date.UTC(2026, 0, 2, 3, 4, 5, 0);
  return {
    monotonicNs: () => ns,
    epochMs: () => epoch + Number(ns / 1_000_000n),
    advanceMs(ms) {
      ns += BigInt(ms) * 1_000_000n;
    },
  };
}

function assertGatewayError(fn: () => unknown, code: string, field: string | undefined, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, `a GatewayError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.field, field);
    assert.match(err.message, message);
    assert.equal(err.status, 400);
    return true;
  });
}

/** Drives a converter with an EXO SSE response as it arrives; returns the Ollama lines. */
async function convertExoStream(res: Response, converter: OllamaStreamConverter): Promise<Line[]> {
  converter.backendResponded();
  const lines: OllamaStreamLine[] = [];
  await readSse(res, (item) => {
    if (item.kind === 'data') lines.push(...converter.push(item.value));
    else if (item.kind === 'done') lines.push(...converter.done());
    else lines.push(...converter.end());
  });
  // Every line must survive the trip through NDJSON as the gateway will write it.
  return lines.map((l) => JSON.parse(ndjsonLine(l)) as Line);
}

/**
 * Ours against Ollama's, line by line: same keys in the same order, the client's model name,
 * timestamps, text, done flags, done_reason and eval_count; metrics positive integers that add up.
 */
function assertSameAsOllama(ours: Line[], theirs: Line[], textKey: 'message' | 'response'): void {
  assert.equal(
    ours.length,
    theirs.length,
    `line count\nours: ${JSON.stringify(ours)}\ntheirs: ${JSON.stringify(theirs)}`,
  );
  ours.forEach((line, i) => {
    const reference = theirs[i]!;
    // Ollama's generate adds the prompt's token ids, which no OpenAI backend returns.
    const { context: _context, ...comparable } = reference;
    assert.deepEqual(Object.keys(line), Object.keys(comparable), `keys of line ${i}`);
    assert.equal(line['model'], OLLAMA_TAG);
    assert.equal(line['model'], reference['model']);
    assert.match(String(line['created_at']), RFC3339_UTC);
    assert.deepEqual(line[textKey], reference[textKey], `text of line ${i}`);
    assert.equal(line['done'], reference['done']);
    assert.equal(line['done_reason'], reference['done_reason']);
  });
  const final = ours.at(-1)!;
  const reference = theirs.at(-1)!;
  assert.equal(final['eval_count'], reference['eval_count']);
  for (const key of METRICS) {
    assert.ok(Number.isInteger(final[key]) && (final[key] as number) > 0, `${key} is a positive integer`);
  }
  const phases = ['load_duration', 'prompt_eval_duration', 'eval_duration'].reduce(
    (s, k) => s + (final[k] as number),
    0,
  );
  assert.ok((final['total_duration'] as number) >= phases, 'total_duration covers the phases');
}

describe('round trips through the emulators (EXO stream → Ollama NDJSON vs the Ollama emulator)', () => {
  let lab: GatewayLab;
  before(async () => {
    lab = await startGatewayLab();
  });
  after(() => lab.close());

  test('/api/chat streamed: every line as Ollama writes it; num_predict → max_tokens → done_reason "length"', async () => {
    const request = {
      model: OLLAMA_TAG,
      messages: [
        { role: 'system', content: 'You write Python.' },
        { role: 'user', content: 'A binary search, please.' },
      ],
      options: { num_predict: 5, temperature: 0 },
    };
    const theirs = await ndjsonObjects(await postJson(`${lab.ollama.url}/api/chat`, request));

    const body = ollamaChatToOpenAI(request, EXO_ID);
    assert.equal(body.stream, true, 'Ollama streams unless told otherwise');
    assert.equal(body.max_tokens, 5);
    const converter = new OllamaStreamConverter({ endpoint: 'chat', model: OLLAMA_TAG });
    const res = await postJson(`${lab.exo.url}/v1/chat/completions`, body);
    assert.equal(res.status, 200);
    const ours = await convertExoStream(res, converter);

    assertSameAsOllama(ours, theirs, 'message');
    assert.equal(ours.at(-1)!['done_reason'], 'length');
    assert.equal(ours.map((l) => (l['message'] as { content: string }).content).join(''), 'Here is a binary search');
    // EXO's usage reports the prompt it templated (its template differs from Ollama's: a count, not equal).
    assert.ok((ours.at(-1)!['prompt_eval_count'] as number) > 0);
  });

  test('/api/generate streamed: `system` and `prompt` become messages; the lines match Ollama but for `context`', async () => {
    const request = {
      model: OLLAMA_TAG,
      system: 'Be brief.',
      prompt: 'Write a binary search.',
      options: { num_predict: 4 },
    };
    const theirs = await ndjsonObjects(await postJson(`${lab.ollama.url}/api/generate`, request));
    assert.ok(Array.isArray(theirs.at(-1)!['context']), 'the control: Ollama sends context token ids');

    const body = ollamaGenerateToOpenAI(request, EXO_ID);
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Write a binary search.' },
    ]);
    const converter = new OllamaStreamConverter({ endpoint: 'generate', model: OLLAMA_TAG });
    const ours = await convertExoStream(await postJson(`${lab.exo.url}/v1/chat/completions`, body), converter);

    assertSameAsOllama(ours, theirs, 'response');
    assert.equal(ours.at(-1)!['context'], undefined);
    assert.equal(ours.at(-1)!['response'], '', 'the final streamed line has an empty response');
  });

  test('a mid-stream backend error becomes the error line Ollama ends a started stream with', async (t) => {
    await lab.faults({ errorAfterTokens: 2 });
    t.after(() => lab.faults({ errorAfterTokens: null }));
    const request = { model: OLLAMA_TAG, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 5 } };
    const theirsRes = await postJson(`${lab.ollama.url}/api/chat`, request);
    assert.equal(theirsRes.status, 200, 'the error comes after the stream started');
    const theirs = await ndjsonObjects(theirsRes);

    const converter = new OllamaStreamConverter({ endpoint: 'chat', model: OLLAMA_TAG });
    const ours = await convertExoStream(
      await postJson(`${lab.exo.url}/v1/chat/completions`, ollamaChatToOpenAI(request, EXO_ID)),
      converter,
    );

    assert.equal(ours.length, theirs.length);
    assert.deepEqual(
      ours.slice(0, 2).map((l) => l['message']),
      theirs.slice(0, 2).map((l) => l['message']),
    );
    assert.deepEqual(Object.keys(ours[2]!), ['error']);
    assert.deepEqual(Object.keys(theirs[2]!), ['error']);
    assert.equal(ours[2]!['error'], 'Injected error after 2 tokens', "EXO's message is passed on");
    assert.ok(!ours.some((l) => l['done'] === true), 'no done line after an error');
    assert.equal(converter.finished, true);
  });

  test('not streamed: the EXO completion as one Ollama object, text and counts as Ollama reports them', async () => {
    const request = {
      model: OLLAMA_TAG,
      stream: false,
      messages: [{ role: 'user', content: 'hi' }],
      options: { num_predict: 6 },
    };
    const theirs = (await (await postJson(`${lab.ollama.url}/api/chat`, request)).json()) as Line;

    const clock = fakeClock();
    const body = ollamaChatToOpenAI(request, EXO_ID);
    assert.equal(body.stream, false);
    assert.equal(body.stream_options, undefined);
    const completion: unknown = await (await postJson(`${lab.exo.url}/v1/chat/completions`, body)).json();
    clock.advanceMs(40);
    const ours = openAICompletionToOllama(completion, { endpoint: 'chat', model: OLLAMA_TAG, clock, startedNs: 0n });

    assert.deepEqual(ours.message, theirs['message']);
    assert.equal(ours.done, true);
    assert.equal(ours.done_reason, theirs['done_reason']);
    assert.equal(ours.eval_count, theirs['eval_count']);
    assert.equal(ours.total_duration, 40_000_000);
    // Only the total can be measured without a stream; the rest of Ollama's keys, in Ollama's order.
    const theirKeys = Object.keys(theirs);
    const ourKeys = Object.keys(ours);
    assert.deepEqual(
      theirKeys.filter((k) => ourKeys.includes(k)),
      ourKeys,
    );
    assert.deepEqual(
      theirKeys.filter((k) => !ourKeys.includes(k)),
      ['load_duration', 'prompt_eval_duration', 'eval_duration'],
    );
  });

  test('a load-only request: the reply matches what Ollama answers, load and unload', async () => {
    for (const [request, reason] of [
      [{ model: OLLAMA_TAG, messages: [] }, 'load'],
      [{ model: OLLAMA_TAG, keep_alive: 0 }, 'unload'],
    ] as const) {
      const theirs = (await (await postJson(`${lab.ollama.url}/api/chat`, request)).json()) as Line;
      assert.equal(ollamaLoadOnly('chat', request), reason);
      const ours = ollamaLoadReply('chat', OLLAMA_TAG, reason) as unknown as Line;
      assert.deepEqual({ ...ours, created_at: 'x' }, { ...theirs, created_at: 'x' });
      assert.match(String(ours['created_at']), RFC3339_UTC);
    }
  });

  test("error bodies are byte for byte what Ollama's native API and its /v1 send", async () => {
    const missing = 'nope:1b';
    const native = await postJson(`${lab.ollama.url}/api/chat`, {
      model: missing,
      messages: [{ role: 'user', content: 'x' }],
    });
    assert.equal(native.status, 404);
    assert.equal(await native.text(), goJson(ollamaErrorBody(`model '${missing}' not found`)));

    const v1 = await postJson(`${lab.ollama.url}/v1/chat/completions`, {
      model: missing,
      messages: [{ role: 'user', content: 'x' }],
    });
    assert.equal(v1.status, 404);
    assert.equal(
      await v1.text(),
      `${goJson(openAIErrorBody(`model '${missing}' not found`, openAIErrorType(404)))}\n`,
      'openai.NewError, written by a json.Encoder (trailing newline)',
    );
  });

  test('renaming: an EXO chunk relayed to an OpenAI client carries the name the client asked for', async () => {
    const res = await postJson(`${lab.exo.url}/v1/chat/completions`, {
      model: EXO_ID,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
      stream: true,
    });
    const renamed: unknown[] = [];
    await readSse(res, (item) => {
      if (item.kind === 'data') renamed.push(renameModelInOpenAIChunk(item.value, OLLAMA_TAG));
    });
    assert.equal(renamed.length, 2);
    for (const chunk of renamed) assert.equal((chunk as Line)['model'], OLLAMA_TAG);
  });
});

describe('Ollama request → OpenAI body', () => {
  test('/api/chat: messages in order, roles lowercased as Ollama does, every option mapped, server-only options dropped', () => {
    const body = ollamaChatToOpenAI(
      {
        model: 'llama3.3:70b',
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'USER', content: 'Hi' },
          { role: 'assistant', content: 'Hello.', thinking: 'greet back' },
          { role: 'user' },
        ],
        keep_alive: '10m',
        truncate: true,
        options: {
          temperature: 0.2,
          top_p: 0.9,
          top_k: 40,
          min_p: 0.05,
          seed: 42,
          num_predict: 128,
          stop: ['</s>', '\n\n'],
          repeat_penalty: 1.1,
          repeat_last_n: 64,
          presence_penalty: 0.5,
          frequency_penalty: 0.25,
          num_ctx: 8192,
          num_gpu: 99,
          mirostat: 0,
        },
      },
      'mlx-community/Llama-3.3-70B-Instruct-4bit',
    );
    assert.deepEqual(body, {
      model: 'mlx-community/Llama-3.3-70B-Instruct-4bit',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: '' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      top_p: 0.9,
      min_p: 0.05,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      repetition_penalty: 1.1,
      max_tokens: 128,
      seed: 42,
      top_k: 40,
      repetition_context_size: 64,
      stop: ['</s>', '\n\n'],
    });
  });

  test('options Ollama means as "no limit" are left to EXO\'s defaults; integers truncate; nulls are absent', () => {
    const body = ollamaChatToOpenAI(
      {
        model: 'm',
        stream: null,
        messages: [{ role: 'user', content: 'x' }],
        options: { num_predict: -1, seed: -1, top_k: 0, repeat_last_n: -1, temperature: null, stop: [] },
      },
      'o/m',
    );
    assert.deepEqual(body, {
      model: 'o/m',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(
      ollamaChatToOpenAI(
        { model: 'm', messages: [{ role: 'user', content: 'x' }], options: { num_predict: 7.9 } },
        'o/m',
      ).max_tokens,
      7,
    );
    assert.equal(
      ollamaGenerateToOpenAI({ model: 'm', prompt: 'x', options: { num_predict: 0 } }, 'o/m').max_tokens,
      undefined,
    );
  });

  test('think: a bool becomes enable_thinking, a level reasoning_effort ("max" is EXO\'s "xhigh")', () => {
    const chat = (think: unknown) =>
      ollamaChatToOpenAI({ model: 'm', messages: [{ role: 'user', content: 'x' }], think }, 'o/m');
    assert.equal(chat(true).enable_thinking, true);
    assert.equal(chat(false).enable_thinking, false);
    assert.equal(chat('low').reasoning_effort, 'low');
    assert.equal(chat('high').reasoning_effort, 'high');
    assert.equal(chat('max').reasoning_effort, 'xhigh');
    assert.equal(chat(undefined).enable_thinking, undefined);
  });

  test('/api/generate: prompt alone is one user message; stream:false asks for no usage stream', () => {
    assert.deepEqual(
      ollamaGenerateToOpenAI({ model: 'm', prompt: 'hello', stream: false, raw: false, suffix: '' }, 'o/m'),
      {
        model: 'o/m',
        messages: [{ role: 'user', content: 'hello' }],
        stream: false,
      },
    );
  });

  test('malformed requests fail with KAGE_ERR_GATEWAY_BAD_REQUEST naming the field', () => {
    const ok = [{ role: 'user', content: 'x' }];
    const cases: [unknown, string, RegExp][] = [
      [null, '(body)', /must be a JSON object/],
      [[1], '(body)', /must be a JSON object/],
      [{ messages: ok }, 'model', /^model is required$/],
      [{ model: ' ', messages: ok }, 'model', /^model is required$/],
      [{ model: 3, messages: ok }, 'model', /model must be a string/],
      [{ model: 'm', messages: ok, stream: 'yes' }, 'stream', /stream must be a boolean/],
      [{ model: 'm', messages: {} }, 'messages', /messages must be an array/],
      [{ model: 'm', messages: [] }, 'messages', /nothing to generate/],
      [{ model: 'm', messages: ['hi'] }, 'messages[0]', /messages\[0\] must be an object/],
      [{ model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', /"robot"/],
      [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', /must be a string/],
      [{ model: 'm', messages: ok, options: [] }, 'options', /options must be an object/],
      [
        { model: 'm', messages: ok, options: { temperature: 'hot' } },
        'options.temperature',
        /^option "temperature" must be of type float32$/,
      ],
      [{ model: 'm', messages: ok, options: { seed: '1' } }, 'options.seed', /^option "seed" must be of type integer$/],
      [{ model: 'm', messages: ok, options: { stop: 'x' } }, 'options.stop', /must be of type array/],
      [{ model: 'm', messages: ok, options: { stop: [1] } }, 'options.stop', /array of strings/],
      [{ model: 'm', messages: ok, think: 'very' }, 'think', /invalid think value: "very"/],
      [{ model: 'm', messages: ok, top_logprobs: 21 }, 'top_logprobs', /between 0 and 20/],
      [{ model: 'm', messages: ok, logprobs: 1 }, 'logprobs', /must be a boolean/],
      [{ model: 'm', messages: ok, tools: {} }, 'tools', /tools must be an array/],
    ];
    for (const [body, field, message] of cases) {
      assertGatewayError(() => ollamaChatToOpenAI(body, 'o/m'), 'KAGE_ERR_GATEWAY_BAD_REQUEST', field, message);
    }
    const generate: [unknown, string, RegExp][] = [
      [{ model: 'm' }, 'prompt', /nothing to generate/],
      [{ model: 'm', prompt: 1 }, 'prompt', /prompt must be a string/],
      [{ model: 'm', prompt: 'x', system: false }, 'system', /system must be a string/],
      [{ model: 'm', prompt: 'x', raw: 'no' }, 'raw', /raw must be a boolean/],
    ];
    for (const [body, field, message] of generate) {
      assertGatewayError(() => ollamaGenerateToOpenAI(body, 'o/m'), 'KAGE_ERR_GATEWAY_BAD_REQUEST', field, message);
    }
  });

  test('what EXO cannot honour fails with KAGE_ERR_GATEWAY_UNSUPPORTED naming the field, never silently dropped', () => {
    const msg = [{ role: 'user', content: 'x' }];
    const chat: [unknown, string][] = [
      [{ model: 'm', messages: msg, format: 'json' }, 'format'],
      [{ model: 'm', messages: msg, format: { type: 'object' } }, 'format'],
      [{ model: 'm', messages: msg, tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
      [{ model: 'm', messages: [{ role: 'user', content: 'x', images: ['aGk='] }] }, 'messages[0].images'],
      [{ model: 'm', messages: [{ role: 'tool', content: '{}' }] }, 'messages[0].role'],
      [
        { model: 'm', messages: [{ role: 'assistant', content: '', tool_calls: [{ function: { name: 'f' } }] }] },
        'messages[0].tool_calls',
      ],
      [{ model: 'm', messages: msg, logprobs: true }, 'logprobs'],
      [{ model: 'm', messages: msg, top_logprobs: 3 }, 'top_logprobs'],
    ];
    for (const [body, field] of chat) {
      assertGatewayError(
        () => ollamaChatToOpenAI(body, 'o/m'),
        'KAGE_ERR_GATEWAY_UNSUPPORTED',
        field,
        new RegExp(`EXO.*\\(${field.replace(/[[\]]/g, '\\$&')}\\)$`),
      );
    }
    const generate: [unknown, string][] = [
      [{ model: 'm', prompt: 'x', raw: true }, 'raw'],
      [{ model: 'm', prompt: 'x', suffix: 'return y' }, 'suffix'],
      [{ model: 'm', prompt: 'x', template: '{{ .Prompt }}' }, 'template'],
      [{ model: 'm', prompt: 'x', context: [1, 2, 3] }, 'context'],
      [{ model: 'm', prompt: 'x', images: ['aGk='] }, 'images'],
      [{ model: 'm', prompt: 'x', format: 'json' }, 'format'],
    ];
    for (const [body, field] of generate) {
      assertGatewayError(() => ollamaGenerateToOpenAI(body, 'o/m'), 'KAGE_ERR_GATEWAY_UNSUPPORTED', field, /EXO/);
    }
    // Empty values ask for nothing: accepted.
    assert.doesNotThrow(() =>
      ollamaChatToOpenAI({ model: 'm', messages: msg, format: '', tools: [], logprobs: false, top_logprobs: 0 }, 'o/m'),
    );
    assert.doesNotThrow(() =>
      ollamaGenerateToOpenAI({ model: 'm', prompt: 'x', images: [], context: [], template: '' }, 'o/m'),
    );
  });

  test('load-only requests are recognised as Ollama does (empty messages / prompt, keep_alive 0 unloads)', () => {
    assert.equal(ollamaLoadOnly('chat', { model: 'm' }), 'load');
    assert.equal(ollamaLoadOnly('chat', { model: 'm', messages: [], keep_alive: '0s' }), 'unload');
    assert.equal(ollamaLoadOnly('generate', { model: 'm', prompt: '' }), 'load');
    assert.equal(ollamaLoadOnly('generate', { model: 'm', keep_alive: '0' }), 'unload');
    assert.equal(ollamaLoadOnly('generate', { model: 'm', keep_alive: 0 }), 'unload');
    assert.equal(ollamaLoadOnly('generate', { model: 'm', keep_alive: '5m' }), 'load');
    assert.equal(ollamaLoadOnly('chat', { model: 'm', messages: [{ role: 'user', content: 'x' }] }), null);
    assert.equal(ollamaLoadOnly('generate', { model: 'm', prompt: 'x', keep_alive: 0 }), null);
    assert.equal(ollamaLoadOnly('chat', 'not json'), null);
    const reply = ollamaLoadReply('generate', 'm:latest', 'load', fakeClock());
    assert.deepEqual(reply, {
      model: 'm:latest',
      created_at: '2026-01-02T03:04:05Z',
      response: '',
      done: true,
      done_reason: 'load',
    });
  });
});

describe('EXO stream → Ollama lines, edge cases on a fake clock', () => {
  const token = (content: string | null, extra: Line = {}): Line => ({
    id: 'c0ffee',
    object: 'chat.completion',
    created: 1,
    model: EXO_ID,
    choices: [
      { index: 0, delta: { role: 'assistant', content, reasoning_content: null }, finish_reason: null, usage: null },
    ],
    usage: null,
    ...extra,
  });
  const finish = (content: string, reason: string, usage: Line | null): Line => ({
    ...token(content),
    choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: reason }],
    usage,
  });

  test('durations come from the clock, counts from EXO usage; every token line stamped as it was made', () => {
    const clock = fakeClock();
    const c = new OllamaStreamConverter({ endpoint: 'chat', model: 'llama3.2:3b', clock });
    clock.advanceMs(5);
    c.backendResponded();
    clock.advanceMs(15);
    assert.deepEqual(c.push(token('Hel')), [
      {
        model: 'llama3.2:3b',
        created_at: '2026-01-02T03:04:05.02Z',
        message: { role: 'assistant', content: 'Hel' },
        done: false,
      },
    ]);
    clock.advanceMs(10);
    c.push(token('lo'));
    clock.advanceMs(15);
    c.push(finish('!', 'stop', { prompt_tokens: 26, completion_tokens: 3, total_tokens: 29 }));
    clock.advanceMs(5);
    assert.deepEqual(c.done(), [
      {
        model: 'llama3.2:3b',
        created_at: '2026-01-02T03:04:05.05Z',
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
        total_duration: 50_000_000,
        load_duration: 5_000_000,
        prompt_eval_count: 26,
        prompt_eval_duration: 15_000_000,
        eval_count: 3,
        eval_duration: 25_000_000,
      },
    ]);
    assert.equal(c.finished, true);
    assert.deepEqual(c.end(), [], 'the body ending after [DONE] adds nothing');
    assert.deepEqual(c.push(token('late')), []);
  });

  test('empty content chunks make no line and count as no token; without usage eval_count counts token events', () => {
    const clock = fakeClock();
    const c = new OllamaStreamConverter({ endpoint: 'generate', model: 'm', clock, startedNs: 0n });
    const lines: OllamaStreamLine[] = [];
    lines.push(...c.push(token('')));
    lines.push(...c.push(token(null)));
    lines.push(...c.push({ id: 'x', choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }] }));
    clock.advanceMs(10);
    lines.push(...c.push(token('a')));
    clock.advanceMs(10);
    lines.push(...c.push(token('b')));
    lines.push(...c.push({ id: 'x', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    lines.push(...c.push({ id: 'x', choices: [] }));
    clock.advanceMs(1);
    lines.push(...c.done());
    assert.deepEqual(
      lines.map((l) => ('response' in l ? l.response : null)),
      ['a', 'b', ''],
    );
    const final = lines.at(-1)!;
    assert.deepEqual(final, {
      model: 'm',
      created_at: '2026-01-02T03:04:05.021Z',
      response: '',
      done: true,
      done_reason: 'stop',
      total_duration: 21_000_000,
      prompt_eval_duration: 10_000_000,
      eval_count: 2,
      eval_duration: 10_000_000,
    });
    assert.ok(!('prompt_eval_count' in final), 'no usage: the prompt count is unknown, so omitted');
    assert.ok(!('load_duration' in final), 'backendResponded never called: omitted');
  });

  test('finish_reason "length" → done_reason "length"; tool_calls and content_filter → "stop"', () => {
    const reasons: Record<string, string> = {};
    for (const reason of ['length', 'stop', 'tool_calls', 'content_filter']) {
      const c = new OllamaStreamConverter({ endpoint: 'chat', model: 'm', clock: fakeClock() });
      c.push(finish('x', reason, null));
      const final = c.done()[0] as { done_reason: string };
      reasons[reason] = final.done_reason;
    }
    assert.deepEqual(reasons, { length: 'length', stop: 'stop', tool_calls: 'stop', content_filter: 'stop' });
  });

  test("EXO's error event becomes Ollama's error line, and nothing follows it", () => {
    const c = new OllamaStreamConverter({ endpoint: 'chat', model: 'm', clock: fakeClock() });
    assert.equal(c.push(token('a')).length, 1);
    const error = { error: { message: 'Runner crashed', type: 'InternalServerError', param: null, code: 500 } };
    assert.deepEqual(c.push(error), [{ error: 'Runner crashed' }]);
    assert.equal(c.finished, true);
    assert.deepEqual(c.done(), [], 'EXO sends [DONE] after its error event: no done line may follow');
    assert.deepEqual(c.end(), []);
    assert.deepEqual(c.fail('again'), []);
    assert.equal(ndjsonLine(ollamaErrorBody('Runner crashed')), '{"error":"Runner crashed"}\n');
  });

  test('a stream that ends without [DONE]: complete after its finish chunk, an error line before it', () => {
    const finished = new OllamaStreamConverter({ endpoint: 'chat', model: 'm', clock: fakeClock() });
    finished.push(finish('a', 'length', null));
    const final = finished.end()[0] as unknown as Line;
    assert.equal(final['done'], true);
    assert.equal(final['done_reason'], 'length');

    const cut = new OllamaStreamConverter({ endpoint: 'chat', model: 'm', clock: fakeClock() });
    cut.push(token('a'));
    assert.deepEqual(cut.end(), [{ error: 'the backend stream ended before the response was complete' }]);

    const broken = new OllamaStreamConverter({ endpoint: 'chat', model: 'm', clock: fakeClock() });
    assert.deepEqual(broken.fail('socket hang up'), [{ error: 'socket hang up' }]);
    assert.deepEqual(new OllamaStreamConverter({ endpoint: 'chat', model: 'm' }).push('not an object'), [
      { error: 'the backend sent a stream event that is not a JSON object' },
    ]);
    assert.deepEqual(
      new OllamaStreamConverter({ endpoint: 'chat', model: 'm' }).push({
        choices: [{ delta: {}, finish_reason: 'error' }],
      }),
      [{ error: 'the backend reported a generation error' }],
    );
  });

  test("reasoning_content becomes Ollama's `thinking` (inside message for chat, beside response for generate)", () => {
    const thinking = {
      ...token(null),
      choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'Hmm' } }],
    };
    const chat = new OllamaStreamConverter({ endpoint: 'chat', model: 'm', clock: fakeClock() }).push(thinking);
    assert.deepEqual((chat[0] as unknown as Line)['message'], { role: 'assistant', content: '', thinking: 'Hmm' });
    const generate = new OllamaStreamConverter({ endpoint: 'generate', model: 'm', clock: fakeClock() }).push(thinking);
    assert.deepEqual(Object.keys(generate[0]!), ['model', 'created_at', 'response', 'thinking', 'done']);
  });

  test('a non-streamed answer that is no completion is KAGE_ERR_GATEWAY_BACKEND_REPLY (502)', () => {
    const options = { endpoint: 'generate' as const, model: 'm', clock: fakeClock() };
    for (const [body, message] of [
      ['<html>', /not a JSON object/],
      [
        { error: { message: 'No instance found for model x', type: 'Not Found', param: null, code: 404 } },
        /No instance found/,
      ],
      [{ choices: [] }, /no choices\[0\]\.message/],
    ] as const) {
      assert.throws(
        () => openAICompletionToOllama(body, options),
        (err: unknown) =>
          err instanceof GatewayError &&
          err.code === 'KAGE_ERR_GATEWAY_BACKEND_REPLY' &&
          err.status === 502 &&
          message.test(err.message),
      );
    }
    const reply = openAICompletionToOllama(
      { choices: [{ message: { role: 'assistant', content: null, reasoning_content: 'r' }, finish_reason: 'length' }] },
      options,
    );
    assert.deepEqual(reply, {
      model: 'm',
      created_at: '2026-01-02T03:04:05Z',
      response: '',
      thinking: 'r',
      done: true,
      done_reason: 'length',
    });
  });
});

describe('error bodies and model renaming', () => {
  test('Ollama: { error } as a body and as the NDJSON line ending a started stream', () => {
    assert.deepEqual(ollamaErrorBody("model 'x' not found"), { error: "model 'x' not found" });
    assert.equal(ollamaErrorLine('a <b> & c'), '{"error":"a \\u003cb\\u003e \\u0026 c"}\n', "Go's HTML-safe escapes");
  });

  test('OpenAI: { error: { message, type, param, code } } in that order, and as an SSE event before [DONE]', () => {
    assert.equal(
      JSON.stringify(openAIErrorBody('bad', 'invalid_request_error')),
      '{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}',
    );
    assert.deepEqual(openAIErrorBody('m', 'invalid_request_error', 'model_not_found', 'model'), {
      error: { message: 'm', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    });
    assert.deepEqual([400, 404, 500, 502].map(openAIErrorType), [
      'invalid_request_error',
      'not_found_error',
      'api_error',
      'api_error',
    ]);
    assert.equal(
      openAIErrorEvent('backend died', 'api_error') + OPENAI_SSE_DONE,
      'data: {"error":{"message":"backend died","type":"api_error","param":null,"code":null}}\n\ndata: [DONE]\n\n',
    );
  });

  test('renameModel*: a copy with the new name; error events, empty models and non-objects unchanged; the original intact', () => {
    const chunk = { id: 'x', object: 'chat.completion.chunk', model: 'qwen2.5:3b', choices: [] };
    const renamed = renameModelInOpenAIChunk(chunk, 'qwen2.5');
    assert.deepEqual(renamed, { ...chunk, model: 'qwen2.5' });
    assert.equal(chunk.model, 'qwen2.5:3b');
    const error = { error: { message: 'x' } };
    assert.equal(renameModelInOpenAIChunk(error, 'y'), error);
    assert.equal(renameModelInOpenAIChunk('[DONE]', 'y'), '[DONE]');
    // Ollama's /v1 error-after-start chunk keeps its empty model, the only sign of the error.
    const ollamaError = { id: 'chatcmpl-1', object: 'chat.completion.chunk', model: '', choices: [] };
    assert.equal(renameModelInOpenAIChunk(ollamaError, 'y'), ollamaError);
    const line = { model: 'qwen2.5:3b', created_at: 't', response: 'a', done: false };
    assert.deepEqual(renameModelInOllamaChunk(line, 'library/qwen2.5:3b'), { ...line, model: 'library/qwen2.5:3b' });
    assert.deepEqual(renameModelInOllamaChunk({ error: 'x' }, 'y'), { error: 'x' });
  });

  test('timestamps as Go writes them: UTC, fraction without trailing zeros, none when whole', () => {
    assert.equal(goTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 100)), '2026-01-02T03:04:05.1Z');
    assert.equal(goTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 123)), '2026-01-02T03:04:05.123Z');
    assert.equal(goTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), '2026-01-02T03:04:05Z');
  });
});
