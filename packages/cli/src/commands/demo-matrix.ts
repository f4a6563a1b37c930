/**
 * The seed plan's matrix, pointed at the emulated lab, with token counts small enough that the
 * demo ends in a few minutes on two cores (the 32B and 70B models decode at 1–3 tok/s on the
 * emulated CPU nodes).
 */
import { validateMatrix, type Matrix } from '@kage/bench';
import type { DemoNode } from './demo-lab.js';

export const DEMO_PROMPT = 'Write a Python function that implements binary search. Include docstring and type hints.';

export function demoMatrix(nodes: readonly DemoNode[]): Matrix {
  const node = (hostname: string) => {
    const found = nodes.find((n) => n.hostname === hostname);
    if (!found) throw new Error(`demo node ${hostname} missing`);
    return found;
  };
  return validateMatrix(
    {
      // The reports add "(emulated)" themselves.
      name: 'kage-demo: the seed matrix',
      prompt: DEMO_PROMPT,
      max_tokens: 8,
      repetitions: 3,
      warmup: 1,
      concurrency: [1],
      num_ctx: 4096,
      temperature: 0,
      seed: 42,
      targets: [
        { id: 'ollama-srv1', kind: 'ollama', url: node('srv1').ollama.url, nodes: ['srv1'] },
        { id: 'ollama-rog', kind: 'ollama', url: node('rog').ollama.url, nodes: ['rog'] },
        { id: 'exo-cluster', kind: 'exo', url: node('srv1').exo.url, nodes: ['srv1', 'srv2', 'rog'] },
      ],
      models: [
        { name: 'qwen2.5:3b', exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit' },
        { name: 'qwen2.5-coder:32b', exo: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit' },
        { name: 'llama3.3:70b', exo: 'mlx-community/Llama-3.3-70B-Instruct-4bit' },
      ],
      decision: {
        candidate: 'exo-cluster',
        baselines: ['ollama-srv1', 'ollama-rog'],
        go_speedup: 0.3,
        evaluate_speedup: 0.1,
        max_ttft_ratio: 2.0,
      },
    },
    { file: '<kage demo>' },
  );
}
