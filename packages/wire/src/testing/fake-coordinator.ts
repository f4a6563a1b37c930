/**
 * A small fake coordinator for tests of agents: a real grpc-js server on 127.0.0.1 speaking
 * `kage.v1.AgentGateway` from the same .proto, with its own seq bookkeeping. Its store outlives
 * the server, so a test can stop it and start a new one on the same port, like a coordinator
 * restart.
 */
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { loadContract } from '../load-contract.js';
import type {
  AgentMessage__Output,
  Command,
  CommandResult__Output,
  CoordinatorMessage,
  Hello__Output,
  Heartbeat__Output,
  LoadedModels__Output,
  ProbeResult__Output,
  Sample__Output,
  ServiceEvent__Output,
  Welcome,
} from '../index.js';

type Call = ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>;

/** What the coordinator received, across server restarts. */
export interface CoordinatorStore {
  /** Every seq received per `node/boot`, in arrival order, duplicates included. */
  seqs: Map<string, number[]>;
  hellos: Hello__Output[];
  samples: Sample__Output[];
  events: ServiceEvent__Output[];
  heartbeats: Heartbeat__Output[];
  /** Every LoadedModels, in arrival order. */
  loadedModels: LoadedModels__Output[];
  results: Array<CommandResult__Output | ProbeResult__Output>;
  /** Calls refused for a wrong token, with the time of each. */
  authFailures: number[];
  /** Calls accepted (Welcome sent). */
  accepted: number;
  /** Messages received before Hello on a call (must stay 0). */
  beforeHello: number;
}

export function createStore(): CoordinatorStore {
  return {
    seqs: new Map(),
    hellos: [],
    samples: [],
    events: [],
    heartbeats: [],
    loadedModels: [],
    results: [],
    authFailures: [],
    accepted: 0,
    beforeHello: 0,
  };
}

export interface TestCoordinatorOptions {
  token: string;
  store?: CoordinatorStore;
  /** Ack after every Nth buffered message (0: never ack). @default 1 */
  ackEvery?: number;
  /** Fields merged into every Welcome. */
  welcome?: Partial<Welcome>;
  /** @default insecure */
  credentials?: ServerCredentials;
}

export interface TestCoordinator {
  readonly store: CoordinatorStore;
  /** Binds 127.0.0.1:`port` (0: any) and returns the bound port. */
  start(port?: number): Promise<number>;
  /** Sends a command on the newest call and waits for its result. */
  sendCommand(command: Command, timeoutMs?: number): Promise<CommandResult__Output | ProbeResult__Output>;
  /** Kills the server and every call at once (a crash). */
  stop(): void;
  close(): Promise<void>;
}

/** Polls `predicate` every 10 ms until it holds or `timeoutMs` runs out (then throws `what`). */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The seqs received for the only node/boot in the store. */
export function receivedSeqs(store: CoordinatorStore): number[] {
  const all = [...store.seqs.values()];
  return all.length === 0 ? [] : (all[0] as number[]);
}

export function createTestCoordinator(options: TestCoordinatorOptions): TestCoordinator {
  const store = options.store ?? createStore();
  const ackEvery = options.ackEvery ?? 1;
  const proto = loadContract();
  let server: Server | null = null;
  const calls = new Set<Call>();
  let newest: Call | null = null;

  function handle(call: Call): void {
    if (call.metadata.get('authorization')[0] !== `Bearer ${options.token}`) {
      store.authFailures.push(Date.now());
      call.emit('error', { code: status.UNAUTHENTICATED, details: 'unknown agent token' });
      return;
    }
    calls.add(call);
    let key: string | null = null;
    let buffered = 0;
    const record = (seq: number): void => {
      const list = store.seqs.get(key as string) ?? [];
      list.push(seq);
      store.seqs.set(key as string, list);
    };
    const maybeAck = (): void => {
      buffered += 1;
      if (ackEvery > 0 && buffered % ackEvery === 0) {
        const list = store.seqs.get(key as string) ?? [];
        call.write({ ack: { seq: Math.max(0, ...list) } });
      }
    };
    call.on('data', (message: AgentMessage__Output) => {
      if (key === null && message.body !== 'hello') {
        store.beforeHello += 1;
        return;
      }
      switch (message.body) {
        case 'hello': {
          const hello = message.hello as Hello__Output;
          store.hellos.push(hello);
          key = `${hello.node_id}/${hello.boot_id}`;
          const list = store.seqs.get(key) ?? [];
          store.accepted += 1;
          newest = call;
          call.write({ welcome: { accepted: true, last_acked_seq: Math.max(0, ...list), ...options.welcome } });
          return;
        }
        case 'sample_batch':
          for (const sample of message.sample_batch?.samples ?? []) {
            store.samples.push(sample);
            record(sample.seq);
          }
          maybeAck();
          return;
        case 'service_event':
          store.events.push(message.service_event as ServiceEvent__Output);
          record((message.service_event as ServiceEvent__Output).seq);
          maybeAck();
          return;
        case 'heartbeat':
          store.heartbeats.push(message.heartbeat as Heartbeat__Output);
          return;
        case 'loaded_models':
          store.loadedModels.push(message.loaded_models as LoadedModels__Output);
          return;
        case 'command_result':
          store.results.push(message.command_result as CommandResult__Output);
          return;
        case 'probe_result':
          store.results.push(message.probe_result as ProbeResult__Output);
          return;
        case undefined:
          return;
      }
    });
    call.on('end', () => {
      calls.delete(call);
      if (newest === call) newest = null;
      call.end();
    });
    call.on('error', () => calls.delete(call));
    call.on('cancelled', () => calls.delete(call));
  }

  return {
    store,
    start(port = 0) {
      const s = new Server();
      s.addService(proto.kage.v1.AgentGateway.service, { Connect: handle });
      return new Promise((resolve, reject) => {
        s.bindAsync(`127.0.0.1:${port}`, options.credentials ?? ServerCredentials.createInsecure(), (err, bound) => {
          if (err) return reject(err);
          server = s;
          resolve(bound);
        });
      });
    },
    async sendCommand(command, timeoutMs = 10_000) {
      await waitFor(() => newest !== null, 'a connected agent', timeoutMs);
      (newest as Call).write({ command });
      let found: CommandResult__Output | ProbeResult__Output | undefined;
      await waitFor(
        () => (found = store.results.find((r) => r.command_id === command.id)) !== undefined,
        `result of command ${command.id}`,
        timeoutMs,
      );
      return found as CommandResult__Output | ProbeResult__Output;
    },
    stop() {
      server?.forceShutdown();
      server = null;
      calls.clear();
      newest = null;
    },
    close() {
      const s = server;
      server = null;
      newest = null;
      if (s === null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        // Calls may outlive a graceful shutdown; force after a moment.
        const timer = setTimeout(() => s.forceShutdown(), 500);
        s.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
