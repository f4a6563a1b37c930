/**
 * Fault injection: extra latency, slow first token, cut streams, mid-stream errors (native and
 * /v1), injected 500s, the crash fault, and the run-time `/_emulator/faults` control route.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { NO_FAULTS } from '../src/index.js';
import { postJson, readLines, readNdjson, startEmulator } from './ollama-helpers.js';

async function putFaults(url: string, patch: unknown): Promise<Response> {
  return fetch(`${url}/_emulator/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
}

void describe('/_emulator/faults', () => {
  void test('GET shows the knobs, PUT merges a validated patch', async (t) => {
    const emu = await startEmulator(t, { faults: { extraLatencyMs: 5 } });
    assert.deepEqual(await (await fetch(`${emu.url}/_emulator/faults`)).json(), { ...NO_FAULTS, extraLatencyMs: 5 });
    const ok = await putFaults(emu.url, { cutAfterTokens: 3, jitter: 0.1 });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ...NO_FAULTS, extraLatencyMs: 5, cutAfterTokens: 3, jitter: 0.1 });
    const bad = await putFaults(emu.url, { http500Rate: 2, nonsense: 1 });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { errors: string[] };
    assert.deepEqual(body.errors, ['http500Rate: must be between 0 and 1', 'nonsense: unknown fault knob']);
    const notObject = await putFaults(emu.url, [1]);
    assert.equal(notObject.status, 400);
    assert.equal(
      ((await (await fetch(`${emu.url}/_emulator/faults`)).json()) as { cutAfterTokens: number }).cutAfterTokens,
      3,
    );
  });
});

void describe('latency faults', () => {
  void test('extraLatencyMs delays every response', async (t) => {
    const emu = await startEmulator(t, { faults: { extraLatencyMs: 200 } });
    const started = performance.now();
    await (await fetch(`${emu.url}/api/version`)).text();
    assert.ok(performance.now() - started >= 190);
  });

  void test('slowFirstTokenMs delays only the first token', async (t) => {
    const emu = await startEmulator(t, { deterministic: true });
    const slowMs = 600;
    const run = async (): Promise<{ firstTokenMs: number; final: Record<string, number> }> => {
      const started = performance.now();
      const res = await postJson(`${emu.url}/api/generate`, {
        model: 'llama3.2:1b',
        prompt: 'x',
        options: { num_predict: 4 },
      });
      const lines = await readLines(res);
      const final = JSON.parse(lines.at(-1)?.text ?? '{}') as Record<string, number>;
      return { firstTokenMs: (lines[0]?.at ?? 0) - started, final };
    };
    await run(); // warm
    const normal = await run();
    await putFaults(emu.url, { slowFirstTokenMs: slowMs });
    const slow = await run();
    // Lower bounds hold however loaded the machine is: the delay is never cut short.
    assert.ok(slow.firstTokenMs >= slowMs, `first token after ${slow.firstTokenMs} ms`);
    const gap = (f: Record<string, number>): number =>
      (f.total_duration ?? 0) - (f.load_duration ?? 0) - (f.prompt_eval_duration ?? 0) - (f.eval_duration ?? 0);
    assert.ok(gap(slow.final) >= slowMs * 1e6, 'the delay sits before decode, outside the reported phases');
    assert.ok(gap(normal.final) < slowMs * 1e6 * 0.5, 'no delay without the fault');
    // Only the first token: the four tokens (~8 ms of decode here) are not slowed.
    assert.ok(
      (slow.final.eval_duration ?? 0) < slowMs * 1e6 * 0.5,
      `decode took ${(slow.final.eval_duration ?? 0) / 1e6} ms`,
    );
  });
});

void describe('stream faults', () => {
  void test('cutAfterTokens drops the connection after N tokens', async (t) => {
    const emu = await startEmulator(t, { faults: { cutAfterTokens: 2 } });
    const res = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      options: { num_predict: 10 },
    });
    assert.equal(res.status, 200);
    const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
    assert.ok(reader);
    const decoder = new TextDecoder();
    let text = '';
    await assert.rejects(async () => {
      for (let i = 0; i < 100; i += 1) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value);
      }
    });
    assert.equal(text.trim().split('\n').length, 2, 'two token lines, no done line');
    // ollama-js sees a failed stream too.
    const ollama = new Ollama({ host: emu.url });
    await assert.rejects(async () => {
      for await (const part of await ollama.chat({
        model: 'llama3.2:1b',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }))
        void part;
    });
  });

  void test('errorAfterTokens ends a native stream with an error line and no done line', async (t) => {
    const emu = await startEmulator(t, { faults: { errorAfterTokens: 2 } });
    const lines = await readNdjson(
      await postJson(`${emu.url}/api/chat`, { model: 'llama3.2:1b', messages: [{ role: 'user', content: 'x' }] }),
    );
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[2], { error: 'an error was encountered while running the model' });
    assert.ok(!lines.some((l) => l.done === true));
    const plain = await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b', prompt: 'x', stream: false });
    assert.equal(plain.status, 500);
    assert.deepEqual(await plain.json(), { error: 'an error was encountered while running the model' });
    const ollama = new Ollama({ host: emu.url });
    await assert.rejects(
      async () => {
        for await (const part of await ollama.generate({ model: 'llama3.2:1b', prompt: 'x', stream: true })) void part;
      },
      { message: 'an error was encountered while running the model' },
    );
  });

  void test('errorAfterTokens on /v1 ends the stream with an empty model-less chunk (no finish, no [DONE]), or a 500 before streaming', async (t) => {
    const emu = await startEmulator(t, { faults: { errorAfterTokens: 2 } });
    const res = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await res.text();
    assert.ok(!text.includes('[DONE]'), 'no [DONE]');
    const events = text
      .split('\n\n')
      .filter((e) => e !== '')
      .map((e) => {
        assert.ok(e.startsWith('data: '), `an SSE data event: ${e}`);
        return JSON.parse(e.slice('data: '.length)) as Record<string, unknown>;
      });
    // Two content chunks, then the error turned into an ordinary chunk.
    assert.equal(events.length, 3);
    const [first, , last] = events;
    assert.ok(first && last);
    assert.equal(first.model, 'llama3.2:1b');
    // The exact chunk, key for key: id and created as the stream's, model empty, empty content.
    assert.equal(
      JSON.stringify(last),
      JSON.stringify({
        id: first.id,
        object: 'chat.completion.chunk',
        created: first.created,
        model: '',
        system_fingerprint: 'fp_ollama',
        choices: [{ index: 0, delta: { content: '' }, finish_reason: null }],
      }),
    );
    assert.ok(!events.some((e) => 'error' in e || 'usage' in e), 'no error event and no usage chunk');
    await putFaults(emu.url, { errorAfterTokens: 0 });
    const early = await postJson(`${emu.url}/v1/chat/completions`, {
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    assert.equal(early.status, 500);
    assert.equal(((await early.json()) as { error: { type: string } }).error.type, 'api_error');
  });
});

void describe('failure faults', () => {
  void test('http500Rate 1 fails every generation before it starts', async (t) => {
    const emu = await startEmulator(t, { faults: { http500Rate: 1 } });
    const res = await postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b', prompt: 'x' });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'llama-server process has terminated: exit status 2' });
    const old = await startEmulator(t, { version: '0.20.0', faults: { http500Rate: 1 } });
    const oldRes = await postJson(`${old.url}/api/generate`, { model: 'llama3.2:1b', prompt: 'x' });
    assert.deepEqual(await oldRes.json(), { error: 'llama runner process has terminated: exit status 2' });
  });

  void test('crashAfterRequests calls onCrash at the Nth generation and drops that request', async (t) => {
    let crashes = 0;
    const emu = await startEmulator(t, { faults: { crashAfterRequests: 2 }, onCrash: () => (crashes += 1) });
    const first = await postJson(`${emu.url}/api/generate`, {
      model: 'llama3.2:1b',
      prompt: 'x',
      stream: false,
      options: { num_predict: 1 },
    });
    assert.equal(first.status, 200);
    await first.text();
    assert.equal(crashes, 0);
    await assert.rejects(
      postJson(`${emu.url}/api/generate`, { model: 'llama3.2:1b', prompt: 'x' }).then((r) => r.text()),
    );
    assert.equal(crashes, 1);
  });

  void test('the default crash closes the server', async (t) => {
    const emu = await startEmulator(t, { faults: { crashAfterRequests: 1 } });
    await assert.rejects(postJson(`${emu.url}/api/chat`, { model: 'llama3.2:1b', messages: [] }).then((r) => r.text()));
    await assert.rejects(fetch(`${emu.url}/`), 'no longer listening');
  });
});
