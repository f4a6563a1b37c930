/**
 * Escaping for the report renderers. Model names, target ids, run names and error texts come from
 * user files and remote servers, so every string from the report JSON passes through one of these
 * before it reaches markdown or HTML.
 */

// C0/C1 controls except tab and newline, which `toSingleLine` handles.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Collapses line breaks and tabs to spaces and drops control characters (a table row must stay one line). */
export function toSingleLine(text: string): string {
  return text.replace(/\r\n?|\n|\t|\u2028|\u2029/g, ' ').replace(CONTROL, '');
}

/** Text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(CONTROL, '').replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c);
}

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Inline markdown text: one line, with the characters that would start markup (emphasis, links,
 * code, raw HTML, table pipes, entities) backslash-escaped. CommonMark allows a backslash before
 * any ASCII punctuation, and a terminal reader still sees the name.
 */
export function escapeMarkdown(text: string): string {
  return toSingleLine(text).replace(/[\\`*_[\]<>|&~]/g, (c) => `\\${c}`);
}

/** Cuts `text` to at most `max` characters (code points), ending with `…` when cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  const limit = Math.max(1, Math.floor(max));
  return chars.length <= limit ? text : `${chars.slice(0, limit - 1).join('')}…`;
}

// Zero-width: combining marks (plus, by code point below, zero-width space/joiners and variation selectors).
const COMBINING = /^[\p{Mn}\p{Me}]$/u;

function isZeroWidth(ch: string, cp: number): boolean {
  return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f) || COMBINING.test(ch);
}

/** True for code points a terminal draws two cells wide (CJK, Hangul, full-width forms, most emoji). */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns `text` takes in a monospace terminal, so markdown tables line up there too. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (isZeroWidth(ch, cp)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}
