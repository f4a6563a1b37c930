/**
 * JSON the way Ollama's Go server reads and writes it.
 *
 * Reading: gin's `ShouldBindJSON` runs a `json.Decoder`, which reads the first JSON value only
 * (trailing bytes are ignored), reports `EOF` for an empty body, `unexpected EOF` for a truncated
 * one and `invalid character 'x' <context>` for a syntax error. The scanner below reproduces those
 * messages so clients that log server errors see the same text.
 *
 * Writing: `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings (HTML-safe
 * output), which `JSON.stringify` does not.
 */

/** Result of reading a request body as Go's `json.Decoder` would. */
export type GoJsonDecodeResult =
  | { readonly kind: 'ok'; readonly value: unknown }
  | { readonly kind: 'eof' }
  | { readonly kind: 'error'; readonly message: string };

class GoSyntaxError extends Error {}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** Go's `quoteChar`: how a byte is shown inside `invalid character ...`. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const quoted = JSON.stringify(c);
  return `'${quoted.slice(1, -1)}'`;
}

/**
 * A recursive-descent validator whose error texts follow Go's `encoding/json` scanner states.
 * It only finds where the first value ends; `JSON.parse` then builds the value (same grammar).
 */
class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private fail(c: string, context: string): never {
    throw new GoSyntaxError(`invalid character ${quoteChar(c)} ${context}`);
  }

  private next(): string {
    const c = this.text[this.pos];
    if (c === undefined) throw new GoSyntaxError('unexpected EOF');
    this.pos += 1;
    return c;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && WHITESPACE.has(this.text[this.pos] ?? '')) this.pos += 1;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  get offset(): number {
    return this.pos;
  }

  value(): void {
    this.skipSpace();
    const c = this.next();
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true');
      case 'f':
        return this.literal('false');
      case 'n':
        return this.literal('null');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number(c);
        this.fail(c, 'looking for beginning of value');
    }
  }

  private literal(word: string): void {
    for (let i = 1; i < word.length; i += 1) {
      const c = this.next();
      if (c !== word[i]) this.fail(c, `in literal ${word} (expecting ${quoteChar(word[i] ?? '')})`);
    }
  }

  private object(): void {
    this.skipSpace();
    let c = this.next();
    if (c === '}') return;
    for (;;) {
      if (c !== '"') this.fail(c, 'looking for beginning of object key string');
      this.string();
      this.skipSpace();
      c = this.next();
      if (c !== ':') this.fail(c, 'after object key');
      this.value();
      this.skipSpace();
      c = this.next();
      if (c === '}') return;
      if (c !== ',') this.fail(c, 'after object key:value pair');
      this.skipSpace();
      c = this.next();
    }
  }

  private array(): void {
    this.skipSpace();
    if (this.peek() === ']') {
      this.pos += 1;
      return;
    }
    for (;;) {
      this.value();
      this.skipSpace();
      const c = this.next();
      if (c === ']') return;
      if (c !== ',') this.fail(c, 'after array element');
    }
  }

  private string(): void {
    for (;;) {
      const c = this.next();
      if (c === '"') return;
      if (c === '\\') {
        const e = this.next();
        if (e === 'u') {
          for (let i = 0; i < 4; i += 1) {
            const h = this.next();
            if (!/[0-9a-fA-F]/.test(h)) this.fail(h, 'in \\u hexadecimal character escape');
          }
        } else if (!'bfnrt\\/"'.includes(e)) {
          this.fail(e, 'in string escape code');
        }
      } else if (c < ' ') {
        this.fail(c, 'in string literal');
      }
    }
  }

  private digits(): void {
    while (/[0-9]/.test(this.peek() ?? '')) this.pos += 1;
  }

  private number(first: string): void {
    let c = first;
    if (c === '-') {
      c = this.next();
      if (!(c >= '0' && c <= '9')) this.fail(c, 'in numeric literal');
    }
    if (c !== '0') this.digits();
    if (this.peek() === '.') {
      this.pos += 1;
      const d = this.next();
      if (!(d >= '0' && d <= '9')) this.fail(d, 'after decimal point in numeric literal');
      this.digits();
    }
    const e = this.peek();
    if (e === 'e' || e === 'E') {
      this.pos += 1;
      let d = this.next();
      if (d === '+' || d === '-') d = this.next();
      if (!(d >= '0' && d <= '9')) this.fail(d, 'in exponent of numeric literal');
      this.digits();
    }
  }
}

/** Reads the first JSON value of `text` like Go's `json.Decoder.Decode`. */
export function decodeGoJson(text: string): GoJsonDecodeResult {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  if (scanner.atEnd()) return { kind: 'eof' };
  const start = scanner.offset;
  try {
    scanner.value();
  } catch (err) {
    if (err instanceof GoSyntaxError) return { kind: 'error', message: err.message };
    throw err;
  }
  return { kind: 'ok', value: JSON.parse(text.slice(start, scanner.offset)) as unknown };
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;

/** `json.Marshal`: like `JSON.stringify`, plus Go's HTML-safe escaping. Undefined members are dropped. */
export function goMarshal(value: unknown): string {
  return JSON.stringify(value).replace(HTML_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
