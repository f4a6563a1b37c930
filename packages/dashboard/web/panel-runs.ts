/**
 * Runs: start one from a matrix (with the token), the list of runs with links to their reports,
 * and one run in detail: its progress (cell, ETA) while it runs; once finished the comparison
 * table, per-model verdicts with the speedup's 95 % CI as bars, the recommendation and its reasons,
 * and each node's utilization per cell.
 */
import { getJson, post } from './api.js';
import type { KageReport, RunListEntry } from './api-types.js';
import { ciBars } from './ci-bars.js';
import { byId, el, replace } from './dom.js';
import { bytes, duration, num, pct, signedPct } from './format.js';
import type { LabState } from './lab-state.js';
import { ensureToken, forgetToken } from './token-dialog.js';

let selected: string | null = null;
/** Reports of finished runs never change: fetched once, even when two panels ask at the same time. */
const reports = new Map<string, Promise<KageReport>>();

function finishedReport(id: string): Promise<KageReport> {
  let report = reports.get(id);
  if (report === undefined) {
    report = getJson<KageReport>(`/api/v1/runs/${encodeURIComponent(id)}/report?format=json`);
    reports.set(id, report);
    // A failed read is tried again next time.
    report.catch(() => reports.delete(id));
  }
  return report;
}

function reportLinks(id: string): HTMLElement {
  const base = `/api/v1/runs/${encodeURIComponent(id)}/report?format=`;
  return el(
    'span',
    { class: 'links' },
    ...(['md', 'json', 'html'] as const).flatMap((f, i) => [
      i > 0 ? ' · ' : '',
      el(
        'a',
        { href: base + f, target: '_blank', rel: 'noopener' },
        f,
        el('span', { class: 'sr-only' }, ` report of run ${id}`),
      ),
    ]),
  );
}

export function setupRunForm(onStarted: (id: string) => void): void {
  const form = byId<HTMLFormElement>('run-form');
  const input = byId<HTMLTextAreaElement>('run-matrix');
  const answer = byId('run-answer');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      let matrix: unknown;
      try {
        matrix = JSON.parse(input.value);
      } catch (err) {
        answer.textContent = `the matrix is not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
        return;
      }
      if ((await ensureToken()) === null) {
        answer.textContent = 'not started: no API token';
        return;
      }
      answer.textContent = 'starting…';
      const res = await post('/api/v1/runs', matrix);
      if (res.status === 401) forgetToken();
      const id = (res.body as { id?: string } | null)?.id;
      if (res.ok && id !== undefined) {
        answer.textContent = `run ${id} started`;
        onStarted(id);
      } else {
        const problems = (res.body as { problems?: { path: string; reason: string }[] } | null)?.problems ?? [];
        answer.textContent = `refused: ${res.message}${problems.map((p) => `; ${p.path}: ${p.reason}`).join('')}`;
      }
    })();
  });
}

export function selectRun(id: string): void {
  selected = id;
}

export function renderRunList(root: HTMLElement, state: LabState, redraw: () => void): void {
  if (selected === null && state.runs[0] !== undefined) selected = state.runs[0].id;
  if (state.runs.length === 0) {
    replace(root, el('p', {}, 'No run yet.'));
    return;
  }
  const row = (r: RunListEntry): HTMLElement => {
    const show = el('button', { type: 'button', 'aria-pressed': String(r.id === selected) }, 'show');
    show.addEventListener('click', () => {
      selected = r.id;
      redraw();
    });
    return el(
      'tr',
      { 'data-run': r.id },
      el('th', { scope: 'row' }, r.name),
      el('td', {}, r.status),
      el('td', {}, new Date(r.started_at).toLocaleString()),
      el('td', {}, `${r.cells_done}/${r.cells_total}${r.cells_failed > 0 ? ` (${r.cells_failed} failed)` : ''}`),
      el('td', {}, r.verdict ?? '–'),
      el('td', {}, reportLinks(r.id)),
      el('td', {}, show),
    );
  };
  replace(
    root,
    el(
      'table',
      { class: 'runs' },
      el('caption', {}, 'Runs, newest first'),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Name', 'Status', 'Started', 'Cells', 'Verdict', 'Reports', 'Detail'].map((h) =>
            el('th', { scope: 'col' }, h),
          ),
        ),
      ),
      el('tbody', {}, ...state.runs.slice(0, 20).map(row)),
    ),
  );
}

/**
 * What the detail shows now. It is asked to draw with every redraw of the page (each node sample),
 * so it rebuilds only when this changes: a finished run's report is not rebuilt (nor announced
 * again in its live region) once a second or more.
 */
let shown: { root: HTMLElement; key: string; report: KageReport | null } | null = null;

function unchanged(root: HTMLElement, key: string, report: KageReport | null = null): boolean {
  if (shown !== null && shown.root === root && shown.key === key && shown.report === report) return true;
  shown = { root, key, report };
  return false;
}

export async function renderRunDetail(root: HTMLElement, state: LabState): Promise<void> {
  const entry = state.runs.find((r) => r.id === selected);
  if (entry === undefined) {
    if (!unchanged(root, '')) replace(root);
    return;
  }
  if (entry.status === 'running') {
    const p = state.progress.get(entry.id);
    const done = p?.cells_done ?? entry.cells_done;
    const total = p?.cells_total ?? entry.cells_total;
    const elapsed = Date.now() - Date.parse(entry.started_at);
    const eta = done > 0 ? duration((elapsed / done) * (total - done)) : 'after the first cell';
    const cell = p?.current ? `${p.current.model} × ${p.current.target} (concurrency ${p.current.concurrency})` : '–';
    if (unchanged(root, JSON.stringify(['running', entry.id, entry.name, done, total, cell, eta]))) return;
    replace(
      root,
      el('h3', {}, `Run ${entry.name} — running`),
      el('progress', { max: total, value: done, 'aria-label': `cells done of run ${entry.name}` }),
      el(
        'p',
        { 'data-run-progress': `${done}/${total}` },
        `${done} of ${total} cells done · current cell: ${cell} · ETA ${eta}`,
      ),
    );
    return;
  }
  const report = await finishedReport(entry.id);
  if (selected !== entry.id || unchanged(root, JSON.stringify([entry.id, entry.name, entry.status]), report)) return;
  replace(root, ...reportView(entry, report));
}

function reportView(entry: RunListEntry, report: KageReport): HTMLElement[] {
  const nodes = [...new Set(report.cells.flatMap((c) => Object.keys(c.utilization ?? {})))].sort();
  const th = (h: string): HTMLElement => el('th', { scope: 'col' }, h);
  const out: HTMLElement[] = [el('h3', {}, `Run ${entry.name} — ${entry.status}`, ' ', reportLinks(entry.id))];
  out.push(
    el(
      'table',
      { class: 'comparison' },
      el('caption', {}, 'Comparison: median per cell'),
      el(
        'thead',
        {},
        el('tr', {}, ...['Model', 'Target', 'Conc.', 'Decode tok/s', 'TTFT', 'Total', 'Success'].map(th)),
      ),
      el(
        'tbody',
        {},
        ...report.cells.map((c) =>
          el(
            'tr',
            {},
            el('th', { scope: 'row' }, c.model),
            el('td', {}, c.target),
            el('td', {}, String(c.concurrency)),
            el('td', {}, num(c.decode_tps.median)),
            el('td', {}, num(c.ttft_ms.median, 0, 'ms')),
            el('td', {}, num(c.e2e_ms.median, 0, 'ms')),
            el('td', {}, `${c.successes}/${c.attempts}`),
          ),
        ),
      ),
    ),
  );
  if (report.decisions.length > 0) {
    out.push(
      el(
        'div',
        { class: 'verdicts' },
        el(
          'table',
          { class: 'verdict-table' },
          el('caption', {}, 'Verdict per model (speedup of the candidate over the best baseline, 95 % CI)'),
          el('thead', {}, el('tr', {}, ...['Model', 'Candidate', 'Baseline', 'Speedup', '95 % CI', 'Verdict'].map(th))),
          el(
            'tbody',
            {},
            ...report.decisions.map((d) =>
              el(
                'tr',
                { 'data-verdict': d.verdict },
                el('th', { scope: 'row' }, d.model),
                el('td', {}, d.candidate),
                el('td', {}, d.baseline ?? '–'),
                el('td', {}, signedPct(d.speedup)),
                el(
                  'td',
                  {},
                  d.speedup_ci95 ? `${signedPct(d.speedup_ci95[0])} … ${signedPct(d.speedup_ci95[1])}` : '–',
                ),
                el('td', {}, el('span', { class: `verdict ${d.verdict}` }, d.verdict)),
              ),
            ),
          ),
        ),
        ciBars(report.decisions),
      ),
    );
  }
  if (report.recommendation !== null) {
    out.push(
      el(
        'section',
        { class: 'recommendation', 'aria-label': 'recommendation' },
        el(
          'p',
          {},
          el('strong', {}, 'Recommendation: '),
          el('span', { class: `verdict ${report.recommendation.verdict}` }, report.recommendation.verdict),
        ),
        el('ul', {}, ...report.recommendation.reasons.map((r) => el('li', {}, r))),
      ),
    );
  }
  if (nodes.length > 0) {
    out.push(
      el(
        'table',
        { class: 'utilization' },
        el(
          'caption',
          {},
          'Utilization per node during each cell (CPU mean/max, memory max, GPU busy mean, GPU memory max)',
        ),
        el('thead', {}, el('tr', {}, th('Cell'), ...nodes.map(th))),
        el(
          'tbody',
          {},
          ...report.cells.map((c) =>
            el(
              'tr',
              {},
              el('th', { scope: 'row' }, `${c.model} × ${c.target}`),
              ...nodes.map((n) => {
                const u = c.utilization?.[n];
                if (u === undefined) return el('td', {}, '–');
                return el(
                  'td',
                  {},
                  `CPU ${pct(u.cpu_pct?.mean)}/${pct(u.cpu_pct?.max)} · mem ${bytes(u.mem_used_bytes?.max)} · GPU ${pct(u.gpu_busy_pct?.mean)} · ${bytes(u.gpu_mem_used_bytes?.max)}`,
                );
              }),
            ),
          ),
        ),
      ),
    );
  }
  return out;
}
