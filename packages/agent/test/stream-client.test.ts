import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Logger } from 'pino';
import {
  createAgentStream,
  SupervisionError,
  type AgentStreamOptions,
  type CommandHandlers,
  type LiveMessages,
} from '../src/index.js';
import type { AgentMessage, CommandResult__Output, ProbeResult__Output } from '@kage/wire';
import {
  createStore,
  createTestCoordinator,
  receivedSeqs,
  waitFor,
  type TestCoordinatorOptions,
} from '@kage/wire/testing';
import { INVENTORY, captureLogger, closeLater, fakeSample, status, tempDir } from './stream-test-fixtures.js';

const TOKEN = 'test-token';
const BOOT = '5d0c1d6e-7a1b-4c2d-8e3f-a4b5c6d7e8f9';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const noCommands: CommandHandlers = {
  service: () => Promise.reject(new Error('no commands expected')),
};

function streamOptions(
  port: number,
  dir: string,
  log: Logger,
  extra: Partial<AgentStreamOptions> = {},
): AgentStreamOptions {
  return {
    url: `127.0.0.1:${port}`,
    token: TOKEN,
    node: 'rog',
    bootId: BOOT,
    agentVersion: '0.1.0-test',
    inventory: INVENTORY,
    services: () => [status('ollama'), { ...status('exo', 'exited'), driver: 'process' }],
    commands: noCommands,
    buffer: { dir },
    log,
    heartbeatIntervalMs: 50,
    welcomeTimeoutMs: 5000,
    backoff: { initialMs: 20, maxMs: 160 },
    ...extra,
  };
}

async function coordinator(t: Parameters<typeof closeLater>[0], options: Partial<TestCoordinatorOptions> = {}) {
  const c = createTestCoordinator({ token: TOKEN, ...options });
  const port = await c.start();
  closeLater(t, () => c.close());
  return { c, port };
}

describe('agent stream', () => {
  test('sends Hello first with the node, boot, inventory and services, then samples and events in seq order', async (t) => {
    const dir = await tempDir(t);
    const { c, port } = await coordinator(t);
    const stream = createAgentStream(streamOptions(port, dir, captureLogger().log));
    closeLater(t, () => stream.close());
    const firstTs = Date.now() - 5000; // within buffer.max_age_s, or it would be dropped as too old
    stream.pushSample(fakeSample(1, firstTs)); // before open: queued, and its GPUs reach Hello
    await stream.open();
    for (let i = 2; i <= 5; i += 1) stream.pushSample(fakeSample(i));
    stream.pushServiceEvent({
      type: 'state',
      service: 'exo',
      from: 'exited',
      to: 'starting',
      reason: 'requested start',
      status: { ...status('exo', 'starting'), driver: 'process' },
    });
    await waitFor(
      () => receivedSeqs(c.store).length === 6 && c.store.heartbeats.length > 0,
      'six records and a heartbeat',
    );

    const hello = c.store.hellos[0];
    assert.ok(hello);
    assert.equal(c.store.beforeHello, 0);
    assert.equal(hello.protocol_version, 1);
    assert.equal(hello.node_id, 'rog');
    assert.equal(hello.boot_id, BOOT);
    assert.equal(hello.agent_version, '0.1.0-test');
    assert.equal(hello.sample_interval_ms, 1000);
    assert.equal(hello.inventory?.hostname, 'rog');
    assert.equal(hello.inventory?.cpu_model, 'AMD RYZEN AI MAX+ 395');
    assert.equal(hello.inventory?.cpu_cores, 32);
    assert.equal(hello.inventory?.cpu_physical_cores, undefined, 'unknown stays unset');
    assert.equal(hello.inventory?.os_release, undefined);
    assert.deepEqual(
      hello.inventory?.gpus.map((g) => [g.id, g.vendor, g.unified_memory, g.gtt_total_bytes]),
      [['card1', 'amd', true, 2048]],
    );
    assert.deepEqual(
      hello.services.map((s) => [s.name, s.driver, s.status?.state, s.status?.pid]),
      [
        ['ollama', 'systemd', 'running', 4242],
        ['exo', 'process', 'exited', undefined],
      ],
    );

    assert.deepEqual(receivedSeqs(c.store), range(1, 6));
    assert.deepEqual(
      c.store.samples.map((s) => s.tick),
      range(1, 5),
    );
    const first = c.store.samples[0];
    assert.ok(first);
    assert.equal(first.ts_ms, firstTs);
    assert.equal(first.cpu_pct, undefined, 'unknown CPU % is unset, not 0');
    assert.equal(c.store.samples[1]?.cpu_pct, 2);
    assert.deepEqual(
      first.per_core.map((p) => p.busy_pct),
      [undefined, 12.5],
    );
    assert.equal(first.load15, 0, 'a known zero stays 0');
    assert.equal(first.swap_total_bytes, undefined);
    assert.equal(first.mem_used_bytes, 1_000_000);
    assert.deepEqual(
      first.net?.interfaces.map((n) => [n.iface, n.rx_bps, n.tx_bps]),
      [['eth0', undefined, 160]],
    );
    assert.equal(first.gpus[0]?.busy_pct, undefined);
    assert.equal(first.gpus[0]?.power_w, 31.5);
    assert.equal(first.temps[0]?.celsius, 55.5);
    assert.deepEqual(
      first.services.map((s) => [s.name, s.cpu_pct, s.rss_bytes, s.source]),
      [['ollama', 3, 4096, 'cgroup']],
    );

    const event = c.store.events[0];
    assert.ok(event);
    assert.deepEqual(
      [event.seq, event.kind, event.service, event.from_state, event.to_state, event.reason, event.status?.state],
      [6, 'state', 'exo', 'exited', 'starting', 'requested start', 'starting'],
    );
    assert.ok(event.ts_ms > 0);

    await waitFor(() => stream.status().ackedSeq === 6, 'acks to reach the agent');
    assert.equal(stream.status().state, 'connected');
    assert.equal(stream.status().buffer.buffered_records, 0, 'acked records are deleted');
    const heartbeat = c.store.heartbeats.at(-1);
    assert.ok(heartbeat && heartbeat.last_seq >= 1);
  });

  test('a coordinator crash and restart on the same port loses and duplicates nothing', async (t) => {
    const dir = await tempDir(t);
    const store = createStore();
    // Acks only every third message, so some records are received but unacknowledged at the crash.
    const { c: first, port } = await coordinator(t, { store, ackEvery: 3 });
    const stream = createAgentStream(streamOptions(port, dir, captureLogger().log));
    closeLater(t, () => stream.close());
    await stream.open();
    for (let i = 1; i <= 10; i += 1) stream.pushSample(fakeSample(i));
    await waitFor(() => receivedSeqs(store).length === 10, 'the first ten samples');

    first.stop(); // forceShutdown: every call dies at once
    for (let i = 11; i <= 20; i += 1) stream.pushSample(fakeSample(i));
    await waitFor(() => stream.status().state !== 'connected', 'the agent to notice');

    const second = createTestCoordinator({ token: TOKEN, store, ackEvery: 3 });
    closeLater(t, () => second.close());
    assert.equal(await second.start(port), port);
    await waitFor(() => receivedSeqs(store).length >= 20, 'the replay');
    for (let i = 21; i <= 25; i += 1) stream.pushSample(fakeSample(i));
    await waitFor(() => receivedSeqs(store).length >= 25, 'live samples after the replay');

    // A graceful restart (tryShutdown) this time.
    await second.close();
    for (let i = 26; i <= 30; i += 1) stream.pushSample(fakeSample(i));
    const third = createTestCoordinator({ token: TOKEN, store, ackEvery: 3 });
    closeLater(t, () => third.close());
    await third.start(port);
    await waitFor(() => receivedSeqs(store).length >= 30, 'the second replay');

    assert.deepEqual(receivedSeqs(store), range(1, 30), 'every seq exactly once, in order');
    assert.deepEqual(
      store.samples.map((s) => s.tick),
      range(1, 30),
    );
    assert.ok(store.hellos.length >= 3);
    assert.ok(store.hellos.every((h) => h.boot_id === BOOT));
    assert.ok(stream.status().connects >= 3);
  });

  test('a wrong token is refused with UNAUTHENTICATED, retried with backoff and logged once per step', async (t) => {
    const dir = await tempDir(t);
    const { c, port } = await coordinator(t);
    const { log, lines } = captureLogger();
    const stream = createAgentStream(
      streamOptions(port, dir, log, { token: 'wrong-token', backoff: { initialMs: 20, maxMs: 80 } }),
    );
    closeLater(t, () => stream.close());
    await stream.open();
    await waitFor(() => c.store.authFailures.length >= 8, 'eight refused attempts');
    await stream.close();

    assert.equal(c.store.accepted, 0);
    assert.equal(stream.status().lastError?.code, 'UNAUTHENTICATED');
    const refusals = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('UNAUTHENTICATED'));
    // Steps with ceilings 20, 40 and 80 ms: three lines however many attempts were made.
    assert.equal(refusals.length, 3, JSON.stringify(refusals));
    assert.ok(refusals.every((l) => l.level === 50 && l.code === 'UNAUTHENTICATED'));
    assert.deepEqual(
      refusals.map((l) => l.attempt),
      [1, 2, 3],
    );
    // Once capped, attempts are at least ceiling/2 = 40 ms apart (loose bound for a busy machine).
    const times = c.store.authFailures;
    const cappedGaps = times.slice(4).map((at, i) => at - (times[i + 3] as number));
    assert.ok(
      cappedGaps.every((gap) => gap >= 35),
      `gaps ${cappedGaps.join(', ')}`,
    );
  });

  test('commands reach the handlers and their results come back, errors included', async (t) => {
    const dir = await tempDir(t);
    const { c, port } = await coordinator(t);
    const calls: string[] = [];
    const commands: CommandHandlers = {
      service: (service, action) => {
        if (service !== 'ollama') {
          return Promise.reject(
            new SupervisionError('KAGE_ERR_AGENT_SERVICE_UNKNOWN', `service "${service}" is not configured`),
          );
        }
        calls.push(`${service}:${action}`);
        return Promise.resolve(status(service, action === 'stop' ? 'exited' : 'running'));
      },
      probe: (request) =>
        Promise.resolve({
          protocol: request.target_kind,
          model: request.model,
          num_ctx: request.num_ctx,
          ttft_ms: 12.5,
        }),
    };
    const stream = createAgentStream(streamOptions(port, dir, captureLogger().log, { commands }));
    closeLater(t, () => stream.close());
    await stream.open();

    const start = (await c.sendCommand({
      id: 'c1',
      service_action: { service: 'ollama', action: 'START' },
    })) as CommandResult__Output;
    assert.equal(start.ok, true);
    assert.equal(start.status?.state, 'running');
    assert.equal(start.status?.pid, 4242);

    const stop = (await c.sendCommand({
      id: 'c2',
      service_action: { service: 'ollama', action: 'STOP' },
    })) as CommandResult__Output;
    assert.equal(stop.ok, true);
    assert.equal(stop.status?.state, 'exited');
    assert.equal(stop.status?.pid, undefined);

    const unknown = (await c.sendCommand({
      id: 'c3',
      service_action: { service: 'postgres', action: 'START' },
    })) as CommandResult__Output;
    assert.equal(unknown.ok, false);
    assert.equal(unknown.error?.code, 'KAGE_ERR_AGENT_SERVICE_UNKNOWN');
    assert.match(unknown.error?.message ?? '', /postgres/);
    assert.equal(unknown.status, null);

    const badAction = (await c.sendCommand({
      id: 'c4',
      service_action: { service: 'ollama', action: 'ACTION_UNSPECIFIED' },
    })) as CommandResult__Output;
    assert.equal(badAction.ok, false);
    assert.equal(badAction.error?.code, 'KAGE_ERR_AGENT_ACTION_UNKNOWN');
    const futureAction = (await c.sendCommand({
      id: 'c5',
      service_action: { service: 'ollama', action: 9 as unknown as 'START' },
    })) as CommandResult__Output;
    assert.equal(futureAction.error?.code, 'KAGE_ERR_AGENT_ACTION_UNKNOWN');

    const empty = (await c.sendCommand({ id: 'c6' })) as CommandResult__Output;
    assert.equal(empty.error?.code, 'KAGE_ERR_AGENT_COMMAND_INVALID');

    const probe = (await c.sendCommand({
      id: 'p1',
      run_probe: {
        target_kind: 'ollama',
        url: 'http://127.0.0.1:11434',
        model: 'llama3.2:1b',
        prompt: 'hi',
        max_tokens: 8,
      },
    })) as ProbeResult__Output;
    assert.equal(probe.ok, true);
    assert.deepEqual(JSON.parse(probe.metrics_json), {
      protocol: 'ollama',
      model: 'llama3.2:1b',
      num_ctx: null,
      ttft_ms: 12.5,
    });

    // A repeated id is answered again from memory: the service is not started twice.
    const before = c.store.results.length;
    await c.sendCommand({ id: 'c1', service_action: { service: 'ollama', action: 'START' } });
    await waitFor(() => c.store.results.length === before + 1, 'the repeated answer');
    assert.deepEqual(calls, ['ollama:start', 'ollama:stop']);
  });

  test('live state (loaded models) is sent after Welcome and on each change, never buffered, and again after a reconnect', async (t) => {
    const dir = await tempDir(t);
    const store = createStore();
    const { c: first, port } = await coordinator(t, { store });
    let current: AgentMessage | null = null;
    const listeners = new Set<(m: AgentMessage) => void>();
    const live: LiveMessages = {
      current: () => current,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const say = (names: string[]): void => {
      current = {
        loaded_models: {
          ts_ms: Date.now(),
          services: [{ service: 'ollama', api: 'ollama', models: names.map((name) => ({ name })) }],
        },
      };
      for (const listener of listeners) listener(current);
    };
    say(['qwen2.5:3b']);
    const stream = createAgentStream(streamOptions(port, dir, captureLogger().log, { live }));
    closeLater(t, () => stream.close());
    await stream.open();
    await waitFor(() => store.loadedModels.length === 1, 'the state after Welcome');
    const names = (i: number) => store.loadedModels[i]?.services[0]?.models.map((m) => m.name);
    assert.deepEqual(names(0), ['qwen2.5:3b']);
    say(['qwen2.5:3b', 'llama3.2:1b']);
    await waitFor(() => store.loadedModels.length === 2, 'the change');
    assert.deepEqual(names(1), ['qwen2.5:3b', 'llama3.2:1b']);

    // Changes while the coordinator is away are not queued: the reconnect sends the state as it is then.
    first.stop();
    await waitFor(() => stream.status().state !== 'connected', 'the stream to notice');
    say([]);
    say(['llama3.2:1b']);
    const second = createTestCoordinator({ token: TOKEN, store });
    closeLater(t, () => second.close());
    await second.start(port);
    await waitFor(() => store.loadedModels.length === 3, 'the state after the reconnect');
    assert.deepEqual(names(2), ['llama3.2:1b']);
    assert.equal(store.loadedModels.length, 3, 'nothing buffered from the time away');
    assert.equal(receivedSeqs(store).length, 0, 'live state takes no buffer seq');
    assert.equal(listeners.size, 1, 'the ended session unsubscribed');
  });

  test('records buffered while the coordinator is away survive an agent restart and replay once', async (t) => {
    const dir = await tempDir(t);
    const store = createStore();
    // Never acks: what the first coordinator received is known only from its Welcome later.
    const { c: first, port } = await coordinator(t, { store, ackEvery: 0 });
    const agent1 = createAgentStream(streamOptions(port, dir, captureLogger().log));
    await agent1.open();
    for (let i = 1; i <= 5; i += 1) agent1.pushSample(fakeSample(i));
    await waitFor(() => receivedSeqs(store).length === 5, 'the first five samples');
    first.stop();
    for (let i = 6; i <= 8; i += 1) agent1.pushSample(fakeSample(i));
    await agent1.close();
    assert.equal(agent1.status().lastSeq, 8);

    // A new agent process: same buffer directory, same boot.
    const agent2 = createAgentStream(streamOptions(port, dir, captureLogger().log));
    closeLater(t, () => agent2.close());
    await agent2.open();
    for (let i = 9; i <= 10; i += 1) agent2.pushSample(fakeSample(i));
    assert.equal(agent2.status().lastSeq, 10);

    const second = createTestCoordinator({ token: TOKEN, store, ackEvery: 1 });
    closeLater(t, () => second.close());
    await second.start(port);
    await waitFor(() => receivedSeqs(store).length >= 10, 'the replay');
    await waitFor(() => agent2.status().ackedSeq === 10, 'the acks');

    assert.deepEqual(receivedSeqs(store), range(1, 10));
    assert.deepEqual(
      store.samples.map((s) => s.tick),
      range(1, 10),
    );
    const hello = store.hellos.at(-1);
    assert.equal(hello?.last_seq, 10);
    assert.equal(hello?.buffer?.buffered_records, 10, 'nothing was acked before this Hello');
    assert.equal(agent2.status().buffer.buffered_records, 0);
  });
  test('a Welcome that refuses the agent ends the call; nothing is streamed and the agent retries', async (t) => {
    const dir = await tempDir(t);
    const { c, port } = await coordinator(t, {
      welcome: { accepted: false, reason: 'node rog is not allowed for this token' },
    });
    const { log, lines } = captureLogger();
    const stream = createAgentStream(streamOptions(port, dir, log));
    closeLater(t, () => stream.close());
    await stream.open();
    for (let i = 1; i <= 3; i += 1) stream.pushSample(fakeSample(i));
    await waitFor(() => c.store.hellos.length >= 3, 'three attempts');
    assert.deepEqual(receivedSeqs(c.store), []);
    assert.deepEqual(stream.status().lastError, {
      code: 'REJECTED',
      details: 'node rog is not allowed for this token',
    });
    assert.equal(stream.status().buffer.buffered_records, 3, 'records stay buffered');
    assert.ok(lines.some((l) => l.msg === 'coordinator refused this agent; retrying' && l.level === 50));
  });

  test('an empty token or one with a newline inside is refused at creation', async (t) => {
    const dir = await tempDir(t);
    for (const token of ['', '  ', 'abc\ndef']) {
      assert.throws(() => createAgentStream(streamOptions(1, dir, captureLogger().log, { token })), {
        code: 'KAGE_ERR_AGENT_STREAM_TOKEN',
      });
    }
  });
  test('drops are counted and reported in Hello and Heartbeat; the coordinator sees the seq gap', async (t) => {
    const dir = await tempDir(t);
    const store = createStore();
    const { c: probe, port } = await coordinator(t, { store });
    probe.stop(); // keep the port, start with the coordinator away
    const stream = createAgentStream(streamOptions(port, dir, captureLogger().log, { buffer: { dir, maxAgeS: 60 } }));
    closeLater(t, () => stream.close());
    await stream.open();
    stream.pushSample(fakeSample(1, Date.now() - 120_000)); // older than max_age_s: dropped
    stream.pushSample(fakeSample(2));
    const c = createTestCoordinator({ token: TOKEN, store });
    closeLater(t, () => c.close());
    await c.start(port);
    await waitFor(() => receivedSeqs(store).length === 1 && store.heartbeats.length > 0, 'the sample and a heartbeat');
    assert.deepEqual(receivedSeqs(store), [2]);
    assert.equal(store.hellos[0]?.buffer?.dropped_age, 1);
    assert.equal(store.hellos[0]?.buffer?.buffered_records, 1);
    assert.equal(store.hellos[0]?.buffer?.oldest_seq, 2);
    assert.equal(store.heartbeats.at(-1)?.buffer?.dropped_age, 1);
    assert.equal(store.heartbeats.at(-1)?.last_seq, 2);
  });
});
