/**
 * The stylesheet inlined into every HTML report. Verdicts and criteria always carry words as well
 * as colours; colours are only a second cue. Print-friendly: no backgrounds needed to read it.
 */
export const HTML_STYLE = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg-soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 8px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
p.hint, .muted { color: var(--muted); }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; }
dl.run dt { font-weight: 600; color: var(--muted); }
dl.run dd { margin: 0; overflow-wrap: anywhere; }
.emulated-banner { border: 3px solid #b42318; background: #fff1f0; color: #7a1209; padding: 12px 16px;
  margin: 0 0 18px; font-weight: 700; font-size: 16px; }
.emulated-banner .tag { display: inline-block; background: #b42318; color: #fff; padding: 1px 8px; margin-right: 8px;
  letter-spacing: 0.06em; }
.recommendation { border: 2px solid var(--line); border-left-width: 10px; padding: 10px 16px; margin: 18px 0; }
.recommendation h2 { border: 0; margin: 4px 0 6px; }
.recommendation .action { font-weight: 600; margin: 0 0 6px; }
.recommendation ul { margin: 6px 0 4px; padding-left: 20px; }
.recommendation li { overflow-wrap: anywhere; }
div.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 4px; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: var(--bg-soft); overflow-wrap: break-word; }
td.model { font-weight: 600; overflow-wrap: break-word; min-width: 8em; }
td.nowrap { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.cell .tps { font-size: 16px; font-weight: 700; font-variant-numeric: tabular-nums; }
.cell .sub { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
.cell .warn, .not-ok { color: #9a3412; font-weight: 600; }
.cell.failed { background: #fff4f2; color: #7a1209; }
.cell.missing { color: var(--muted); text-align: center; }
.verdict { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 3px; font-weight: 700; border: 1px solid; }
.v-phase-2 { color: #0b5d1e; border-color: #0b5d1e; background: #e9f7ec; }
.v-evaluate { color: #7a4a00; border-color: #b7791f; background: #fff7e0; }
.v-shelve { color: #57606a; border-color: #57606a; background: #f2f3f5; }
.v-cluster-only { color: #0b4f8a; border-color: #0b4f8a; background: #eaf3fc; }
.v-failed { color: #7a1209; border-color: #b42318; background: #fff1f0; }
.v-inconclusive { color: #5b3b8c; border-color: #5b3b8c; background: #f3effa; }
.recommendation.v-phase-2, .recommendation.v-evaluate, .recommendation.v-shelve, .recommendation.v-cluster-only,
.recommendation.v-failed, .recommendation.v-inconclusive { background: #fff; color: var(--fg); }
ul.notes li, ul.legend-notes li { margin: 2px 0; overflow-wrap: anywhere; }
.charts { display: flex; flex-direction: column; gap: 18px; }
svg.chart { max-width: 100%; height: auto; border: 1px solid var(--line); background: #fff; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #1b1f24; }
svg.chart .chart-title { font-size: 15px; font-weight: 700; }
svg.chart .chart-emulated { fill: #b42318; font-weight: 700; }
svg.chart .chart-group { font-weight: 700; }
svg.chart .chart-note { fill: #9a3412; font-style: italic; }
svg.chart .chart-value { font-weight: 600; }
svg.chart .tick { fill: #57606a; }
svg.chart .axis-label { fill: #57606a; font-weight: 600; }
svg.chart .grid { stroke: #eaeef2; }
svg.chart .axis { stroke: #57606a; }
svg.chart rect.bar { stroke: #1b1f24; stroke-width: 0.5; }
svg.chart .whisker line { stroke: #1b1f24; stroke-width: 1.5; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print { .emulated-banner { border-width: 4px; } }
`;
