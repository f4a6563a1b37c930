/**
 * Deterministic answer text. Each token is a short piece of a canned code answer, so streamed
 * chunks look like a model writing Python, and the same seed always yields the same text.
 */
import type { Random } from './random.js';

// Several tokens per line, so the source reads like the answer it streams.
// prettier-ignore
const ANSWER = [
  'Here', ' is', ' a', ' binary', ' search', ' function', ':', '\n\n', '```', 'python', '\n', 'def', ' binary',
  '_search', '(', 'items', ':', ' list', '[', 'int', '],', ' target', ':', ' int', ')', ' ->', ' int', ':', '\n',
  '    """', 'Return', ' the', ' index', ' of', ' target', ' in', ' sorted', ' items', ',', ' or', ' -', '1', '."""',
  '\n', '    lo', ',', ' hi', ' =', ' 0', ',', ' len', '(', 'items', ')', ' -', ' 1', '\n', '    while', ' lo', ' <=',
  ' hi', ':', '\n', '        mid', ' =', ' (', 'lo', ' +', ' hi', ')', ' //', ' 2', '\n', '        if', ' items',
  '[', 'mid', ']', ' ==', ' target', ':', '\n', '            return', ' mid', '\n', '        if', ' items', '[',
  'mid', ']', ' <', ' target', ':', '\n', '            lo', ' =', ' mid', ' +', ' 1', '\n', '        else', ':',
  '\n', '            hi', ' =', ' mid', ' -', ' 1', '\n', '    return', ' -', '1', '\n', '```', '\n\n', 'It',
  ' runs', ' in', ' O', '(', 'log', ' n', ')', ' time', '.',
];

/** Length of the natural answer: a request allowing more tokens stops here with reason `stop`. */
export const NATURAL_ANSWER_TOKENS = ANSWER.length;

/**
 * Yields the text of token `index` (0-based). Past the canned answer it keeps writing plausible
 * filler, for requests that ban end-of-sequence (EXO's bench endpoint).
 */
export function tokenText(index: number, random?: Random): string {
  if (index < ANSWER.length) return ANSWER[index] ?? ' ';
  const filler = [' and', ' the', ' loop', ' keeps', ' halving', ' the', ' range', '.'];
  const pick = random ? Math.floor(random.next() * filler.length) : index % filler.length;
  return filler[pick] ?? ' ';
}
