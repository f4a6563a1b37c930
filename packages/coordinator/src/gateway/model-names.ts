// TEMPORARY SHIM: replaced by the full catalogue module.
const CATALOGUE: Array<[string, string]> = [
  ['qwen2.5:3b', 'mlx-community/Qwen2.5-3B-Instruct-4bit'],
  ['qwen2.5-coder:32b', 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit'],
  ['llama3.3:70b', 'mlx-community/Llama-3.3-70B-Instruct-4bit'],
];
export interface ModelNames {
  resolve(requested: string): { ollama: string | null; exo: string | null };
}
export function createModelNames(aliases: ReadonlyArray<{ name: string; exo: string }>): ModelNames {
  const pairs = [...aliases.map((a) => [a.name, a.exo] as [string, string]), ...CATALOGUE];
  return {
    resolve(requested) {
      if (
        requested.length > 256 ||
        requested.includes('..') ||
        requested.startsWith('/') ||
        // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
        /[\\\x00-\x1f%]/.test(requested)
      ) {
        throw new Error(`invalid model name ${JSON.stringify(requested.slice(0, 40))}`);
      }
      const tag = requested.includes('/') ? null : requested.includes(':') ? requested : `${requested}:latest`;
      for (const [o, e] of pairs) if (o === tag || e === requested) return { ollama: o, exo: e };
      return { ollama: tag, exo: requested.includes('/') ? requested : null };
    },
  };
}
