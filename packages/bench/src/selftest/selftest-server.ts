/**
 * The selftest's scripted server, run as a child process (`fork`) so it never shares the client's
 * event loop or core. It speaks just enough of Ollama's `/api/chat` (NDJSON) and the OpenAI
 * `/v1/chat/completions` (SSE) for the real clients, follows the token schedule written in the
 * prompt, and reports over IPC the monotonic time (`process.hrtime.bigint()`, CLOCK_MONOTONIC, the
 * same clock the client reads in the parent) taken immediately before each token is written. Those
 * stamps are the ground truth the client's measurements are compared with.
 *
 * Prompt grammar: `selftest id=N ttft=MS itl=MS tokens=K` (scheduled) or
 * `selftest id=N blast tokens=K` (all tokens as fast as the socket takes them).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Messages the server sends to its parent. */
export type SelftestServerMessage =
  | { type: 'listening'; port: number }
  /** Token write stamps (ns, as decimal strings: IPC is JSON) of one finished response. */
  | { type: 'writes'; id: number; writes: string[] };

interface Schedule {
  id: number;
  blast: boolean;
  ttftMs: number;
  itlMs: number;
  tokens: number;
}

function parseSchedule(prompt: string): Schedule | null {
  const m = /selftest id=(\d+)(?: (blast))?(?: ttft=([\d.]+) itl=([\d.]+))? tokens=(\d+)/.exec(prompt);
  if (m === null) return null;
  return {
    id: Number(m[1]),
    blast: m[2] === 'blast',
    ttftMs: Number(m[3] ?? 0),
    itlMs: Number(m[4] ?? 0),
    tokens: Number(m[5]),
  };
}

const MODEL = 'selftest';

/** One token line/event in the protocol's framing, sized like the real servers' (≈ 120–180 bytes). */
function tokenFrame(sse: boolean, i: number): string {
  if (sse) {
    return `data: ${JSON.stringify({
      id: 'chatcmpl-selftest',
      object: 'chat.completion.chunk',
      created: 1730000000,
      model: MODEL,
      choices: [{ index: 0, delta: { content: ` t${i}` }, finish_reason: null }],
    })}\n\n`;
  }
  return `${JSON.stringify({
    model: MODEL,
    created_at: '2026-01-01T00:00:00.000000000Z',
    message: { role: 'assistant', content: ` t${i}` },
    done: false,
  })}\n`;
}

function finalFrames(sse: boolean, tokens: number, evalNs: number): string {
  if (sse) {
    return (
      `data: ${JSON.stringify({
        id: 'chatcmpl-selftest',
        object: 'chat.completion.chunk',
        created: 1730000000,
        model: MODEL,
        choices: [{ index: 0, delta: {}, finish_reason: 'length' }],
      })}\n\n` +
      `data: ${JSON.stringify({
        id: 'chatcmpl-selftest',
        object: 'chat.completion.chunk',
        created: 1730000000,
        model: MODEL,
        choices: [],
        usage: { prompt_tokens: 8, completion_tokens: tokens, total_tokens: tokens + 8 },
      })}\n\n` +
      `data: [DONE]\n\n`
    );
  }
  return `${JSON.stringify({
    model: MODEL,
    created_at: '2026-01-01T00:00:00.000000000Z',
    message: { role: 'assistant', content: '' },
    done_reason: 'length',
    done: true,
    eval_count: tokens,
    eval_duration: Math.max(1, Math.round(evalNs)),
  })}\n`;
}

/** Writes `data` respecting backpressure. */
function writeAll(res: http.ServerResponse, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(new Error('response destroyed'));
      return;
    }
    if (res.write(data)) resolve();
    else res.once('drain', resolve);
  });
}

async function serve(sched: Schedule, sse: boolean, res: http.ServerResponse): Promise<bigint[]> {
  res.writeHead(200, { 'Content-Type': sse ? 'text/event-stream' : 'application/x-ndjson' });
  res.flushHeaders();
  const writes: bigint[] = [];
  if (sse) {
    // A role-only first chunk, as Ollama's /v1 and vLLM send: not a token, must not set TTFT.
    await writeAll(
      res,
      `data: ${JSON.stringify({ id: 'chatcmpl-selftest', object: 'chat.completion.chunk', created: 1730000000, model: MODEL, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`,
    );
  }
  if (sched.blast) {
    // Pre-built frames in 64 KiB writes: the server stays far ahead of the client being measured.
    const body = Buffer.from(Array.from({ length: sched.tokens }, (_, i) => tokenFrame(sse, i)).join(''));
    writes.push(process.hrtime.bigint());
    for (let off = 0; off < body.length; off += 65536) await writeAll(res, body.subarray(off, off + 65536));
    writes.push(process.hrtime.bigint());
  } else {
    await sleep(sched.ttftMs);
    for (let i = 0; i < sched.tokens; i++) {
      if (i > 0) await sleep(sched.itlMs);
      const frame = tokenFrame(sse, i);
      writes.push(process.hrtime.bigint());
      res.write(frame);
    }
  }
  const first = writes[0] ?? 0n;
  const last = writes.at(-1) ?? first;
  res.end(finalFrames(sse, sched.tokens, Number(last - first)));
  return writes;
}

function main(): void {
  const send = (m: SelftestServerMessage): void => {
    process.send?.(m);
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      let prompt = '';
      try {
        const body = JSON.parse(raw) as { messages?: Array<{ content?: string }> };
        prompt = body.messages?.[0]?.content ?? '';
      } catch {
        // answered below as a bad request
      }
      const sched = parseSchedule(prompt);
      const sse = req.url === '/v1/chat/completions';
      if (sched === null || (!sse && req.url !== '/api/chat')) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'not a selftest request' }));
        return;
      }
      serve(sched, sse, res).then(
        (writes) => send({ type: 'writes', id: sched.id, writes: writes.map(String) }),
        () => res.destroy(),
      );
    });
  });
  server.listen(0, '127.0.0.1', () => send({ type: 'listening', port: (server.address() as AddressInfo).port }));
  // The parent owns this process: when it goes, so do we.
  process.on('disconnect', () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  });
}

if (process.send !== undefined) main();
