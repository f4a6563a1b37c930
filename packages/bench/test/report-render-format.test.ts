/**
 * The report renderers' building blocks: number formatting at the edges, escaping, terminal
 * alignment of markdown tables, and the chart's axis scale.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { displayWidth, escapeHtml, escapeMarkdown, toSingleLine, truncate } from '../src/report/escape.js';
import {
  formatDuration,
  formatMs,
  formatPercent,
  formatRatio,
  formatSecondsFromMs,
  formatSignedPercent,
  formatSpeedup,
  formatTick,
  formatTps,
} from '../src/report/format.js';
import { markdownTable } from '../src/report/markdown-table.js';
import { niceScale } from '../src/report/svg-bar-chart.js';

void describe('report formatting', () => {
  void test('tok/s with 1 decimal; tiny values keep 2 significant digits; huge ones use exponents', () => {
    assert.equal(formatTps(40.06), '40.1');
    assert.equal(formatTps(0), '0.0');
    assert.equal(formatTps(0.0123), '0.012');
    assert.equal(formatTps(0.049), '0.049');
    assert.equal(formatTps(0.05), '0.1');
    assert.equal(formatTps(999999.94), '999999.9');
    assert.equal(formatTps(123456789.123), '1.23e8');
    assert.equal(formatTps(1e6), '1e6');
    assert.equal(formatTps(-0.01), '-0.01');
    assert.equal(formatTps(-0.04999), '-0.05');
  });

  void test('ms with 1 decimal below 10, none above; seconds with 2 decimals', () => {
    assert.equal(formatMs(3.24), '3.2');
    assert.equal(formatMs(9.96), '10.0');
    assert.equal(formatMs(101.2), '101');
    assert.equal(formatMs(0.0123), '0.012');
    assert.equal(formatMs(98765432.1), '9.88e7');
    assert.equal(formatSecondsFromMs(900.3), '0.90');
    assert.equal(formatSecondsFromMs(1.2), '0.0012');
    assert.equal(formatSecondsFromMs(123456.7), '123.46');
    assert.equal(formatSecondsFromMs(0), '0.00');
  });

  void test('null, NaN and infinities render as a dash, never as NaN', () => {
    for (const f of [formatTps, formatMs, formatSecondsFromMs, formatSignedPercent, formatPercent, formatRatio]) {
      assert.equal(f(null), '—');
      assert.equal(f(undefined), '—');
      assert.equal(f(NaN), '—');
      assert.equal(f(Infinity), '—');
    }
    assert.equal(formatSpeedup(null, [0.1, 0.2]), '—');
  });

  void test('percentages, ratios and speedups', () => {
    assert.equal(formatSignedPercent(0.35), '+35.0 %');
    assert.equal(formatSignedPercent(-0.42), '-42.0 %');
    assert.equal(formatSignedPercent(0), '0.0 %');
    assert.equal(formatSignedPercent(-0.0000001), '-0.00001 %');
    assert.equal(formatPercent(0.8), '80 %');
    assert.equal(formatPercent(2 / 3), '66.7 %');
    assert.equal(formatPercent(1), '100 %');
    assert.equal(formatRatio(1.8), '1.80×');
    assert.equal(formatSpeedup(0.35, [0.33, 0.37]), '+35.0 % (95 % CI +33.0 % … +37.0 %)');
    assert.equal(formatSpeedup(0.35, null), '+35.0 %');
  });

  void test('durations and axis ticks', () => {
    assert.equal(formatDuration('2026-01-21T10:00:00Z', '2026-01-21T10:12:03Z'), '12m 03s');
    assert.equal(formatDuration('2026-01-21T10:00:00Z', '2026-01-21T12:00:09Z'), '2h 00m 09s');
    assert.equal(formatDuration('2026-01-21T10:00:00Z', '2026-01-21T10:00:04.6Z'), '5s');
    assert.equal(formatDuration('2026-01-21T10:00:00Z', null), null);
    assert.equal(formatDuration('garbage', '2026-01-21T10:00:00Z'), null);
    assert.equal(formatDuration('2026-01-21T10:00:01Z', '2026-01-21T10:00:00Z'), null);
    assert.equal(formatTick(0), '0');
    assert.equal(formatTick(2.5), '2.5');
    assert.equal(formatTick(0.1 + 0.2), '0.3');
    assert.equal(formatTick(2e8), '2e8');
  });
});

void describe('report escaping', () => {
  void test('HTML: markup characters and quotes become entities; control characters go', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(escapeHtml('a\u0000b\u001bc'), 'abc');
  });

  void test('markdown: markup characters are backslash-escaped and the text stays on one line', () => {
    assert.equal(escapeMarkdown('a|b'), 'a\\|b');
    assert.equal(escapeMarkdown('<script>'), '\\<script\\>');
    assert.equal(
      escapeMarkdown('*x* _y_ `z` [l](u) ~s~ &amp; \\'),
      '\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u) \\~s\\~ \\&amp; \\\\',
    );
    assert.equal(escapeMarkdown('two\nlines\r\nand\ttab'), 'two lines and tab');
    assert.equal(escapeMarkdown('qwen2.5-coder:32b'), 'qwen2.5-coder:32b', 'ordinary names unchanged');
    assert.equal(toSingleLine('a\u2028b'), 'a b');
  });

  void test('truncate counts code points and marks the cut', () => {
    assert.equal(truncate('abcdef', 6), 'abcdef');
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('😀😀😀', 2), '😀…');
  });

  void test('display width: wide CJK and emoji count double, combining marks zero', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('— · ≥ ×'), 7);
    assert.equal(displayWidth('模型'), 4);
    assert.equal(displayWidth('😀'), 2);
    assert.equal(displayWidth('e\u0301'), 1);
  });
});

void describe('markdown tables', () => {
  void test('columns are padded to the widest cell, by display width', () => {
    const t = markdownTable(
      ['Model', 'srv1'],
      [
        ['模型', '1.0 tok/s · 5 ms'],
        ['qwen2.5:3b', '—'],
      ],
    ).split('\n');
    assert.deepEqual(t, [
      '| Model      | srv1             |',
      '| ---------- | ---------------- |',
      '| 模型       | 1.0 tok/s · 5 ms |',
      '| qwen2.5:3b | —                |',
    ]);
    assert.equal(new Set(t.map(displayWidth)).size, 1);
  });

  void test('short columns still get a valid delimiter; right alignment; ragged rows padded', () => {
    const t = markdownTable(['a', 'b'], [['1'], ['2', '3']], ['left', 'right']).split('\n');
    assert.deepEqual(t, ['| a   |   b |', '| --- | --: |', '| 1   |     |', '| 2   |   3 |']);
  });
});

void describe('chart scale', () => {
  void test('a round maximum at or above the data and evenly spaced ticks', () => {
    assert.deepEqual(niceScale(7.77), { max: 8, ticks: [0, 2, 4, 6, 8] });
    assert.deepEqual(niceScale(40), { max: 40, ticks: [0, 10, 20, 30, 40] });
    assert.equal(niceScale(0.0123).max, 0.0125);
    assert.equal(niceScale(123456789).max, 125000000);
    assert.deepEqual(niceScale(0), { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] });
    assert.equal(niceScale(NaN).max, 1);
    for (const m of [0.7, 3, 7.77, 99, 101, 6120, 98765432]) {
      const s = niceScale(m);
      assert.ok(s.max >= m && s.ticks.length >= 4 && s.ticks.length <= 12, `${m}: ${JSON.stringify(s)}`);
      assert.equal(s.ticks.at(-1), s.max);
    }
  });
});
