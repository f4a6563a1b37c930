import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { runKage, startKage } from './src/kage-process.js';

test('kage emulate ollama prints the bound address and serves the native API', async (t) => {
  const ollama = await startKage(['emulate', 'ollama', '--listen', '127.0.0.1:0', '--deterministic']);
  t.after(() => ollama.stop());
  assert.match(ollama.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(ollama.url, 'http://127.0.0.1:0', 'prints the bound port, not 0');
  const root = await fetch(`${ollama.url}/`);
  assert.equal(root.status, 200);
  assert.equal(await root.text(), 'Ollama is running');
  const tags = (await (await fetch(`${ollama.url}/api/tags`)).json()) as { models: { name: string }[] };
  assert.deepEqual(tags.models.map((m) => m.name).sort(), [
    'llama3.2:1b',
    'llama3.3:70b',
    'qwen2.5-coder:32b',
    'qwen2.5:3b',
  ]);
  assert.equal(await ollama.stop(), 0, 'SIGTERM is a clean exit');
});

test('kage emulate exo reports its --name as the node friendlyName', async (t) => {
  const exo = await startKage(['emulate', 'exo', '--listen', '127.0.0.1:0', '--name', 'lonely', '--deterministic']);
  t.after(() => exo.stop());
  const nodeId = (await (await fetch(`${exo.url}/node_id`)).json()) as string;
  assert.equal(typeof nodeId, 'string');
  const state = (await (await fetch(`${exo.url}/state`)).json()) as {
    nodeIdentities: Record<string, { friendlyName: string }>;
  };
  assert.equal(state.nodeIdentities[nodeId]?.friendlyName, 'lonely');
});

test('bad --listen values exit 64 with a message naming the flag and value', async () => {
  for (const bad of ['localhost', '127.0.0.1:99999', ':80', '[::1:80', 'host name:1']) {
    const result = await runKage(['emulate', 'ollama', '--listen', bad]);
    assert.equal(result.code, 64, `exit code for ${bad}`);
    assert.match(result.stderr, /--listen/, `message for ${bad}`);
    assert.ok(result.stderr.includes(JSON.stringify(bad)), `names the value ${bad}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('unknown flags, bad numbers and unknown profiles are usage errors', async () => {
  const unknown = await runKage(['emulate', 'ollama', '--listen', '127.0.0.1:0', '--bogus']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /unknown option '--bogus'/);

  const badNumber = await runKage(['emulate', 'ollama', '--listen', '127.0.0.1:0', '--num-parallel', 'two']);
  assert.equal(badNumber.code, 64);
  assert.match(badNumber.stderr, /--num-parallel/);

  const profile = await runKage(['emulate', 'exo', '--listen', '127.0.0.1:0', '--hardware', 'cray-1']);
  assert.equal(profile.code, 64);
  assert.match(profile.stderr, /--hardware "cray-1": unknown profile; known: .*cpu-server-ddr4/);

  const model = await runKage(['emulate', 'ollama', '--listen', '127.0.0.1:0', '--models', 'qwen2.5:3b,gpt-9']);
  assert.equal(model.code, 64);
  assert.match(model.stderr, /"gpt-9" is not in the catalogue/);

  const missing = await runKage(['emulate', 'ollama']);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /--listen/);
});

test('a port in use is reported with the address and exit 69', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.after(() => blocker.close());
  const address = blocker.address();
  assert.ok(address && typeof address === 'object');
  const result = await runKage(['emulate', 'ollama', '--listen', `127.0.0.1:${address.port}`]);
  assert.equal(result.code, 69);
  assert.match(result.stderr, new RegExp(`--listen 127\\.0\\.0\\.1:${address.port}: address already in use`));
});
