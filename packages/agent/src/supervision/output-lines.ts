/**
 * Turns a child's stdout/stderr byte stream into log lines. A pipe must always be drained (a full
 * 64 KiB pipe blocks the child), lines may arrive split across chunks and across UTF-8 sequences,
 * and a child that never prints a newline must not grow memory without bound.
 */
import { StringDecoder } from 'node:string_decoder';

/** Longest line kept in one piece; longer ones are cut and flagged. */
export const MAX_LINE_CHARS = 16 * 1024;

export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #onLine: (line: string, truncated: boolean) => void;
  #partial = '';

  constructor(onLine: (line: string, truncated: boolean) => void) {
    this.#onLine = onLine;
  }

  push(chunk: Buffer | string): void {
    let text = this.#partial + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      this.#emit(text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LINE_CHARS) {
      this.#onLine(text.slice(0, MAX_LINE_CHARS), true);
      text = text.slice(MAX_LINE_CHARS);
    }
    this.#partial = text;
  }

  /** Emit what is left when the stream ends without a final newline. */
  end(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest.length > 0) this.#emit(rest);
  }

  #emit(line: string): void {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (clean.length > MAX_LINE_CHARS) {
      for (let i = 0; i < clean.length; i += MAX_LINE_CHARS) this.#onLine(clean.slice(i, i + MAX_LINE_CHARS), true);
    } else {
      this.#onLine(clean, false);
    }
  }
}

/** The last `capacity` lines a child printed, for crash reports. */
export class LineRing {
  readonly #capacity: number;
  #lines: string[] = [];

  constructor(capacity = 200) {
    this.#capacity = capacity;
  }

  add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.splice(0, this.#lines.length - this.#capacity);
  }

  lines(): string[] {
    return [...this.#lines];
  }

  clear(): void {
    this.#lines = [];
  }
}
