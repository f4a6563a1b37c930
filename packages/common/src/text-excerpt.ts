/**
 * Short, printable quotes of untrusted text. A config or matrix file may be binary or megabytes
 * long, and its bytes end up in error messages that go to a terminal or the journal: control
 * characters could move the cursor or clear the screen, and a long run of bytes buries the message.
 */

/** Escapes control and non-printable characters as `\xNN` / `\uNNNN` and clips to `max` characters. */
export function excerpt(text: string, max = 80): string {
  let out = '';
  let count = 0;
  for (const ch of text) {
    if (count >= max) return `${out}… (${text.length} characters in all)`;
    out += printable(ch);
    count += 1;
  }
  return out;
}

function printable(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (ch === '\n') return '\\n';
  if (ch === '\t') return '\\t';
  // C0/C1 controls, DEL, the replacement character (undecodable bytes), bidi overrides.
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp === 0xfffd || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
    return `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return ch;
}
