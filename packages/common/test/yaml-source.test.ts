import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { excerpt, formatProblem, formatProblems, parseYaml, problemAt, schemaViolations } from '../src/index.js';

function problemsOf(text: string) {
  const parsed = parseYaml(text, 'f.yaml');
  assert.ok(!('source' in parsed), 'expected problems');
  return parsed.problems;
}

test('a YAML alias bomb is a problem of the file, not a crash', () => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i += 1) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const problems = problemsOf(levels.join('\n') + '\n');
  assert.equal(problems.length, 1);
  assert.match(problems[0]?.reason ?? '', /aliases expand too far/);
  assert.equal(problems[0]?.file, 'f.yaml');
});

test('a binary file is named as such, without echoing its bytes', () => {
  const bytes = randomBytes(100_000);
  bytes[10] = 0;
  const problems = problemsOf(bytes.toString('latin1'));
  assert.deepEqual(problems, [
    { file: 'f.yaml', path: '', line: null, column: null, reason: 'not a text file (a NUL byte at offset 10)' },
  ]);
});

test('random text gives at most ten syntax problems plus a count, each short and printable', () => {
  // Printable garbage with YAML's own indicators: many syntax errors, no NUL byte.
  const alphabet = ' :-{}[]&*!|>\'"%@`#,?\n\tabc\u001b\u0007';
  let text = '';
  const rnd = randomBytes(20_000);
  for (const b of rnd) text += alphabet[b % alphabet.length];
  const parsed = parseYaml(text, 'f.yaml');
  if ('source' in parsed) return; // the garbage happened to parse: nothing to show
  const out = formatProblems('config', 'f.yaml', parsed.problems);
  assert.ok(parsed.problems.length <= 11, `${parsed.problems.length} problems`);
  assert.ok(out.length < 11 * 400, `message of ${out.length} characters`);
  const controls = [...out].filter((ch) => ch !== '\n' && ((ch.codePointAt(0) ?? 0) < 0x20 || ch === '\u007f'));
  assert.deepEqual(controls, [], 'control characters are escaped');
});

test('excerpt escapes control characters and clips long text', () => {
  assert.equal(excerpt('a\u001b[2Jb\n', 20), 'a\\x1b[2Jb\\n');
  assert.equal(excerpt('x'.repeat(200), 5), 'xxxxx… (200 characters in all)');
});

test('problems keep file:line:col and key path; unknown keys and custom messages read plainly', () => {
  const text = 'name: a\nsize: -1\nextra: 1\n';
  const parsed = parseYaml(text, 'f.yaml');
  assert.ok('source' in parsed);
  const schema = Type.Object(
    { name: Type.String(), size: Type.Integer({ minimum: 0, errorMessage: 'must be a non-negative integer' }) },
    { additionalProperties: false },
  );
  const found = schemaViolations(schema, parsed.value, []).map((v) =>
    formatProblem(problemAt(parsed.source, 'f.yaml', v.path, v.reason)),
  );
  assert.deepEqual(
    found.sort(),
    ['f.yaml:2:1: size: must be a non-negative integer, got -1', 'f.yaml:3:1: extra: unknown key'].sort(),
  );
});

test('an empty file is one problem', () => {
  assert.deepEqual(problemsOf(''), [
    { file: 'f.yaml', path: '', line: null, column: null, reason: 'the file is empty' },
  ]);
});
