/**
 * The `probe` key of a matrix target: where a coordinator sends the target's requests from. It is
 * validated like every other key, kept in the resolved matrix only when the file sets it (so
 * matrices and reports that do not use it stay byte for byte as they were), and needs `nodes`
 * when it asks for an agent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MatrixInvalidError, parseMatrix, validateMatrix, type MatrixProblem } from '../src/index.js';

const matrix = (targets: string): string =>
  `name: m\nprompt: p\ntargets:\n${targets}\nmodels: [{ name: 'qwen2.5:3b' }]\n`;

function problemsOf(text: string): MatrixProblem[] {
  try {
    parseMatrix(text, { file: 'm.yaml' });
  } catch (err) {
    assert.ok(err instanceof MatrixInvalidError, String(err));
    return [...err.problems];
  }
  assert.fail('matrix was accepted');
}

test('probe: agent and coordinator are kept; without the key the target has none', () => {
  const m = parseMatrix(
    matrix(
      [
        '  - { id: a, kind: ollama, url: "http://10.0.0.1:11434", nodes: [srv1], probe: agent }',
        '  - { id: b, kind: ollama, url: "http://10.0.0.2:11434", nodes: [srv2], probe: coordinator }',
        '  - { id: c, kind: ollama, url: "http://10.0.0.3:11434", nodes: [srv3] }',
      ].join('\n'),
    ),
  );
  assert.equal(m.targets[0]?.probe, 'agent');
  assert.equal(m.targets[1]?.probe, 'coordinator');
  assert.equal('probe' in (m.targets[2] ?? {}), false);
  assert.deepEqual(m.targets[2], { id: 'c', kind: 'ollama', url: 'http://10.0.0.3:11434', nodes: ['srv3'] });
  // The resolved matrix (what the store keeps and a resume validates again) is still valid.
  assert.deepEqual(validateMatrix(JSON.parse(JSON.stringify(m))), m);
});

test('probe must be agent or coordinator, and agent needs nodes', () => {
  const problems = problemsOf(
    matrix(
      [
        '  - { id: a, kind: ollama, url: "http://10.0.0.1:11434", nodes: [srv1], probe: node }',
        '  - { id: b, kind: openai, url: "http://10.0.0.2:8000", probe: agent }',
        '  - { id: c, kind: openai, url: "http://10.0.0.3:8000", nodes: [], probe: agent }',
        '  - { id: d, kind: openai, url: "http://10.0.0.4:8000", probe: coordinator }',
      ].join('\n'),
    ),
  );
  assert.deepEqual(
    problems.map((p) => [p.path, p.line]),
    [
      ['targets[0].probe', 4],
      ['targets[1].probe', 5],
      ['targets[2].probe', 6],
    ],
  );
  assert.match(problems[0]?.reason ?? '', /must be one of agent\|coordinator/);
  assert.match(problems[1]?.reason ?? '', /agent needs nodes/);
});
