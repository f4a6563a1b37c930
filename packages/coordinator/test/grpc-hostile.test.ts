/**
 * The agents' gRPC gateway against clients that misbehave: no or wrong tokens, lies in Hello,
 * messages out of order, oversized or undecodable bytes, replays, clocks an hour ahead, a second
 * stream of the same node, and agents that never answer or vanish mid-command. The gateway is the
 * real one over a real SQLite file; the clients are raw grpc-js calls (or raw HTTP/2 and TCP).
 *
 * Every test ends the same way: a well-behaved agent that was streaming before the hostile act is
 * still served on its open call and on a new connection, and every record acknowledged to any
 * agent is in the database exactly once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  decodeCoordinatorMessage,
  encodeAgentMessage,
  failureOf,
  http2Call,
  sample,
  startGatewayLab,
  startWitness,
  tcpGarbage,
  until,
  type LogLine,
} from './helpers/grpc-lab.js';

const REFUSAL_LOG = 'agent call refused (logged once a minute per peer)';
const refusals = (logs: readonly LogLine[]): LogLine[] => logs.filter((l) => l['msg'] === REFUSAL_LOG);

test('a missing, malformed or wrong token ends the call with UNAUTHENTICATED before any message', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);

  const cases = [
    { name: 'no authorization entry', agent: lab.agent({ token: null }), details: /missing agent token/ },
    {
      name: 'not a bearer token',
      agent: lab.agent({ authorization: `Basic ${lab.token('srv1')}` }),
      details: /missing/,
    },
    {
      name: 'an unknown token',
      agent: lab.agent({ token: 'not-a-known-token-000000' }),
      details: /unknown agent token/,
    },
    // A token one character off: compared in constant time, refused all the same.
    { name: 'a near miss', agent: lab.agent({ token: `${lab.token('srv1').slice(0, -1)}0` }), details: /unknown/ },
  ];
  for (const c of cases) {
    c.agent.hello();
    c.agent.samples([1]);
    const end = await c.agent.ended();
    assert.equal(end.code, status.UNAUTHENTICATED, `${c.name}: ${status[end.code]} ${end.details}`);
    assert.match(end.details, c.details, c.name);
    assert.deepEqual(c.agent.received, [], `${c.name}: no Welcome, no Ack`);
  }
  assert.equal(lab.gateway.authFailures(), cases.length);
  assert.equal(lab.registry.get('srv1'), null, 'a refused call never registers its node');
  assert.deepEqual(lab.stored('srv1'), [], 'nothing of a refused call is stored');
  await witness.proveServed();
});

test('a token for srv1 with a Hello claiming srv2: Welcome accepted false, the call ends, srv2 stays unregistered', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  const liar = lab.agent({ node: 'srv1' });
  const welcome = await liar.connect({ node_id: 'srv2' });
  assert.equal(welcome.accepted, false);
  assert.match(welcome.reason, /token is for node "srv1", not "srv2"/);
  const end = await liar.ended();
  assert.equal(end.code, status.PERMISSION_DENIED, end.details);
  assert.equal(lab.registry.get('srv2'), null);
  assert.equal(lab.registry.get('srv1'), null);
  assert.equal(lab.gateway.isConnected('srv1') || lab.gateway.isConnected('srv2'), false);
  await witness.proveServed();
});

test('a first message that is not Hello ends the call with INVALID_ARGUMENT and stores nothing', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  const rude = lab.agent();
  rude.samples([1, 2]);
  const end = await rude.ended();
  assert.equal(end.code, status.INVALID_ARGUMENT, end.details);
  assert.match(end.details, /first message of a call must be Hello/);
  assert.deepEqual(rude.received, []);
  assert.deepEqual(lab.stored('srv1'), []);
  assert.equal(lab.registry.get('srv1'), null);
  await witness.proveServed();
});

test('an unsupported protocol_version (or none, or no boot_id) is refused with a reason', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  for (const [hello, reason] of [
    [{ protocol_version: 2 }, /protocol version 2 is not supported \(this coordinator speaks 1\)/],
    [{ protocol_version: 0 }, /protocol version 0 is not supported/],
    [{ boot_id: '' }, /no boot_id/],
  ] as const) {
    const agent = lab.agent();
    const welcome = await agent.connect(hello);
    assert.equal(welcome.accepted, false, JSON.stringify(hello));
    assert.match(welcome.reason, reason);
    assert.equal((await agent.ended()).code, status.PERMISSION_DENIED);
  }
  assert.equal(lab.registry.get('srv1'), null);
  await witness.proveServed();
});

test('a message over max_message_bytes ends that call with RESOURCE_EXHAUSTED; what was acknowledged stays', async (t) => {
  const lab = await startGatewayLab(t, { maxMessageBytes: 64 * 1024 });
  const witness = await startWitness(lab);
  const agent = lab.agent();
  assert.equal((await agent.connect()).accepted, true);
  agent.samples([1, 2, 3]);
  await agent.waitAck(3);
  // Just under the cap passes: the limit is the configured one, not some smaller default.
  const temps = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ chip: 'k10temp', label: `T${i}`.padEnd(200, '.') }));
  agent.samples([4]);
  agent.samples([5], undefined, { temps: temps(250) });
  await agent.waitAck(5);
  // ~400 KiB: far over 64 KiB.
  agent.samples([6], undefined, { temps: temps(2000) });
  const end = await agent.ended();
  assert.equal(end.code, status.RESOURCE_EXHAUSTED, end.details);
  await until('the session of that call to end', () => !lab.gateway.isConnected('srv1'));

  const again = lab.agent();
  const welcome = await again.connect();
  assert.equal(welcome.last_acked_seq, 5, 'the coordinator holds everything it acknowledged');
  again.samples([6, 7]);
  await again.waitAck(7);
  assert.deepEqual(
    lab.stored('srv1').map((r) => r.seq),
    [1, 2, 3, 4, 5, 6, 7],
  );
  await witness.proveServed();
});

test('garbage bytes: undecodable messages, a bogus frame length and non-HTTP/2 junk fail cleanly', async (t) => {
  const lab = await startGatewayLab(t, { maxMessageBytes: 64 * 1024 });
  const witness = await startWitness(lab);

  // An unknown field (15) with wire type 7, which does not exist: never decodes, whatever follows.
  const undecodable = (): Buffer => Buffer.concat([Buffer.from([0x7f]), randomBytes(200)]);
  const first = lab.rawCall();
  first.call.write(undecodable());
  const firstEnd = await first.ended();
  assert.equal(firstEnd.code, status.INTERNAL, firstEnd.details);

  // After a good Hello: the session of the welcomed node ends, and its acknowledged records stay.
  const welcomed = lab.rawCall();
  welcomed.call.write(
    encodeAgentMessage({
      hello: {
        protocol_version: 1,
        node_id: 'srv1',
        boot_id: 'raw-boot',
        agent_version: 'x',
        sample_interval_ms: 1000,
      },
    }),
  );
  welcomed.call.write(encodeAgentMessage({ sample_batch: { samples: [sample(1, Date.now())] } }));
  await welcomed.waitFor('the Ack of seq 1 (raw)', (b) =>
    decodeCoordinatorMessage(b).ack?.seq === 1 ? true : undefined,
  );
  assert.equal(lab.gateway.isConnected('srv1'), true);
  welcomed.call.write(undecodable());
  assert.equal((await welcomed.ended()).code, status.INTERNAL);
  await until('the garbled session to end', () => !lab.gateway.isConnected('srv1'));
  assert.deepEqual(
    lab.stored('srv1').map((r) => r.seq),
    [1],
  );

  // Purely random bytes, many at once: each call ends (how depends on what the bytes happen to
  // decode to: an error, "not a Hello", or a refused Hello), none is welcomed.
  const random = Array.from({ length: 24 }, () => lab.rawCall());
  random.forEach((r, i) => r.call.write(randomBytes(1 + ((i * 37) % 600))));
  for (const r of random) {
    const end = await r.ended();
    assert.notEqual(end.code, status.OK, `random bytes: ${status[end.code]} ${end.details}`);
  }

  // Below grpc-js: a frame that claims 2 GiB is refused from its 5-byte prefix alone.
  const huge = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
  const framed = await http2Call(lab, { headers: { authorization: `Bearer ${lab.token('srv2')}` }, body: huge });
  assert.equal(framed.grpcStatus, status.RESOURCE_EXHAUSTED, JSON.stringify(framed));

  // Not HTTP/2 at all: the server drops the connection.
  await tcpGarbage(lab, randomBytes(4096));
  await tcpGarbage(lab, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));

  assert.equal(lab.gateway.streams(), 1, 'only the witness is connected');
  await witness.proveServed();
});

test('a replay: Welcome says what is held, only newer seqs are stored, the Ack covers the replay', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  const t0 = Date.now() - 60_000;
  const first = lab.agent();
  assert.equal((await first.connect()).last_acked_seq, 0);
  first.samples([1, 2, 3, 4, 5], (seq) => t0 + seq * 1000);
  await first.waitAck(5);
  first.call.end();
  assert.equal((await first.ended()).code, status.OK);

  const second = lab.agent();
  const welcome = await second.connect({ last_seq: 7 });
  assert.equal(welcome.last_acked_seq, 5);
  // An agent that did not drop its acknowledged copies resends 3..5 (with other timestamps).
  const duplicatesBefore = lab.batcher.stats().duplicates;
  second.samples([3, 4, 5, 6, 7], (seq) => t0 + seq * 1000 + 500);
  await second.waitAck(7);
  assert.deepEqual(second.acks(), [7]);
  assert.equal(lab.batcher.stats().duplicates - duplicatesBefore, 3);
  assert.deepEqual(
    lab.stored('srv1'),
    [1, 2, 3, 4, 5, 6, 7].map((seq) => ({ seq, ts_ms: t0 + seq * 1000 + (seq > 5 ? 500 : 0) })),
    'the first copy of 3..5 is kept; 6 and 7 are new',
  );
  assert.equal(lab.store.lastSeq('srv1', second.boot), 7);
  await witness.proveServed();
});

test("a sample from an hour ahead is stored with the agent's time, and the node's clock skew shows it", async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  const agent = lab.agent();
  await agent.connect();
  const ahead = Date.now() + 3_600_000;
  agent.samples([1], () => ahead);
  await agent.waitAck(1);
  assert.deepEqual(lab.stored('srv1'), [{ seq: 1, ts_ms: ahead }]);
  const skew = lab.registry.get('srv1')?.clock_skew_ms ?? null;
  assert.ok(skew !== null && Math.abs(skew - 3_600_000) < 10_000, `clock_skew_ms ${skew}`);
  const warned = lab.logs.filter((l) => /node clock is ahead/.test(String(l['msg'])));
  assert.equal(warned.length, 1);
  await witness.proveServed();
});

test('a second Hello of the same node on a new call replaces the old call; commands go to the new one', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  const old = lab.agent();
  await old.connect();
  old.samples([1, 2]);
  await old.waitAck(2);
  // A command in flight on the old call when it is replaced is lost, not answered later.
  const inFlight = lab.gateway.serviceAction('srv1', 'ollama', 'restart');
  const inFlightOutcome = failureOf(inFlight);
  await old.nextCommand();

  const fresh = lab.agent();
  const welcome = await fresh.connect();
  assert.equal(welcome.accepted, true);
  assert.equal(welcome.last_acked_seq, 2);
  const oldEnd = await old.ended();
  assert.equal(oldEnd.code, status.CANCELLED);
  assert.match(oldEnd.details, /replaced by a newer stream/);
  const { error: lost } = await inFlightOutcome;
  assert.equal(lost.code, 'KAGE_ERR_COMMAND_LOST');
  assert.match(lost.message, /replaced by a newer stream/, 'the error says why the stream ended');
  // The old call's end must not take the new session with it.
  assert.equal(lab.gateway.isConnected('srv1'), true);
  assert.equal(lab.gateway.streams(), 2, 'srv1 once, and the witness');

  const action = lab.gateway.serviceAction('srv1', 'ollama', 'restart');
  const command = await fresh.nextCommand();
  assert.equal(command.service_action?.action, 'RESTART');
  fresh.answer(command);
  const result = await action;
  assert.equal(result.ok, true);
  assert.equal(result.service?.restarts, 1);
  assert.equal(old.received.filter((m) => m.body === 'command').length, 1, 'the old call saw only its own');
  fresh.samples([3]);
  await fresh.waitAck(3);
  await witness.proveServed();
});

test('commands: offline fails fast, a vanished stream loses it, silence times it out', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  /** The command failed with `code` within a second of `since` (the default deadline is 60 s). */
  const failsFast = async (failure: ReturnType<typeof failureOf>, code: string, since: number): Promise<void> => {
    const { error, at } = await failure;
    assert.equal(error.code, code, error.message);
    assert.ok(at - since < 1000, `${code} after ${at - since} ms`);
  };
  let since = Date.now();
  await failsFast(failureOf(lab.gateway.serviceAction('srv2', 'ollama', 'start')), 'KAGE_ERR_NODE_OFFLINE', since);
  await failsFast(failureOf(lab.gateway.serviceAction('nobody', 'ollama', 'start')), 'KAGE_ERR_NODE_UNKNOWN', since);
  const probe = {
    target_kind: 'ollama',
    url: 'http://127.0.0.1:1',
    model: 'm',
    prompt: 'p',
    max_tokens: 1,
    timeout_ms: 1000,
  } as const;
  await failsFast(failureOf(lab.gateway.runProbe('srv2', probe)), 'KAGE_ERR_NODE_OFFLINE', since);

  // The stream is cancelled while the command waits: lost.
  const cancelled = lab.agent();
  await cancelled.connect();
  const lost = failureOf(lab.gateway.serviceAction('srv1', 'ollama', 'stop'));
  await cancelled.nextCommand();
  since = Date.now();
  cancelled.call.cancel();
  await failsFast(lost, 'KAGE_ERR_COMMAND_LOST', since);
  await until('srv1 offline', () => !lab.gateway.isConnected('srv1'));
  since = Date.now();
  await failsFast(failureOf(lab.gateway.serviceAction('srv1', 'ollama', 'start')), 'KAGE_ERR_NODE_OFFLINE', since);

  // The agent half-closes instead: lost as well.
  const closing = lab.agent();
  await closing.connect();
  const lostToo = failureOf(lab.gateway.runProbe('srv1', probe));
  assert.equal((await closing.nextCommand()).kind, 'run_probe');
  since = Date.now();
  closing.call.end();
  await failsFast(lostToo, 'KAGE_ERR_COMMAND_LOST', since);
  assert.equal((await closing.ended()).code, status.OK);

  // The agent never answers: timed out; its late answer is dropped and the stream goes on.
  const silent = lab.agent();
  await silent.connect();
  since = Date.now();
  const unanswered = failureOf(lab.gateway.serviceAction('srv1', 'ollama', 'stop', { timeoutMs: 200 }));
  const late = await silent.nextCommand();
  const timedOut = await unanswered;
  assert.equal(timedOut.error.code, 'KAGE_ERR_COMMAND_TIMEOUT', timedOut.error.message);
  assert.ok(timedOut.at - since >= 190, `not before its deadline (${timedOut.at - since} ms)`);
  silent.answer(late);
  const next = lab.gateway.serviceAction('srv1', 'ollama', 'start');
  const command = await silent.nextCommand();
  assert.notEqual(command.id, late.id);
  silent.answer(command);
  assert.equal((await next).ok, true);
  // The agent's own refusal comes back as a result, not as an error.
  const refused = lab.gateway.serviceAction('srv1', 'ollama', 'start');
  silent.answer(await silent.nextCommand(), false);
  assert.deepEqual((await refused).error, { code: 'KAGE_ERR_TEST', message: 'refused by the test agent' });
  assert.equal(lab.gateway.isConnected('srv1'), true);
  await witness.proveServed();
});

test('refused calls are logged once a minute per peer address, and all counted', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  for (const token of [null, 'wrong-token-0000000000', 'wrong-token-0000000001']) {
    const a = lab.agent({ token });
    a.hello();
    assert.equal((await a.ended()).code, status.UNAUTHENTICATED);
  }
  assert.equal(refusals(lab.logs).length, 1, 'three refusals from 127.0.0.1, one line');
  assert.equal(refusals(lab.logs)[0]?.['peer'], '127.0.0.1');
  assert.equal(refusals(lab.logs)[0]?.['details'], 'missing agent token (authorization: Bearer <token>)');

  if (process.platform === 'linux') {
    // Another source address on the loopback network is another peer: its own line.
    for (let i = 0; i < 2; i++) {
      const r = await http2Call(lab, {
        localAddress: '127.0.0.2',
        headers: { authorization: 'Bearer nope-nope-nope' },
      });
      assert.equal(r.grpcStatus, status.UNAUTHENTICATED);
    }
    assert.deepEqual(
      refusals(lab.logs).map((l) => l['peer']),
      ['127.0.0.1', '127.0.0.2'],
    );
  }

  // A minute later the same peer is logged again.
  const realNow = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => realNow() + 61_000);
  const later = lab.agent({ token: 'wrong-token-0000000002' });
  later.hello();
  assert.equal((await later.ended()).code, status.UNAUTHENTICATED);
  t.mock.restoreAll();
  assert.equal(refusals(lab.logs).filter((l) => l['peer'] === '127.0.0.1').length, 2);
  assert.equal(lab.gateway.authFailures(), process.platform === 'linux' ? 6 : 4);
  await witness.proveServed();
});

test('refusals from an IPv6 peer are logged once a minute as well (the port is not part of the peer)', async (t) => {
  const lab = await startGatewayLab(t, { host: '::1' }).catch((err: Error) => err);
  if (lab instanceof Error) {
    t.skip(`no IPv6 loopback here: ${lab.message}`);
    return;
  }
  for (let i = 0; i < 3; i++) {
    const a = lab.agent({ token: 'wrong-token-0000000000' });
    a.hello();
    assert.equal((await a.ended()).code, status.UNAUTHENTICATED);
  }
  assert.deepEqual(
    refusals(lab.logs).map((l) => l['peer']),
    ['::1'],
  );
  const witness = await startWitness(lab);
  await witness.proveServed();
});

test('impossible values: an unrepresentable time ends that call; a byte count beyond 2^53 is stored as unknown', async (t) => {
  const lab = await startGatewayLab(t);
  const witness = await startWitness(lab);
  const far = lab.agent();
  await far.connect();
  far.samples([1], () => 9e15);
  const ended = await far.ended();
  assert.equal(ended.code, status.INVALID_ARGUMENT, ended.details);
  assert.deepEqual(lab.stored('srv1'), [], 'nothing of the refused batch is stored');

  // Sharing one commit with the witness: the odd value must not fail the witness's records.
  const huge = lab.agent();
  await huge.connect();
  huge.samples([1, 2], undefined, { mem_used_bytes: 2 ** 60 });
  await huge.waitAck(2);
  assert.deepEqual(
    lab.stored('srv1').map((r) => r.seq),
    [1, 2],
  );
  assert.equal(lab.registry.get('srv1')?.latest?.mem_used_bytes, null, 'unknown, not a wrong number');
  await witness.proveServed();
});
