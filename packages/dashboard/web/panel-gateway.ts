/**
 * Gateway: where the lab's one endpoint sends requests. Each backend with its health, circuit,
 * slots in use, loaded models and the decode speed routing estimates with; then the latest
 * requests, where each went and why. Read from `GET /api/v1/gateway` every few seconds while the
 * panel is on screen and the tab is visible (routes can change many times a second: one poll
 * costs less than an event per request). Hidden when the coordinator runs no gateway.
 */
import { getJson } from './api.js';
import type { GatewayView } from './api-types.js';
import { byId, el, replace, setText } from './dom.js';
import { ago, num, NONE } from './format.js';

const POLL_MS = 3000;
/** Rows of the recent-routes table; the API keeps more. */
const RECENT_ROWS = 15;

export function setupGateway(gateway: { enabled: boolean; listen: string | null }): void {
  if (!gateway.enabled) return;
  const section = byId('gateway');
  section.hidden = false;
  byId('gateway-link').hidden = false;
  setText(
    byId('gateway-listen'),
    `Clients connect to ${gateway.listen ?? 'the gateway'} with Ollama’s or OpenAI’s API; it picks the backend per request.`,
  );
  const body = byId('gateway-body');
  let onScreen = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async (): Promise<void> => {
    timer = undefined;
    if (!onScreen || document.visibilityState !== 'visible') return;
    try {
      renderGateway(body, await getJson<GatewayView>('/api/v1/gateway'));
    } catch (err) {
      replace(body, el('p', { class: 'models-errors' }, `cannot read the gateway: ${String(err)}`));
    }
    if (timer === undefined) timer = setTimeout(() => void poll(), POLL_MS);
  };
  const wake = (): void => {
    if (timer === undefined && onScreen && document.visibilityState === 'visible') void poll();
  };
  new IntersectionObserver((entries) => {
    onScreen = entries.some((e) => e.isIntersecting);
    wake();
  }).observe(section);
  document.addEventListener('visibilitychange', wake);
}

export function renderGateway(root: HTMLElement, view: GatewayView): void {
  const th = (h: string): HTMLElement => el('th', { scope: 'col' }, h);
  const backends = el(
    'table',
    { class: 'gateway-backends' },
    el('caption', { class: 'sr-only' }, 'Gateway backends'),
    el(
      'thead',
      {},
      el('tr', {}, th('Backend'), th('State'), th('In flight'), th('Loaded'), th('Decode tok/s (source)')),
    ),
    el(
      'tbody',
      {},
      ...view.backends.map((b) =>
        el(
          'tr',
          { 'data-backend': b.id, 'data-healthy': String(b.healthy) },
          el('th', { scope: 'row' }, b.id, el('span', { class: 'muted' }, ` ${b.kind} ${b.nodes.join(', ')}`)),
          el('td', {}, b.circuit_open ? 'circuit open' : b.healthy ? 'healthy' : `down: ${b.health_reason ?? ''}`),
          el('td', {}, `${b.in_flight} of ${b.slots}`),
          el('td', {}, b.loaded.length === 0 ? NONE : b.loaded.join(', ')),
          el(
            'td',
            {},
            b.rates.length === 0
              ? NONE
              : b.rates.map((r) => `${r.model} ${num(r.decode_tps, 0)} (${r.source})`).join('; '),
          ),
        ),
      ),
    ),
  );
  const recent = view.routes.recent.slice(0, RECENT_ROWS);
  const routes =
    recent.length === 0
      ? el('p', { class: 'muted' }, 'No request has come through the gateway yet.')
      : el(
          'table',
          { class: 'gateway-routes' },
          el('caption', {}, 'Latest requests, newest first'),
          el(
            'thead',
            {},
            el('tr', {}, th('When'), th('Model'), th('Backend'), th('Why'), th('Outcome'), th('First token')),
          ),
          el(
            'tbody',
            {},
            ...recent.map((r) =>
              el(
                'tr',
                { 'data-backend': r.backend, 'data-model': r.model },
                el('td', {}, ago(Date.parse(r.at))),
                el('th', { scope: 'row' }, r.model),
                el('td', {}, r.backend),
                el('td', {}, r.reason),
                el('td', {}, `${r.status} ${r.outcome}`),
                el('td', {}, num(r.ttft_ms, 0, 'ms')),
              ),
            ),
          ),
        );
  const totals = view.routes.totals.map((t) => `${t.backend} ${t.reason}: ${t.count}`).join(' · ');
  replace(
    root,
    backends,
    routes,
    totals === '' ? null : el('p', { class: 'muted' }, `Every decision since the coordinator started: ${totals}`),
  );
}
