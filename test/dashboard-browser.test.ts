/**
 * The dashboard in a real browser (Chromium) against the real coordinator with three real agents
 * on emulated nodes: first paint, live samples, a killed service, a stopped and restarted agent, an
 * event-stream drop, a run started from the page, accessibility (axe-core) and both screen sizes.
 * Each panel's screenshot is written to test-results/ on every run.
 */
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchBrowser, NO_BROWSER, type Browser } from './src/browser.js';
import {
  allocateNodePorts,
  freePort,
  spawnDaemon,
  startLabAgents,
  waitFor,
  writeCoordinatorConfig,
  type CoordinatorFiles,
  type DaemonProcess,
  type LabAgent,
} from './src/coordinator-lab.js';

const NODES = ['srv1', 'srv2', 'rog'] as const;
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** What the page exposes for tests (main.ts). */
interface DashboardWindow {
  kageDashboard: { feed: { status: { ids: number[] }; drop(ms: number): void } };
}

interface ServiceView {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
  healthy: boolean;
}
interface NodeView {
  id: string;
  status: string;
  services: ServiceView[];
  latest: unknown;
}

describe('the dashboard in a real browser', { skip: NO_BROWSER }, () => {
  let dir: string;
  let files: CoordinatorFiles;
  let coordinator: DaemonProcess;
  const agents = new Map<string, LabAgent>();
  const ollamaPorts = new Map<string, number>();
  const exoUrls = new Map<string, string>();
  let gatewayPort = 0;
  let api: string;
  let browser: Browser;
  let page: Page;

  const nodes = async (): Promise<NodeView[]> => (await (await fetch(`${api}/api/v1/nodes`)).json()) as NodeView[];
  const shot = (panel: string, name = panel): Promise<Buffer> =>
    page.locator(`#${panel}`).screenshot({ path: join(RESULTS, `dashboard-${name}.png`) });

  before(async () => {
    await mkdir(RESULTS, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'kage-dashboard-e2e-'));
    const grpcPort = await freePort();
    const httpPort = await freePort();
    api = `http://127.0.0.1:${httpPort}`;
    files = await writeCoordinatorConfig(dir, { grpcPort, httpPort, nodes: NODES, emulated: true });
    // The ports first: the coordinator's gateway names every node's Ollama and srv1's EXO.
    const ports = await allocateNodePorts(NODES);
    for (const [node, p] of ports) {
      ollamaPorts.set(node, p.ollama);
      exoUrls.set(node, `http://127.0.0.1:${p.exo}`);
    }
    gatewayPort = await freePort();
    await appendFile(
      files.config,
      [
        'gateway:',
        `  listen: "127.0.0.1:${gatewayPort}"`,
        '  health_interval_ms: 250',
        '  backends:',
        ...NODES.map(
          (n) =>
            `    - { id: ollama-${n}, kind: ollama, url: "http://127.0.0.1:${ollamaPorts.get(n)}", nodes: [${n}] }`,
        ),
        `    - { id: exo, kind: exo, url: "${exoUrls.get('srv1')}", nodes: [${NODES.join(', ')}] }`,
        '',
      ].join('\n'),
    );
    coordinator = spawnDaemon(['coordinator', '--config', files.config]);
    await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started');
    for (const [node, agent] of await startLabAgents(dir, { nodes: NODES, grpcPort, tokens: files.tokens, ports })) {
      agents.set(node, agent);
    }
    await waitFor('three online nodes with ollama and exo running', async () => {
      const list = await nodes();
      const ready = list.filter(
        (n) =>
          n.status === 'online' &&
          n.latest !== null &&
          ['ollama', 'exo'].every((s) => n.services.some((x) => x.name === s && x.state === 'running' && x.healthy)),
      );
      return ready.length === 3 ? true : undefined;
    });
    browser = await launchBrowser();
    page = await browser.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([...agents.values()].map((a) => a.process.stop()));
    await coordinator?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('first paint shows three online nodes, their services, the topology and the emulated label', async () => {
    const response = await page.goto(`${api}/`);
    assert.equal(response?.status(), 200);
    await page.locator('[data-node][data-status="online"].node-card').nth(2).waitFor({ timeout: 5000 });
    for (const node of NODES) {
      const card = page.locator(`.node-card[data-node="${node}"]`);
      for (const service of ['ollama', 'exo']) {
        assert.equal(await card.locator(`tr[data-service="${service}"]`).getAttribute('data-state'), 'running');
      }
      assert.match((await card.textContent()) ?? '', /CPU[\d.]+ %/);
    }
    assert.equal(await page.locator('#emulated-banner').isVisible(), true);
    await page.locator('.topo-exo').waitFor();
    assert.match((await page.locator('.topo-exo').textContent()) ?? '', /srv1|srv2|rog/);
    assert.equal(await page.locator('.topo-coordinator').count(), 1);
    await shot('topology');
    await shot('nodes');
  });

  test('a sample shows on the page within 1.5 s of the agent taking it', async () => {
    const lags = await page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const lags: number[] = [];
          const observer = new MutationObserver((records) => {
            const now = Date.now();
            for (const r of records) {
              const ts = (r.target as HTMLElement).dataset['sampleTs'];
              if (ts !== undefined) lags.push(now - Date.parse(ts));
            }
          });
          for (const card of document.querySelectorAll('.node-card')) {
            observer.observe(card, { attributes: true, attributeFilter: ['data-sample-ts'] });
          }
          setTimeout(() => {
            observer.disconnect();
            resolve(lags);
          }, 3000);
        }),
    );
    assert.ok(lags.length >= 6, `samples seen in 3 s: ${lags.length}`);
    assert.ok(Math.max(...lags) < 1500, `lags (ms): ${lags.join(', ')}`);
  });

  test('a killed service shows down, then back with one more restart', async () => {
    const before = (await nodes()).find((n) => n.id === 'srv2')?.services.find((s) => s.name === 'ollama');
    assert.ok(before?.pid);
    const row = page.locator('.node-card[data-node="srv2"] tr[data-service="ollama"]');
    await page.evaluate(() => {
      const target = document.querySelector('.node-card[data-node="srv2"] tr[data-service="ollama"]');
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      new MutationObserver(() => seen.push((target as HTMLElement).dataset['state'] ?? '')).observe(target!, {
        attributes: true,
        attributeFilter: ['data-state'],
      });
    });
    process.kill(before.pid, 'SIGKILL');
    await waitFor(
      'ollama on srv2 running again on the page with one more restart',
      async () =>
        (await row.getAttribute('data-state')) === 'running' &&
        (await row.locator('[data-field="restarts"]').textContent()) === String(before.restarts + 1)
          ? true
          : undefined,
      15_000,
    );
    // The restart takes a fraction of a second, often within one batch of events: the row keeps
    // the last time the service was down, so the blip stays visible.
    const seen = await page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
    const down = await row.getAttribute('data-last-down');
    assert.ok(down !== null || seen.some((s) => s !== 'running'), `the page showed it down: ${seen.join(' → ')}`);
    assert.match((await row.locator('[data-field="down"]').textContent()) ?? '', /exited|backoff|failed|stopping/);
    await shot('nodes', 'nodes-after-restart');
  });

  test('a stopped agent turns its node stale within 3 s; restarted, it comes back', async () => {
    const rog = agents.get('rog');
    assert.ok(rog);
    const card = page.locator('.node-card[data-node="rog"]');
    const stopped = Date.now();
    await rog.process.stop();
    await card.and(page.locator('[data-status="stale"]')).waitFor({ timeout: 3000 });
    const staleAfter = Date.now() - stopped;
    assert.ok(staleAfter <= 3000, `stale after ${staleAfter} ms`);
    assert.match((await card.textContent()) ?? '', /last seen \d+ s ago/);
    assert.equal(await page.locator('.topo-node[data-node="rog"].stale').count(), 1);
    await shot('topology', 'topology-stale');
    rog.restart();
    await card.and(page.locator('[data-status="online"]')).waitFor({ timeout: 20_000 });
  });

  test('an event-stream drop and reconnect loses and duplicates nothing', async () => {
    const before = await page.evaluate(
      () => (window as unknown as DashboardWindow).kageDashboard.feed.status.ids.length,
    );
    await page.evaluate(() => (window as unknown as DashboardWindow).kageDashboard.feed.drop(1500));
    await page.locator('#feed-state[data-connected="false"]').waitFor({ timeout: 1000 });
    await page.locator('#feed-state[data-connected="true"]').waitFor({ timeout: 5000 });
    await page.waitForTimeout(1000);
    const ids = await page.evaluate(() => (window as unknown as DashboardWindow).kageDashboard.feed.status.ids);
    assert.ok(ids.length > before + 10, `events after the drop: ${ids.length - before}`);
    // Ids come from one counter: every event the coordinator published is there once, in order.
    for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1]! + 1, `id ${i} of ${ids.length}`);
  });

  test('a run started from the page finishes and its verdict table is on the page', async () => {
    const matrix = {
      name: 'from-the-dashboard',
      prompt: 'Write a haiku about shadows.',
      max_tokens: 12,
      repetitions: 2,
      warmup: 0,
      targets: NODES.map((n) => ({
        id: `ollama-${n}`,
        kind: 'ollama',
        url: `http://127.0.0.1:${ollamaPorts.get(n)}`,
        nodes: [n],
      })),
      models: [{ name: 'qwen2.5:3b' }],
      decision: { candidate: 'ollama-rog', baselines: ['ollama-srv1', 'ollama-srv2'] },
    };
    await page.locator('#runs summary').click();
    await page.locator('#run-matrix').fill(JSON.stringify(matrix, null, 2));
    await page.locator('#run-form button[type="submit"]').click();
    await page.locator('#token-input').fill(files.apiToken);
    await page.locator('#token-dialog button[value="ok"]').click();
    await page.locator('#run-answer', { hasText: 'started' }).waitFor({ timeout: 5000 });
    await page.locator('#run-detail [data-run-progress]').or(page.locator('#run-detail .verdict-table')).waitFor();
    await shot('runs', 'runs-running');
    await page.locator('#run-detail .verdict-table tbody tr').first().waitFor({ timeout: 90_000 });
    assert.match((await page.locator('#run-detail .verdict-table').textContent()) ?? '', /qwen2\.5:3b/);
    assert.equal(await page.locator('#run-detail .comparison tbody tr').count(), 3);
    assert.equal((await page.locator('#run-detail .recommendation li').count()) > 0, true);
    await shot('runs');
  });

  test('the Models panel shows what each server holds now: Ollama per node, an EXO instance per runner', async () => {
    // The run above loaded qwen2.5:3b on every node's Ollama; it stays loaded for its keep-alive.
    const models = page.locator('#models-body');
    for (const node of NODES) {
      const row = models.locator(`tr[data-server="ollama"][data-model="qwen2.5:3b"][data-node="${node}"]`);
      await row.waitFor({ timeout: 5000 });
      const ps = (await (await fetch(`http://127.0.0.1:${ollamaPorts.get(node)}/api/ps`)).json()) as {
        models: { name: string; size: number }[];
      };
      const size = ps.models.find((m) => m.name === 'qwen2.5:3b')?.size ?? 0;
      assert.match(
        (await row.locator('td').last().textContent()) ?? '',
        new RegExp(`^${(size / 1024 ** 3).toFixed(1)} GiB`),
      );
    }

    const model = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
    const query = new URLSearchParams({
      model_id: model,
      sharding: 'Pipeline',
      instance_meta: 'MlxRing',
      min_nodes: '3',
    });
    const srv1 = exoUrls.get('srv1') ?? '';
    await waitFor(
      'a placement over the three nodes',
      async () => ((await fetch(`${srv1}/instance/placement?${query.toString()}`)).status === 200 ? true : undefined),
      30_000,
    );
    const exoRow = models.locator(`tr[data-server="exo"][data-model="${model}"][data-state="ready"]`);
    // A cluster still settling may drop a placement (EXO answers before its master acts): place again.
    for (let attempt = 0; attempt < 3 && (await exoRow.count()) === 0; attempt++) {
      const placed = await fetch(`${srv1}/place_instance`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model_id: model, sharding: 'Pipeline', instance_meta: 'MlxRing', min_nodes: 3 }),
      });
      assert.equal(placed.status, 200);
      await exoRow.waitFor({ timeout: 10_000 }).catch(() => undefined);
    }
    assert.equal(await exoRow.count(), 1, 'the instance shows ready');
    assert.deepEqual(
      (await exoRow.locator('li[data-host]').evaluateAll((li) => li.map((x) => x.getAttribute('data-host')))).sort(),
      [...NODES].sort(),
    );
    assert.match((await exoRow.textContent()) ?? '', /layers 0–/);

    // Unloading on rog takes its row away; the other nodes keep theirs.
    const unload = await fetch(`http://127.0.0.1:${ollamaPorts.get('rog')}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'qwen2.5:3b', prompt: '', keep_alive: 0, stream: false }),
    });
    assert.equal(unload.status, 200);
    await models.locator('tr[data-server="ollama"][data-node="rog"]').waitFor({ state: 'detached', timeout: 5000 });
    assert.equal(await models.locator('tr[data-server="ollama"]').count(), 2);
    await shot('models');
  });

  test('the Gateway panel shows the backends and where each request went, and why', async () => {
    const section = page.locator('#gateway');
    await section.waitFor({ state: 'visible', timeout: 5000 });
    assert.match(
      (await page.locator('#gateway-listen').textContent()) ?? '',
      new RegExp(`127\\.0\\.0\\.1:${gatewayPort}`),
    );
    const ask = await fetch(`http://127.0.0.1:${gatewayPort}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({
        model: 'qwen2.5:3b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: false,
        options: { num_predict: 3 },
      }),
    });
    assert.equal(ask.status, 200, await ask.clone().text());
    const backend = ask.headers.get('x-kage-backend') ?? '';
    assert.match(backend, /^ollama-(srv1|srv2)$/, 'a node that still has the model loaded (rog unloaded it)');
    await section.scrollIntoViewIfNeeded();
    const row = page.locator(`#gateway-body .gateway-routes tr[data-backend="${backend}"][data-model="qwen2.5:3b"]`);
    await row.first().waitFor({ timeout: 8000 });
    assert.match((await row.first().textContent()) ?? '', /qwen2\.5:3b.*(loaded|fastest|free-slot).*200 ok/);
    for (const id of ['ollama-srv1', 'ollama-srv2', 'ollama-rog', 'exo']) {
      assert.equal(
        await page.locator(`#gateway-body .gateway-backends tr[data-backend="${id}"]`).getAttribute('data-healthy'),
        'true',
      );
    }
    await shot('gateway');
  });

  test('history draws a node’s metrics with uPlot', async () => {
    await page.locator('#history-node').selectOption('srv1');
    await page.locator('#history-window').selectOption('5');
    await page.locator('#history-form button[type="submit"]').click();
    await page.locator('#history-chart .uplot canvas').waitFor({ timeout: 5000 });
    assert.ok(Number(await page.locator('#history-chart').getAttribute('data-points')) > 0);
    await shot('history');
  });

  test('axe-core finds no serious accessibility violation, at 1280×800 and phone width', async () => {
    for (const size of [
      { width: 1280, height: 800 },
      { width: 390, height: 844 },
    ]) {
      await page.setViewportSize(size);
      // Evaluated through the debugging protocol: the page's CSP allows no script of another origin.
      await page.evaluate(readFileSync(AXE, 'utf8'));
      const violations = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> };
          }
        ).axe;
        const result = await axe.run();
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, count: v.nodes.length }));
      });
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(serious, [], JSON.stringify(violations));
      // A phone-width page scrolls vertically only.
      const overflow = await page.evaluate(() => ({
        px: document.documentElement.scrollWidth - window.innerWidth,
        wide: [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className.toString()}`),
      }));
      assert.ok(
        overflow.px <= 1,
        `horizontal overflow ${overflow.px}px at ${size.width}px: ${overflow.wide.join(', ')}`,
      );
      await page.screenshot({ path: join(RESULTS, `dashboard-page-${size.width}.png`), fullPage: true });
    }
  });

  test('the first load transfers at most 150 kB (a run stored, its report read)', async (t) => {
    const fresh = await browser.context.newPage();
    try {
      const cdp = await browser.context.newCDPSession(fresh);
      await cdp.send('Network.enable');
      // A first visit: nothing from the cache the earlier tests filled.
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      // Finished responses only: the event stream never finishes and is not part of the load.
      const sizes = new Map<string, number>();
      const urls = new Map<string, string>();
      cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
      cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
      await fresh.goto(`${api}/`);
      await fresh.locator('#run-detail .verdict-table').waitFor({ timeout: 5000 });
      await fresh.waitForTimeout(500);
      const total = [...sizes.values()].reduce((a, b) => a + b, 0);
      const list = [...sizes].map(([id, n]) => `${urls.get(id)?.replace(api, '') ?? id} ${n}`);
      t.diagnostic(`first load: ${total} bytes on the wire: ${list.join(', ')}`);
      assert.ok(total <= 150 * 1024, list.join('\n'));
    } finally {
      await fresh.close();
    }
  });
});
