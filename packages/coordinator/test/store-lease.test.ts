import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { CoordinatorConfig } from '../src/config/coordinator-config.js';
import { createCoordinatorDaemon } from '../src/daemon/coordinator-daemon.js';
import { LEASE_TABLE_SQL } from '../src/store/db-lease.js';
import { openTelemetryStore } from '../src/store/telemetry-store.js';

const log = pino({ level: 'silent' });
const LEASE = { staleAfterMs: 15_000 };

async function tempFile(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-coord-lease-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'kage.db');
}

/** Writes a lease row as another coordinator would, on a file that may hold nothing else. */
function holdAs(file: string, holder: { host: string; pid: number; heartbeatMs: number }): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(LEASE_TABLE_SQL);
    db.prepare(
      `INSERT OR REPLACE INTO coordinator_lease (id, host, pid, started_ms, heartbeat_ms) VALUES (1, ?, ?, ?, ?)`,
    ).run(holder.host, holder.pid, holder.heartbeatMs, holder.heartbeatMs);
  } finally {
    db.close();
  }
}

function inspect(file: string): { tables: string[]; lease: unknown[] } {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .pluck()
      .all() as string[];
    const lease = tables.includes('coordinator_lease')
      ? db.prepare(`SELECT host, pid FROM coordinator_lease`).all()
      : [];
    return { tables, lease };
  } finally {
    db.close();
  }
}

/** Resolves with `promise`, or fails the test after `ms` (a bound on waiting, not a timing check). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` until it holds, or fails the test after `ms`. */
async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  let poll: NodeJS.Timeout | undefined;
  try {
    await within(
      new Promise<void>((resolve) => {
        poll = setInterval(() => {
          if (cond()) resolve();
        }, 10);
      }),
      ms,
      what,
    );
  } finally {
    clearInterval(poll);
  }
}

test('a refused coordinator leaves a file held by another untouched: no schema, no tables', async (t) => {
  const file = await tempFile(t);
  holdAs(file, { host: 'other-host', pid: 4242, heartbeatMs: Date.now() });
  assert.throws(
    () => openTelemetryStore({ path: file, log, lease: LEASE }),
    (err: Error & { code?: string }) =>
      err.code === 'KAGE_ERR_COORDINATOR_DB_IN_USE' && /process 4242 on other-host/.test(err.message),
  );
  assert.deepEqual(inspect(file), {
    tables: ['coordinator_lease'],
    lease: [{ host: 'other-host', pid: 4242 }],
  });
});

test('a stale lease is taken over, then the schema is created', async (t) => {
  const file = await tempFile(t);
  holdAs(file, { host: 'other-host', pid: 4242, heartbeatMs: Date.now() - 60_000 });
  const store = openTelemetryStore({ path: file, log, lease: LEASE });
  t.after(() => store.close());
  const after = inspect(file);
  assert.deepEqual(after.lease, [{ host: hostname(), pid: process.pid }]);
  assert.ok(after.tables.includes('kage_schema') && after.tables.includes('samples'), after.tables.join(' '));
  assert.equal(store.renewLease(), true);
});

test('a file from a newer kage is refused before the lease row is written', async (t) => {
  const file = await tempFile(t);
  const db = new Database(file);
  db.exec(`CREATE TABLE kage_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL) STRICT;
    INSERT INTO kage_schema VALUES ('coordinator', 999, 'x');`);
  db.close();
  assert.throws(() => openTelemetryStore({ path: file, log, lease: LEASE }), { code: 'KAGE_ERR_DB_SCHEMA_NEWER' });
  assert.deepEqual(inspect(file).tables, ['kage_schema']);
});

test('renewLease reports a lease taken over by another coordinator, and release leaves its row alone', async (t) => {
  const file = await tempFile(t);
  const store = openTelemetryStore({ path: file, log, lease: LEASE });
  t.after(() => store.close());
  assert.equal(store.renewLease(), true);
  holdAs(file, { host: 'other-host', pid: 4242, heartbeatMs: Date.now() });
  assert.equal(store.renewLease(), false);
  store.releaseLease();
  assert.deepEqual(inspect(file).lease, [{ host: 'other-host', pid: 4242 }]);
});

test('a store opened without a lease holds none', async (t) => {
  const file = await tempFile(t);
  const store = openTelemetryStore({ path: file, log });
  t.after(() => store.close());
  assert.equal(store.renewLease(), false);
});

function daemonConfig(file: string): CoordinatorConfig {
  return {
    file: join(file, '..', 'coordinator.yaml'),
    grpc: {
      host: '127.0.0.1',
      port: 0,
      tls: null,
      keepaliveTimeMs: 10_000,
      keepaliveTimeoutMs: 5000,
      maxMessageBytes: 4 * 1024 * 1024,
    },
    http: { host: '127.0.0.1', port: 0 },
    db: file,
    agentTokens: new Map(),
    apiToken: 'test-api-token-0123456789',
    retention: { rawHours: 24, minuteDays: 30 },
    gateway: null,
    emulated: false,
  };
}

const ENV = { notifySocket: null, watchdogUsec: null, journalStream: null, stateDirectory: null, logLevel: null };

interface LogLine {
  level: number;
  msg: string;
}

function capturingLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log: logger, lines };
}

test('a daemon whose lease was taken over logs one fatal line and stops through onFatal', async (t) => {
  const file = await tempFile(t);
  const { log: daemonLog, lines } = capturingLog();
  let fatal!: (err: Error) => void;
  const reported = new Promise<Error>((resolve) => (fatal = resolve));
  const calls: Error[] = [];
  const daemon = createCoordinatorDaemon({
    config: daemonConfig(file),
    env: ENV,
    log: daemonLog,
    version: 'test',
    timings: { leaseMs: 20 },
    resumeRuns: false,
    onFatal: (err) => {
      calls.push(err);
      fatal(err);
    },
  });
  t.after(() => daemon.close());
  await daemon.start();
  holdAs(file, { host: 'other-host', pid: 4242, heartbeatMs: Date.now() });
  const err = await within(reported, 10_000, 'onFatal');
  // What the owner (runDaemon) does on a fatal error: close.
  await daemon.close();
  assert.equal((err as Error & { code?: string }).code, 'KAGE_ERR_COORDINATOR_DB_IN_USE');
  assert.match(err.message, /another coordinator took over the database/);
  assert.equal(calls.length, 1);
  const fatalLines = lines.filter((l) => l.level === 60);
  assert.equal(fatalLines.length, 1);
  assert.match(fatalLines[0]?.msg ?? '', /another coordinator took over the database/);
  assert.deepEqual(inspect(file).lease, [{ host: 'other-host', pid: 4242 }], "the new owner's lease is kept");
});

test('without onFatal, a daemon whose lease was taken over closes itself', async (t) => {
  const file = await tempFile(t);
  const { log: daemonLog, lines } = capturingLog();
  const daemon = createCoordinatorDaemon({
    config: daemonConfig(file),
    env: ENV,
    log: daemonLog,
    version: 'test',
    timings: { leaseMs: 20 },
    resumeRuns: false,
  });
  t.after(() => daemon.close());
  await daemon.start();
  holdAs(file, { host: 'other-host', pid: 4242, heartbeatMs: Date.now() });
  await waitUntil(() => lines.some((l) => l.msg === 'coordinator stopped'), 10_000, 'the daemon to stop');
  assert.equal(lines.filter((l) => l.level === 60).length, 1);
});
