/**
 * Timing accuracy: the scripted server emits tokens on a known schedule and stamps each write on
 * the same monotonic clock as the client. Client times must never precede the server's write and
 * must follow it closely; rates must match the server-side truth. Bounds are relative to what the
 * server actually did (not to the nominal schedule), so a loaded machine cannot make them flake.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import {
  createExoClient,
  createOllamaClient,
  createOpenAiClient,
  type ProtocolClient,
  type RequestMetrics,
} from '../src/index.js';
import {
  hrMs,
  ndjsonHead,
  ollamaChunk,
  ollamaDone,
  openaiChunk,
  sleep,
  sseData,
  sseHead,
  startScriptedServer,
  write,
} from './helpers/scripted-server.js';

const PREFILL_MS = 150;
const GAP_MS = 40;
const TOKENS = 11;
/** Receiving a local write takes well under this, even on a busy 2-core machine. */
const DELIVERY_SLACK_MS = 60;
/** Clock values are truncated to microseconds on both sides. */
const EPS_MS = 0.01;

type Protocol = 'ollama' | 'openai' | 'exo';

/** Server write stamps per request, keyed by the prompt the request carried. */
async function scheduled(
  t: TestContext,
  protocol: Protocol,
): Promise<{ client: ProtocolClient; writes: Map<string, number[]> }> {
  const writes = new Map<string, number[]>();
  const server = await startScriptedServer(async (req, res: ServerResponse) => {
    const stamps: number[] = [];
    writes.set((req.body as { messages: Array<{ content: string }> }).messages[0]?.content ?? '', stamps);
    if (protocol === 'ollama') ndjsonHead(res);
    else sseHead(res);
    if (protocol !== 'ollama') await write(res, openaiChunk({ role: 'assistant' }));
    if (protocol === 'exo') await write(res, ': keep-alive\n\n');
    await sleep(PREFILL_MS);
    for (let i = 0; i < TOKENS; i++) {
      if (i > 0) await sleep(GAP_MS);
      const text = protocol === 'ollama' ? ollamaChunk(`t${i}`) : openaiChunk({ content: `t${i}` });
      stamps.push(hrMs());
      await write(res, text);
    }
    if (protocol === 'ollama') res.end(ollamaDone({ eval_count: TOKENS, eval_duration: TOKENS * GAP_MS * 1e6 }));
    else {
      await write(
        res,
        sseData({ choices: [], usage: { prompt_tokens: 5, completion_tokens: TOKENS, total_tokens: 5 + TOKENS } }),
      );
      res.end(sseData('[DONE]'));
    }
  });
  t.after(() => server.close());
  const client =
    protocol === 'ollama'
      ? createOllamaClient({ url: server.url })
      : protocol === 'openai'
        ? createOpenAiClient({ url: server.url })
        : createExoClient({ url: server.url, nodes: ['a'] });
  t.after(() => client.close());
  return { client, writes };
}

function checkAgainstServer(m: RequestMetrics, stamps: number[]): void {
  assert.equal(m.success, true, JSON.stringify(m.error));
  assert.equal(m.token_offsets_ms.length, TOKENS);
  assert.equal(stamps.length, TOKENS);
  m.token_offsets_ms.forEach((offset, i) => {
    const seen = m.t_send_ms + offset;
    const written = stamps[i] as number;
    assert.ok(seen >= written - EPS_MS, `token ${i} seen ${seen} before written ${written}`);
    assert.ok(seen - written < DELIVERY_SLACK_MS, `token ${i} seen ${seen - written} ms after written`);
  });
  const first = stamps[0] as number;
  const last = stamps[TOKENS - 1] as number;
  const trueTtft = first - m.t_send_ms;
  assert.ok(m.ttft_ms !== null && m.ttft_ms >= trueTtft - EPS_MS && m.ttft_ms < trueTtft + DELIVERY_SLACK_MS);
  assert.ok(m.ttft_ms >= PREFILL_MS - 2, `TTFT ${m.ttft_ms} includes the ${PREFILL_MS} ms prefill`);
  assert.ok(m.e2e_ms !== null && Math.abs(m.e2e_ms - (m.token_offsets_ms.at(-1) ?? NaN)) < 1e-9);

  const trueTps = ((TOKENS - 1) / (last - first)) * 1000;
  assert.ok(m.decode_tps !== null);
  assert.ok(Math.abs(m.decode_tps - trueTps) / trueTps < 0.15, `decode ${m.decode_tps} vs server truth ${trueTps}`);
  // The server slept ≥ GAP_MS between tokens, so neither rate can beat the schedule by much.
  const nominal = 1000 / GAP_MS;
  assert.ok(trueTps <= nominal * 1.02 && m.decode_tps <= nominal * 1.2, `decode ${m.decode_tps} ≤ ~${nominal}`);
  assert.equal(m.output_tokens, TOKENS);
}

void describe('timing: TTFT and decode rate against a known token schedule', () => {
  for (const protocol of ['ollama', 'openai', 'exo'] as const) {
    void test(`${protocol}: every token time, TTFT, e2e and decode_tps match the server's writes`, async (t) => {
      const { client, writes } = await scheduled(t, protocol);
      const m = await client.chat({ model: 'm', prompt: 'p', maxTokens: TOKENS, timeoutMs: 10_000 });
      checkAgainstServer(m, writes.get('p') ?? []);
      if (protocol !== 'ollama')
        assert.ok(m.ttfb_ms !== null && m.ttfb_ms < (m.ttft_ms ?? 0), 'role chunk ≠ first token');
    });
  }

  void test('two concurrent streams are each timed exactly', async (t) => {
    const { client, writes } = await scheduled(t, 'openai');
    const [a, b] = await Promise.all([
      client.chat({ model: 'm', prompt: 'first', maxTokens: TOKENS, timeoutMs: 10_000 }),
      client.chat({ model: 'm', prompt: 'second', maxTokens: TOKENS, timeoutMs: 10_000 }),
    ]);
    assert.ok(a && b);
    assert.equal(writes.size, 2);
    checkAgainstServer(a, writes.get('first') ?? []);
    checkAgainstServer(b, writes.get('second') ?? []);
  });
});
