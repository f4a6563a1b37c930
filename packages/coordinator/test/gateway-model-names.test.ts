/**
 * The gateway's model names: the built-in Ollama tag ↔ EXO id catalogue (checked against the EXO
 * emulator's v1.0.71 card list), Ollama's normalisation, config aliases, and the strict validator
 * that keeps path tricks out of backend URLs and EXO's card file names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { findHardwareProfile, startExoEmulator } from '@kage/emulators';
import { GatewayError } from '../src/gateway/gateway-error.js';
import {
  BUILT_IN_MODEL_PAIRS,
  CARD_MODEL_PAIRS,
  HUB_MODEL_PAIRS,
  MAX_MODEL_NAME_LENGTH,
  createModelNames,
  normaliseOllamaName,
  validateModelName,
} from '../src/gateway/model-names.js';

const LLAMA33 = 'mlx-community/Llama-3.3-70B-Instruct-4bit';

test("built-in EXO ids: EXO v1.0.71's own cards, and the seed's Qwen2.5 builds that EXO adds from the hub", async (t) => {
  const exo = await startExoEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    name: 'srv1',
    profile: findHardwareProfile('cpu-server-ddr4')!,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => exo.close());
  const listed = (await (await fetch(`${exo.url}/v1/models`)).json()) as { data: { id: string; is_custom: boolean }[] };
  const cards = new Set(listed.data.filter((m) => !m.is_custom).map((m) => m.id));
  assert.ok(cards.size > 100, 'the control: the emulator lists the built-in cards');
  for (const { ollama, exo: id } of CARD_MODEL_PAIRS) assert.ok(cards.has(id), `${ollama} → ${id} is a card`);
  for (const { ollama, exo: id } of HUB_MODEL_PAIRS) {
    assert.ok(!cards.has(id), `${id} has no card at v1.0.71`);
    const added = await fetch(`${exo.url}/models/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model_id: id }),
    });
    assert.equal(added.status, 200, `${ollama} → ${id} can be added from the hub: ${await added.text()}`);
  }
  assert.equal(BUILT_IN_MODEL_PAIRS.length, CARD_MODEL_PAIRS.length + HUB_MODEL_PAIRS.length);
  assert.deepEqual(createModelNames().resolve('qwen2.5:3b'), {
    ollama: 'qwen2.5:3b',
    exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit',
    canonical: 'qwen2.5:3b',
  });
});

test('llama3.3:70b ↔ mlx-community/Llama-3.3-70B-Instruct-4bit from every spelling Ollama accepts and from the id', () => {
  const names = createModelNames();
  const expected = { ollama: 'llama3.3:70b', exo: LLAMA33, canonical: 'llama3.3:70b' };
  for (const spelling of [
    'llama3.3:70b',
    'library/llama3.3:70b',
    'registry.ollama.ai/library/llama3.3:70b',
    'LLAMA3.3:70B',
    LLAMA33,
    LLAMA33.toLowerCase(),
  ]) {
    assert.deepEqual(names.resolve(spelling), expected, spelling);
  }
  // A missing tag is `:latest`, which Ollama's library points at the 70b build.
  assert.deepEqual(names.resolve('llama3.3'), { ollama: 'llama3.3:latest', exo: LLAMA33, canonical: 'llama3.3:70b' });
  assert.deepEqual(names.resolve('gpt-oss'), {
    ollama: 'gpt-oss:latest',
    exo: 'mlx-community/gpt-oss-20b-MXFP4-Q8',
    canonical: 'gpt-oss:20b',
  });
  assert.equal(names.resolve('llama3.2:1b')?.exo, 'mlx-community/Llama-3.2-1B-Instruct-4bit');
  assert.equal(names.resolve('gemma4:26b')?.exo, 'mlx-community/gemma-4-26b-a4b-it-4bit');
});

test('Ollama normalisation: default host and library namespace dropped, `:latest` added, case kept', () => {
  assert.equal(normaliseOllamaName('qwen2.5'), 'qwen2.5:latest');
  assert.equal(normaliseOllamaName('library/qwen2.5:3b'), 'qwen2.5:3b');
  assert.equal(normaliseOllamaName('registry.ollama.ai/library/Qwen2.5'), 'Qwen2.5:latest');
  assert.equal(normaliseOllamaName('registry.ollama.ai/jmorgan/llama3'), 'jmorgan/llama3:latest');
  assert.equal(
    normaliseOllamaName('hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M'),
    'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M',
  );
  assert.equal(normaliseOllamaName('localhost:5000/ns/model'), 'localhost:5000/ns/model:latest');
});

test('config aliases: the DESIGN example pairs qwen2.5:3b with its MLX build, both ways', () => {
  // Built in already; the same alias in the config changes nothing.
  const bare = createModelNames();
  assert.equal(bare.resolve('qwen2.5:3b')?.exo, 'mlx-community/Qwen2.5-3B-Instruct-4bit');

  const names = createModelNames([
    { name: 'qwen2.5:3b', exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit' },
    { name: 'qwen2.5-coder:32b', exo: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit' },
  ]);
  const qwen = { ollama: 'qwen2.5:3b', exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit', canonical: 'qwen2.5:3b' };
  assert.deepEqual(names.resolve('qwen2.5:3b'), qwen);
  assert.deepEqual(names.resolve('library/qwen2.5:3b'), qwen);
  assert.deepEqual(names.resolve('mlx-community/Qwen2.5-3B-Instruct-4bit'), qwen);
  assert.deepEqual(names.resolve('mlx-community/qwen2.5-coder-32b-instruct-4bit'), {
    ollama: 'qwen2.5-coder:32b',
    exo: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit',
    canonical: 'qwen2.5-coder:32b',
  });
  assert.deepEqual(names.pairs().slice(-2), [
    { ollama: 'qwen2.5:3b', exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit' },
    { ollama: 'qwen2.5-coder:32b', exo: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit' },
  ]);
});

test('an alias overrides a built-in name, and a second name for a built-in id becomes its canonical name', () => {
  const names = createModelNames([
    { name: 'llama3.3:70b', exo: 'mlx-community/Llama-3.3-70B-Instruct-8bit' },
    { name: 'coder', exo: 'mlx-community/gpt-oss-20b-MXFP4-Q8' },
  ]);
  assert.equal(names.resolve('llama3.3:70b')?.exo, 'mlx-community/Llama-3.3-70B-Instruct-8bit');
  assert.equal(names.pairs().filter((p) => p.ollama === 'llama3.3:70b').length, 1, 'the built-in pair is gone');
  assert.deepEqual(names.resolve('mlx-community/gpt-oss-20b-MXFP4-Q8'), {
    ollama: 'coder:latest',
    exo: 'mlx-community/gpt-oss-20b-MXFP4-Q8',
    canonical: 'coder:latest',
  });
  assert.deepEqual(names.resolve('gpt-oss:20b'), {
    ollama: 'gpt-oss:20b',
    exo: 'mlx-community/gpt-oss-20b-MXFP4-Q8',
    canonical: 'coder:latest',
  });
});

test('unknown names: a tag is Ollama-only, an id Ollama cannot spell EXO-only, a bare owner/repo could be either', () => {
  const names = createModelNames();
  assert.deepEqual(names.resolve('mistral:7b'), { ollama: 'mistral:7b', exo: null, canonical: 'mistral:7b' });
  assert.deepEqual(names.resolve('hf.co/bartowski/Foo-GGUF:Q4_K_M'), {
    ollama: 'hf.co/bartowski/Foo-GGUF:Q4_K_M',
    exo: null,
    canonical: 'hf.co/bartowski/Foo-GGUF:Q4_K_M',
  });
  // Ollama namespaces have no dots; Hugging Face owners may.
  assert.deepEqual(names.resolve('some.org/Model-1'), {
    ollama: null,
    exo: 'some.org/Model-1',
    canonical: 'some.org/Model-1',
  });
  assert.deepEqual(names.resolve('mlx-community/Qwen3-4B-4bit'), {
    ollama: 'mlx-community/Qwen3-4B-4bit:latest',
    exo: 'mlx-community/Qwen3-4B-4bit',
    canonical: 'mlx-community/Qwen3-4B-4bit',
  });
});

test('validateModelName refuses path tricks and malformed names, each with KAGE_ERR_GATEWAY_MODEL_NAME and its reason', () => {
  const names = createModelNames();
  const refused: [string, RegExp][] = [
    ['', /it is empty/],
    ['../etc/passwd', /contains "\.\."/],
    ['mlx-community/../secrets', /contains "\.\."/],
    ['qwen2.5:3b/..', /contains "\.\."/],
    ['/qwen2.5:3b', /starts with "\/"/],
    ['mlx-community%2f..%2fx', /percent-encoded/],
    ['mlx-community%2FLlama', /percent-encoded/],
    ['qwen%2e%2e', /percent-encoded/],
    ['mlx-community\\Llama', /backslash/],
    ['qwen2.5\u0000:3b', /control character/],
    ['qwen2.5:3b\n', /control character/],
    ['qwen\u007f', /control character/],
    ['qwen 2.5', /whitespace/],
    ['a'.repeat(MAX_MODEL_NAME_LENGTH + 1), /longer than 256 characters/],
    ['a:b:c', /neither an Ollama model name .* nor a Hugging Face id/],
    ['a/b/c/d', /neither/],
    ['-model', /neither/],
    ['model:', /neither/],
    ['owner/', /neither/],
    ['qwen2.5@sha256', /neither/],
  ];
  for (const [name, reason] of refused) {
    assert.throws(
      () => validateModelName(name),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'KAGE_ERR_GATEWAY_MODEL_NAME');
        assert.equal(err.field, 'model');
        assert.equal(err.status, 400);
        assert.match(err.message, /^invalid model name "/);
        assert.match(err.message, reason);
        return true;
      },
      JSON.stringify(name),
    );
    assert.equal(names.resolve(name), null, `resolve refuses ${JSON.stringify(name)} too`);
  }
  // The longest name that is allowed: a 256-character Ollama name (long host, namespace, model, tag).
  const longest = `${'h'.repeat(170)}/ns/${'m'.repeat(80)}:t`;
  assert.equal(longest.length, MAX_MODEL_NAME_LENGTH);
  assert.equal(validateModelName(longest), longest);
  for (const ok of ['qwen2.5:3b', 'qwen2.5-coder:32b-instruct-q4_K_M', LLAMA33, 'localhost:5000/ns/m:1'])
    assert.equal(validateModelName(ok), ok);
});

test('aliases that are not valid pairs are refused when the names are created, naming the entry', () => {
  const cases: [{ name: string; exo: string }[], string, RegExp][] = [
    [[{ name: '../x', exo: 'a/b' }], 'models[0].name', /not an Ollama model name/],
    [[{ name: 'ok:1', exo: 'qwen2.5:3b' }], 'models[0].exo', /not a Hugging Face id/],
    [[{ name: 'ok:1', exo: 'a/../b' }], 'models[0].exo', /not a Hugging Face id/],
    [
      [
        { name: 'qwen2.5', exo: 'a/b' },
        { name: 'library/qwen2.5:latest', exo: 'a/c' },
      ],
      'models[1].name',
      /listed twice/,
    ],
  ];
  for (const [aliases, field, message] of cases) {
    assert.throws(
      () => createModelNames(aliases),
      (err: unknown) =>
        err instanceof GatewayError &&
        err.code === 'KAGE_ERR_GATEWAY_MODEL_NAME' &&
        err.field === field &&
        message.test(err.message),
      JSON.stringify(aliases),
    );
  }
});
