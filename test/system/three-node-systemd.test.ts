/**
 * The whole system under a real systemd: three booted containers (srv1, srv2, rog) on a bridge,
 * Kage installed in them by its own deploy scripts from the inventory, then used and broken as a
 * user's lab would be, and rolled back. What only a real PID 1 shows: Type=notify readiness and
 * the watchdog, the unit's sandbox against telemetry and control, the polkit rule, journald
 * priorities, exit code 78 with no restart loop, and systemd restarting what the test kills.
 *
 * Steps depend on each other (a failed install fails everything after it) and share one lab.
 * Skipped, saying why, where systemd containers cannot run (not root, no systemd-nspawn …).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/kage-process.js';
import { containersUnavailable } from '../src/nspawn.js';
import { INVENTORY, LAB_NODES, startSystemdLab, type LabNode, type SystemdLab } from '../src/systemd-lab.js';

const unavailable = await containersUnavailable();
const started = Date.now();
const timings: Array<[step: string, seconds: number]> = [];

interface NodeView {
  id: string;
  status: 'online' | 'offline';
  services: Array<{ name: string; state: string }>;
}
interface RunDetail {
  status: string;
  error: string | null;
  progress: { cells_total: number; cells_done: number; current: { target: string; model: string } | null };
}
interface MetricPoint {
  ts: string;
  resolution: 'raw' | 'minute';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every check runs commands in a container: twice a second is often enough and keeps them cheap. */
const POLL_MS = 500;

/** Steps build on each other: after a failed one the rest are skipped, not failed again. */
let failedStep: string | null = null;
async function step(t: TestContext, name: string, fn: () => Promise<void>): Promise<void> {
  const begin = Date.now();
  await t.test(name, { skip: failedStep === null ? false : `needs "${failedStep}", which failed` }, async () => {
    try {
      await fn();
    } catch (err) {
      failedStep = name;
      throw err;
    }
  });
  timings.push([name, (Date.now() - begin) / 1000]);
}

async function json<T>(lab: SystemdLab, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await lab.api(method, path, body);
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as T;
}

async function nodes(lab: SystemdLab): Promise<NodeView[]> {
  return json<NodeView[]>(lab, 'GET', '/api/v1/nodes');
}

/** Every node online with ollama and exo running, as the coordinator sees them. */
async function allUp(lab: SystemdLab): Promise<NodeView[] | undefined> {
  const seen = await nodes(lab);
  const up = seen.filter(
    (n) =>
      n.status === 'online' &&
      ['ollama', 'exo'].every((s) => n.services.some((v) => v.name === s && v.state === 'running')),
  );
  return up.length === LAB_NODES.length ? seen : undefined;
}

/** EXO's cluster as srv1's EXO sees it: the friendly names of the nodes in its topology. */
async function exoClusterNames(lab: SystemdLab): Promise<string[]> {
  const out = await lab.nodes.srv1.execOk(['curl', '-sS', '--max-time', '5', 'http://127.0.0.1:52415/state']);
  const state = JSON.parse(out) as { nodeIdentities?: Record<string, { friendlyName?: string }> };
  return Object.values(state.nodeIdentities ?? {})
    .map((n) => n.friendlyName ?? '')
    .sort();
}

test(
  'three nodes under systemd: install, operate, faults, rollback',
  { skip: unavailable ?? false, timeout: 20 * 60_000 },
  async (t) => {
    const workDir = await mkdtemp(join(tmpdir(), 'kage-systemd-lab-'));
    let lab: SystemdLab | undefined;
    try {
      const begin = Date.now();
      lab = await startSystemdLab({ workDir, progress: (line) => t.diagnostic(line) });
      timings.push(['boot three containers, emulated Ollama and EXO units', (Date.now() - begin) / 1000]);
      const L = lab;

      await step(t, 'install: coordinator on srv1, agents everywhere; a second run changes nothing', async () => {
        // rog first, while no coordinator runs yet: installed all the same, with a warning.
        const early = await L.deploy('rog', 'install-agent.sh', ['--inventory', INVENTORY, '--node', 'rog']);
        assert.equal(early.code, 0, early.stdout + early.stderr);
        assert.match(early.stdout, /warning: coordinator 10\.231\.250\.11:50551 does not answer yet/);
        const coordinator = await L.deploy('srv1', 'install-coordinator.sh', ['--inventory', INVENTORY]);
        assert.equal(coordinator.code, 0, coordinator.stdout + coordinator.stderr);
        for (const node of ['srv1', 'srv2'] as const) {
          const agent = await L.deploy(node, 'install-agent.sh', ['--inventory', INVENTORY, '--node', node]);
          assert.equal(agent.code, 0, `${node}: ${agent.stdout}${agent.stderr}`);
          assert.match(agent.stdout, /change\(s\) made for the Kage agent/);
          assert.match(agent.stdout, /coordinator 10\.231\.250\.11:50551: reachable/);
        }
        const again = await L.deploy('rog', 'install-agent.sh', ['--inventory', INVENTORY, '--node', 'rog']);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /nothing to change/);
        const secret = await L.nodes.rog.execOk(['stat', '-c', '%a %U', '/etc/kage/agent.token']);
        assert.equal(secret.trim(), '600 kage');
        await waitFor('every node online with ollama and exo running', () => allUp(L), 60_000, POLL_MS);
      });

      await step(t, 'READY, STATUS and the watchdog under the real unit', async () => {
        for (const node of LAB_NODES) {
          const p = await L.nodes[node].unitProperties('kage-agent.service', [
            'ActiveState',
            'SubState',
            'WatchdogUSec',
            'StatusText',
            'NRestarts',
            'User',
          ]);
          assert.equal(p['ActiveState'], 'active', `${node}: ${JSON.stringify(p)}`);
          assert.equal(p['WatchdogUSec'], '30s');
          assert.equal(p['User'], 'kage');
          assert.notEqual(p['StatusText'] ?? '', '', `${node}: the agent sends STATUS= lines`);
        }
        const coordinator = await L.nodes.srv1.unitProperties('kage-coordinator.service', [
          'ActiveState',
          'StatusText',
        ]);
        assert.equal(coordinator['ActiveState'], 'active');
        // Outlive one watchdog period: a missed ping would have killed and restarted the unit.
        const since = await L.nodes.srv1.unitProperties('kage-agent.service', ['ActiveEnterTimestampMonotonic']);
        const uptimeS = async () => {
          const out = await L.nodes.srv1.execOk(['cat', '/proc/uptime']);
          return Number(out.split(' ')[0]);
        };
        const wait = 31 - ((await uptimeS()) - Number(since['ActiveEnterTimestampMonotonic']) / 1e6);
        if (wait > 0) await sleep(wait * 1000);
        for (const node of LAB_NODES) {
          const p = await L.nodes[node].unitProperties('kage-agent.service', ['ActiveState', 'NRestarts']);
          assert.deepEqual(p, { ActiveState: 'active', NRestarts: '0' }, node);
          const journal = await L.nodes[node].execOk(['journalctl', '-u', 'kage-agent', '--no-pager', '-o', 'cat']);
          assert.doesNotMatch(journal, /[Ww]atchdog timeout/, node);
          assert.doesNotMatch(
            journal,
            /Warning: disabling flag/,
            `${node}: Node's flag warning is kept out of the journal`,
          );
        }
      });

      await step(t, 'the sandbox keeps telemetry: samples with CPU and memory from every node', async () => {
        const seen = await nodes(L);
        for (const node of seen) {
          const detail = await json<{ latest: { cpu_pct: number | null; mem_total_bytes: number | null } | null }>(
            L,
            'GET',
            `/api/v1/nodes/${node.id}`,
          );
          assert.ok(detail.latest !== null, `${node.id} has samples`);
          assert.equal(typeof detail.latest.cpu_pct, 'number', `${node.id} cpu`);
          assert.ok((detail.latest.mem_total_bytes ?? 0) > 0, `${node.id} memory`);
        }
        // The installed agent.yaml names where each server's loaded models are read, and the
        // sandboxed unit can read them: every node's Ollama and EXO, none with an error.
        const models = await waitFor(
          'every node reading its servers’ loaded models',
          async () => {
            const view = await json<{ sources: Array<{ node: string; service: string; error: string | null }> }>(
              L,
              'GET',
              '/api/v1/models',
            );
            return view.sources.length === 6 && view.sources.every((x) => x.error === null) ? view : undefined;
          },
          20_000,
          POLL_MS,
        );
        assert.deepEqual(
          models.sources.map((x) => `${x.node}/${x.service}`).sort(),
          LAB_NODES.flatMap((n) => [`${n}/exo`, `${n}/ollama`]).sort(),
        );
      });

      await step(t, 'kage doctor --all on srv1 sees every node through the coordinator', async () => {
        const doctor = await L.nodes.srv1.exec([
          '/usr/bin/node',
          '/opt/kage/packages/cli/dist/src/bin.js',
          'doctor',
          '--all',
          '--coordinator',
          'http://127.0.0.1:7080',
          '--json',
        ]);
        const report = JSON.parse(doctor.stdout) as {
          checks: Array<{ id: string; node?: string; status: string; message: string }>;
        };
        t.diagnostic(
          `kage doctor --all (exit ${doctor.code}):\n${report.checks.map((c) => `${c.status} ${c.node ?? ''} ${c.id}: ${c.message}`).join('\n')}`,
        );
        const online = report.checks.filter((c) => c.id === 'online');
        assert.deepEqual(online.map((c) => [c.node, c.status]).sort(), LAB_NODES.map((n) => [n, 'pass']).sort());
        const ollama = report.checks.filter((c) => c.id === 'ollama');
        assert.equal(ollama.length, 3);
        assert.ok(
          ollama.every((c) => c.status === 'pass'),
          JSON.stringify(ollama),
        );
      });

      await step(t, 'polkit: the agent restarts ollama.service; kage may not touch any other unit', async () => {
        const before = await L.nodes.rog.unitProperties('ollama.service', ['InvocationID']);
        const res = await L.api('POST', '/api/v1/nodes/rog/services/ollama/restart');
        assert.equal(res.status, 200, res.body);
        const after = await L.nodes.rog.unitProperties('ollama.service', ['InvocationID', 'ActiveState']);
        assert.notEqual(after['InvocationID'], before['InvocationID'], 'ollama.service was restarted');
        for (const [verb, unit] of [
          ['restart', 'dbus.service'],
          ['stop', 'kage-agent.service'],
          ['start', 'systemd-journald.service'],
        ] as const) {
          const refused = await L.nodes.rog.exec(['systemctl', verb, unit], { user: 'kage' });
          assert.notEqual(refused.code, 0, `kage must not ${verb} ${unit}`);
          assert.match(refused.stderr, /Access denied|authentication required/i, refused.stderr);
        }
        const allowed = await L.nodes.rog.exec(['systemctl', 'restart', 'exo.service'], { user: 'kage' });
        assert.equal(allowed.code, 0, allowed.stderr);
      });

      await step(t, 'journald priorities: warnings and errors are not stored as info', async () => {
        // The restarts above made the agents log state changes; at least one at warning or worse.
        const out = await L.nodes.rog.execOk(['journalctl', '-u', 'kage-agent', '-o', 'json', '--no-pager']);
        const priorities = new Set(
          out
            .trim()
            .split('\n')
            .map((l) => (JSON.parse(l) as { PRIORITY: string }).PRIORITY),
        );
        assert.ok(priorities.has('6'), `info lines: ${[...priorities].join(',')}`);
        assert.ok(priorities.has('4') || priorities.has('3'), `warning lines: ${[...priorities].join(',')}`);
        const line = out.trim().split('\n')[0] ?? '';
        const message = (JSON.parse(line) as { MESSAGE: string }).MESSAGE;
        assert.doesNotMatch(message, /^<\d>/, 'journald strips the priority prefix');
      });

      await step(t, 'a bad agent.yaml: the unit fails with 78, no restart loop; the installer repairs it', async () => {
        const srv2 = L.nodes.srv2;
        const file = join(srv2.rootDir, 'etc/kage/agent.yaml');
        const good = await readFile(file, 'utf8');
        await writeFile(file, `${good}sample_interval_ms: fast\n`);
        await srv2.exec(['systemctl', 'restart', 'kage-agent.service']);
        const failed = await waitFor(
          'kage-agent failed on srv2',
          async () => {
            const p = await srv2.unitProperties('kage-agent.service', ['ActiveState', 'ExecMainStatus', 'NRestarts']);
            return p['ActiveState'] === 'failed' ? p : undefined;
          },
          30_000,
          POLL_MS,
        );
        assert.equal(failed['ExecMainStatus'], '78');
        await sleep(5000); // RestartSec is 2 s: a restart loop would have shown by now
        const still = await srv2.unitProperties('kage-agent.service', ['ActiveState', 'NRestarts']);
        assert.deepEqual(still, { ActiveState: 'failed', NRestarts: '0' });
        const errors = await srv2.execOk(['journalctl', '-u', 'kage-agent', '-p', 'err', '--no-pager', '-o', 'cat']);
        assert.match(errors, /sample_interval_ms/, 'the error names the key, at priority err');
        const repair = await L.deploy('srv2', 'install-agent.sh', ['--inventory', INVENTORY, '--node', 'srv2']);
        assert.equal(repair.code, 0, repair.stdout + repair.stderr);
        assert.match(repair.stdout, /installed \(changed\): \/etc\/kage\/agent.yaml/);
        await waitFor('srv2 back with every service', () => allUp(L), 60_000, POLL_MS);
      });

      await step(t, 'the seed matrix through the coordinator, with faults mid-run', async () => {
        const matrix = seedMatrix(L);
        const runStart = new Date().toISOString();
        const { id } = await json<{ id: string }>(L, 'POST', '/api/v1/runs', matrix);
        const run = (): Promise<RunDetail> => json<RunDetail>(L, 'GET', `/api/v1/runs/${id}`);

        // 1. EXO on rog killed while an EXO cell runs: systemd restarts it, the cluster re-forms.
        await waitFor(
          'an exo-cluster cell running',
          async () => {
            const r = await run();
            assert.notEqual(r.status, 'completed', 'the run ended before any EXO cell was seen');
            return r.progress.current?.target === 'exo-cluster' ? r : undefined;
          },
          240_000,
          POLL_MS,
        );
        const exoBefore = await L.nodes.rog.unitProperties('exo.service', ['NRestarts']);
        await L.nodes.rog.execOk(['systemctl', 'kill', '--kill-whom=main', '--signal=SIGKILL', 'exo.service']);
        await waitFor(
          'exo.service restarted by systemd on rog',
          async () => {
            const p = await L.nodes.rog.unitProperties('exo.service', ['ActiveState', 'NRestarts']);
            return p['ActiveState'] === 'active' && Number(p['NRestarts']) > Number(exoBefore['NRestarts'])
              ? p
              : undefined;
          },
          30_000,
          POLL_MS,
        );
        await waitFor(
          'the EXO cluster re-formed with rog',
          async () => {
            const names = await exoClusterNames(L);
            return names.includes('rog') && names.length === 3 ? names : undefined;
          },
          90_000,
          POLL_MS,
        );

        // 2. srv2's link cut for 20 s: offline, then online again, and no sample lost.
        const cutAt = Date.now();
        await L.setLink('srv2', false);
        const offline = await waitFor(
          'srv2 offline',
          async () => {
            const n = (await nodes(L)).find((v) => v.id === 'srv2');
            return n?.status === 'offline' ? n : undefined;
          },
          20_000,
          POLL_MS,
        );
        assert.equal(offline.status, 'offline');
        await sleep(Math.max(0, 20_000 - (Date.now() - cutAt)));
        await L.setLink('srv2', true);
        await waitFor(
          'srv2 online again',
          async () => {
            const n = (await nodes(L)).find((v) => v.id === 'srv2');
            return n?.status === 'online' ? n : undefined;
          },
          90_000,
          POLL_MS,
        );

        // 3. The coordinator restarted mid-run: the run is resumed and completes.
        const beforeRestart = await run();
        assert.equal(beforeRestart.status, 'running', 'the run outlived the EXO kill and the link cut');
        await L.nodes.srv1.execOk(['systemctl', 'restart', 'kage-coordinator.service']);
        const done = await waitFor(
          'the run completed after the coordinator restart',
          async () => {
            const r = await run();
            return ['completed', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
          },
          600_000,
          POLL_MS,
        );
        assert.equal(done.status, 'completed', JSON.stringify(done));
        const coordinatorLog = await L.nodes.srv1.execOk(['journalctl', '-u', 'kage-coordinator', '-o', 'cat']);
        assert.ok(
          coordinatorLog.split('\n').some((l) => l.includes('resuming interrupted run') && l.includes(id)),
          'the restarted coordinator resumed the run',
        );

        const report = await json<{
          cells: Array<{
            target: string;
            model: string;
            status: string;
            failures?: Record<string, number>;
            utilization?: Record<string, { samples: number }> | null;
          }>;
          recommendation: { verdict: string } | null;
        }>(L, 'GET', `/api/v1/runs/${id}/report?format=json`);
        t.diagnostic(
          `cells: ${report.cells.map((c) => `${c.model}/${c.target} ${c.status} ${JSON.stringify(c.failures ?? {})}`).join('; ')}`,
        );
        assert.equal(report.cells.length, matrix.targets.length * matrix.models.length);
        // Killing EXO costs at most the cell it ran in, which ends as failed with its reasons kept.
        for (const cell of report.cells) assert.ok(['completed', 'failed'].includes(cell.status), JSON.stringify(cell));
        assert.ok(report.cells.filter((c) => c.target.startsWith('ollama')).every((c) => c.status === 'completed'));
        assert.ok(report.recommendation !== null, 'a verdict');
        const measured = report.cells.filter((c) => c.utilization != null);
        assert.ok(measured.length >= 3, `cells with utilization: ${measured.length}`);
        for (const cell of measured) {
          for (const node of LAB_NODES) {
            assert.ok((cell.utilization?.[node]?.samples ?? 0) > 0, `${cell.target}: ${node} sampled`);
          }
        }

        // No sample lost: srv2's raw samples across the cut and the restart are 1 s apart, no hole.
        const points = await json<MetricPoint[]>(
          L,
          'GET',
          `/api/v1/nodes/srv2/metrics?since=${encodeURIComponent(runStart)}`,
        );
        const times = points.filter((p) => p.resolution === 'raw').map((p) => Date.parse(p.ts));
        let widest = 0;
        for (let i = 1; i < times.length; i++) widest = Math.max(widest, (times[i] ?? 0) - (times[i - 1] ?? 0));
        assert.ok(times.length > 60, `samples: ${times.length}`);
        assert.ok(widest <= 2500, `widest gap between srv2's samples: ${widest} ms`);
      });

      await step(t, 'rollback on every node: Ollama still answers, no Kage or EXO left; twice is a no-op', async () => {
        for (const node of ['rog', 'srv2', 'srv1'] as LabNode[]) {
          const first = await L.deploy(node, 'rollback.sh', ['--inventory', INVENTORY, '--node', node]);
          assert.equal(first.code, 0, `${node}: ${first.stdout}${first.stderr}`);
          assert.match(first.stdout, /Ollama before: healthy/);
          assert.match(first.stdout, /Ollama after: healthy/);
          const second = await L.deploy(node, 'rollback.sh', ['--inventory', INVENTORY, '--node', node]);
          assert.equal(second.code, 0, second.stderr);
          assert.match(second.stdout, /nothing to remove/);
          const c = L.nodes[node];
          const ollama = await c.unitProperties('ollama.service', ['ActiveState']);
          assert.equal(ollama['ActiveState'], 'active', `${node}: ollama.service`);
          assert.equal((await c.execOk(['curl', '-sS', 'http://127.0.0.1:11434/'])).trim(), 'Ollama is running');
          const left = await c.exec([
            'bash',
            '-c',
            'ls -d /etc/kage /opt/kage /opt/exo /var/lib/kage /var/lib/exo /etc/systemd/system/kage-* ' +
              '/etc/systemd/system/exo.service* /etc/polkit-1/rules.d/50-kage-agent.rules 2>/dev/null; ' +
              'getent passwd kage exo; systemctl list-unit-files --no-legend "kage-*" "exo*"; ' +
              // A removed unit may stay in systemd's memory as "not-found inactive" until it is
              // collected; only one still running or failed would be left behind.
              'systemctl list-units --all --no-legend --state=active,activating,failed "kage-*" "exo*"',
          ]);
          assert.equal(left.stdout.trim(), '', `${node} still has: ${left.stdout}`);
        }
      });
    } finally {
      if (lab && failedStep !== null) t.diagnostic(await lab.journals().catch((e: unknown) => String(e)));
      await lab?.close();
      await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      timings.push(['total', (Date.now() - started) / 1000]);
      t.diagnostic(`timings (s): ${timings.map(([s, n]) => `${s}: ${n.toFixed(1)}`).join('; ')}`);
    }
  },
);

/** The seed plan's matrix against the lab's nodes, with token counts small enough for two cores. */
function seedMatrix(lab: SystemdLab) {
  return {
    name: 'seed matrix under systemd',
    prompt: 'Write a Python function that implements binary search. Include docstring and type hints.',
    max_tokens: 16,
    repetitions: 3,
    warmup: 1,
    concurrency: [1],
    num_ctx: 4096,
    temperature: 0,
    seed: 42,
    targets: [
      { id: 'ollama-srv1', kind: 'ollama', url: `http://${lab.address('srv1')}:11434`, nodes: ['srv1'] },
      { id: 'ollama-rog', kind: 'ollama', url: `http://${lab.address('rog')}:11434`, nodes: ['rog'] },
      { id: 'exo-cluster', kind: 'exo', url: `http://${lab.address('srv1')}:52415`, nodes: ['srv1', 'srv2', 'rog'] },
    ],
    models: [
      { name: 'qwen2.5:3b', exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit' },
      { name: 'qwen2.5-coder:32b', exo: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit' },
    ],
    decision: {
      candidate: 'exo-cluster',
      baselines: ['ollama-srv1', 'ollama-rog'],
      go_speedup: 0.3,
      evaluate_speedup: 0.1,
      max_ttft_ratio: 2.0,
    },
  };
}
