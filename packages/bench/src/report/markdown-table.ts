/**
 * GitHub-flavoured markdown tables padded to equal column widths, so the raw text reads as a
 * table in a terminal too. Cells must already be escaped (see `escapeMarkdown`).
 */
import { displayWidth } from './escape.js';

/** Column alignment. */
export type Align = 'left' | 'right';

/** Renders a header and rows (missing cells are blank) as aligned markdown table lines. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: Align[],
): string {
  const cols = Math.max(header.length, ...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let i = 0; i < cols; i++) {
    // At least 3: the delimiter row needs `---`.
    widths.push(Math.max(3, ...[header, ...rows].map((r) => displayWidth(r[i] ?? ''))));
  }
  const line = (cells: readonly string[]): string =>
    `| ${widths.map((w, i) => pad(cells[i] ?? '', w, align?.[i] ?? 'left')).join(' | ')} |`;
  const delimiter = `| ${widths
    .map((w, i) => ((align?.[i] ?? 'left') === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)))
    .join(' | ')} |`;
  return [line(header), delimiter, ...rows.map(line)].join('\n');
}

function pad(text: string, width: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}
