/**
 * FastAPI/pydantic v2 request validation, reproduced for the fields the emulator reads: the same error
 * `type`, `loc`, `msg`, `input` and `ctx` as a 422 `{"detail": [...]}` from EXO's API. Coercion
 * follows pydantic's lax mode (API types are plain BaseModels): "5" is an int, "true" a bool.
 */

export type Loc = readonly (string | number)[];

export interface PydanticError {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

const TRUE_STRINGS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_STRINGS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/** `'a', 'b' or 'c'`, as pydantic lists expected literals. */
export function expectedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

/** Reads fields of one object, collecting errors. */
export class FieldReader {
  readonly errors: PydanticError[] = [];

  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly base: Loc,
  ) {}

  private fail(key: string | number, type: string, msg: string, input: unknown, ctx?: Record<string, unknown>): void {
    const error: PydanticError = { type, loc: [...this.base, key], msg, input };
    if (ctx) error.ctx = ctx;
    this.errors.push(error);
  }

  /** Location of a field of this object, for errors built by the caller. */
  locOf(key: string): (string | number)[] {
    return [...this.base, key];
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  private missing(key: string): undefined {
    this.fail(key, 'missing', 'Field required', this.obj);
    return undefined;
  }

  str(key: string, required: boolean): string | null | undefined {
    const v = this.obj[key];
    if (v === undefined) return required ? this.missing(key) : undefined;
    if (v === null && !required) return null;
    if (typeof v === 'string') return v;
    this.fail(key, 'string_type', 'Input should be a valid string', v);
    return undefined;
  }

  bool(key: string): boolean | null | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return v;
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1) return v === 1;
    if (typeof v === 'string') {
      const s = v.toLowerCase();
      if (TRUE_STRINGS.has(s)) return true;
      if (FALSE_STRINGS.has(s)) return false;
    }
    if (typeof v === 'string' || typeof v === 'number') {
      this.fail(key, 'bool_parsing', 'Input should be a valid boolean, unable to interpret input', v);
    } else {
      this.fail(key, 'bool_type', 'Input should be a valid boolean', v);
    }
    return undefined;
  }

  int(key: string): number | null | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number') {
      if (Number.isInteger(v)) return v;
      this.fail(key, 'int_from_float', 'Input should be a valid integer, got a number with a fractional part', v);
      return undefined;
    }
    if (typeof v === 'string') {
      if (/^\s*[-+]?\d+\s*$/.test(v)) return Number(v);
      this.fail(key, 'int_parsing', 'Input should be a valid integer, unable to parse string as an integer', v);
      return undefined;
    }
    this.fail(key, 'int_type', 'Input should be a valid integer', v);
    return undefined;
  }

  float(key: string): number | null | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      const n = Number(v.trim());
      if (v.trim() !== '' && Number.isFinite(n)) return n;
      this.fail(key, 'float_parsing', 'Input should be a valid number, unable to parse string as a number', v);
      return undefined;
    }
    this.fail(key, 'float_type', 'Input should be a valid number', v);
    return undefined;
  }

  /** A str Enum member (pydantic error type `enum`). */
  enumOf<T extends string>(key: string, members: readonly T[]): T | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string' && (members as readonly string[]).includes(v)) return v as T;
    const expected = expectedList(members);
    this.fail(key, 'enum', `Input should be ${expected}`, v, { expected });
    return undefined;
  }

  /** A `Literal[...]` (pydantic error type `literal_error`). */
  literal<T extends string>(key: string, members: readonly T[], required: boolean): T | undefined {
    const v = this.obj[key];
    if (v === undefined) return required ? this.missing(key) : undefined;
    if (typeof v === 'string' && (members as readonly string[]).includes(v)) return v as T;
    const expected = expectedList(members);
    this.fail(key, 'literal_error', `Input should be ${expected}`, v, { expected });
    return undefined;
  }

  list(key: string, required: boolean): unknown[] | undefined {
    const v = this.obj[key];
    if (v === undefined) return required ? this.missing(key) : undefined;
    if (Array.isArray(v)) return v as unknown[];
    this.fail(key, 'list_type', 'Input should be a valid list', v);
    return undefined;
  }

  /** Nested model at `key[index]`; returns a reader for it or records `model_type`. */
  nested(list: unknown[], key: string, index: number, className: string): FieldReader | undefined {
    const v = list[index];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      return new FieldReader(v as Record<string, unknown>, [...this.base, key, index]);
    }
    this.errors.push({
      type: 'model_type',
      loc: [...this.base, key, index],
      msg: `Input should be a valid dictionary or instance of ${className}`,
      input: v,
      ctx: { class_name: className },
    });
    return undefined;
  }
}

/**
 * FastAPI's body handling: JSON (or no content type) is parsed, a decode error is `json_invalid`,
 * and anything that is not an object fails the model with `model_attributes_type`.
 */
export function readJsonObjectBody(
  raw: string | undefined,
  contentType: string | undefined,
): { ok: true; body: Record<string, unknown> } | { ok: false; errors: PydanticError[] } {
  const text = raw ?? '';
  if (text.length === 0) {
    return { ok: false, errors: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] };
  }
  const isJson = !contentType || /[/+]json\b/i.test(contentType);
  let value: unknown = text;
  if (isJson) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      const pos = /position (\d+)/.exec(String(err));
      return {
        ok: false,
        errors: [
          {
            type: 'json_invalid',
            loc: ['body', pos ? Number(pos[1]) : 0],
            msg: 'JSON decode error',
            input: {},
            ctx: { error: 'Expecting value' },
          },
        ],
      };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      errors: [
        {
          type: 'model_attributes_type',
          loc: ['body'],
          msg: 'Input should be a valid dictionary or object to extract fields from',
          input: value,
        },
      ],
    };
  }
  return { ok: true, body: value as Record<string, unknown> };
}
