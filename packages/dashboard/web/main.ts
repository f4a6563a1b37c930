/**
 * The dashboard's entry: first paint from one snapshot, then the event stream keeps it current.
 * Redraws are batched per animation frame, so a burst of samples costs one paint.
 */
import { getJson } from './api.js';
import type { Snapshot } from './api-types.js';
import { byId, setText } from './dom.js';
import { openEventFeed, type EventFeed } from './event-feed.js';
import { applyEvent, createLabState, loadSnapshot, type LabState } from './lab-state.js';
import { renderModels } from './panel-models.js';
import { setupGateway } from './panel-gateway.js';
import { renderNodeCard, renderNodeCards, tickNodeCards } from './panel-nodes.js';
import { drawHistory, setupHistory } from './panel-history.js';
import { renderRunDetail, renderRunList, selectRun, setupRunForm } from './panel-runs.js';
import { renderTopology, tickTopology } from './panel-topology.js';
import { forgetToken, updateTokenState } from './token-dialog.js';

declare global {
  interface Window {
    /** What the browser tests read and do; nothing of the page depends on it. */
    kageDashboard?: { state: LabState; feed: EventFeed };
  }
}

function showError(message: string): void {
  setText(byId('feed-state'), message);
}

async function main(): Promise<void> {
  const snapshot = await getJson<Snapshot>('/api/v1/snapshot');
  const state = createLabState(snapshot);
  byId('emulated-banner').hidden = !state.emulated;
  if (state.emulated) document.title = `[EMULATED] ${document.title}`;

  const dirtyNodes = new Set<string>();
  let dirty = { all: true, runs: true, models: true };
  let scheduled = false;
  const draw = (): void => {
    scheduled = false;
    const nodesRoot = byId('node-cards');
    if (dirty.all) renderNodeCards(nodesRoot, state);
    else for (const id of dirtyNodes) renderNodeCard(nodesRoot, state, id);
    if (dirty.all || dirtyNodes.size > 0) renderTopology(byId('topology-body'), state);
    if (dirty.runs) renderRunList(byId('run-list'), state, () => schedule('runs'));
    if (dirty.models) renderModels(byId('models-body'), state);
    void renderRunDetail(byId('run-detail'), state).catch((e: unknown) => showError(String(e)));
    dirtyNodes.clear();
    dirty = { all: false, runs: false, models: false };
  };
  // 'all', 'runs', 'models', 'progress' or a node id.
  const schedule = (what: string): void => {
    if (what === 'all') dirty.all = true;
    else if (what === 'runs') dirty.runs = true;
    else if (what === 'models') dirty.models = true;
    else if (what !== 'progress') dirtyNodes.add(what);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  };

  const reload = async (): Promise<void> => {
    loadSnapshot(state, await getJson<Snapshot>('/api/v1/snapshot'));
    schedule('all');
    schedule('runs');
    schedule('models');
  };

  const feed = openEventFeed(snapshot.event_id, {
    event(e) {
      const changed = applyEvent(state, e);
      if (changed === null) return;
      if (changed.change === 'nodes' || changed.change === 'runs') void reload();
      else if (changed.change === 'models') schedule('models');
      else if (changed.change === 'node' && changed.node !== undefined) {
        schedule(changed.node);
        // A node going quiet marks its models as last read.
        if (e.type === 'node') schedule('models');
      } else schedule('progress');
    },
    reset: () => void reload(),
    connection(connected) {
      setText(byId('feed-state'), connected ? 'live' : 'reconnecting…');
      byId('feed-state').dataset['connected'] = String(connected);
    },
  });
  window.kageDashboard = { state, feed };

  // Staleness and "last seen" move with time, not only with events: once a second those texts and
  // classes alone are brought up to date (a card is redrawn only when its node changed).
  setInterval(() => {
    const now = Date.now();
    tickNodeCards(state, now);
    tickTopology(state, now);
  }, 1000);
  updateTokenState();
  byId('token-forget').addEventListener('click', forgetToken);
  setupRunForm((id) => {
    selectRun(id);
    void reload();
  });
  setupHistory(state);
  setupGateway(snapshot.gateway);
  draw();
  // The history is the largest answer: it is read once its panel comes into view, not on load.
  const history = byId('history');
  const seen = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    seen.disconnect();
    void drawHistory();
  });
  seen.observe(history);
}

main().catch((err: unknown) => showError(`cannot load the lab: ${err instanceof Error ? err.message : String(err)}`));
