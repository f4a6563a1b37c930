/**
 * The matrix's EXO model ids, as EXO v1.0.71 resolves them when it places an instance
 * (`ModelCard.load`): a card it has (`GET /models`: the built-in cards and those added with
 * `POST /models/add`), else a Hugging Face repository it fetches the card from. Whether such a
 * repository exists is asked through the node's own `GET /models/search`, which searches Hugging
 * Face from the EXO node: that answers both "does the id exist" and "can this node reach Hugging
 * Face", and it changes nothing (unlike `POST /models/add`).
 */
import { fail, gb, pass, warn, type CheckResult } from './check-result.js';
import { httpJson } from './probes.js';

interface ModelEntry {
  id?: string;
  storage_size_megabytes?: number;
}

/** A model id EXO can use, with its size when its card says it. */
export interface ResolvedExoModel {
  id: string;
  /** Weights in bytes, from the card; null for an id EXO has no card for yet. */
  bytes: number | null;
}

/**
 * Hugging Face ids compare without case (the hub resolves `mlx-community/qwen…` as `…/Qwen…`);
 * EXO's cards do not: an id in another case is fetched from the hub like a card-less one.
 */
const sameRepo = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

async function searchHub(exoUrl: string, query: string): Promise<string[] | { error: string }> {
  const answer = await httpJson(`${exoUrl}/models/search?query=${encodeURIComponent(query)}&limit=20`);
  if ('error' in answer) return answer;
  if (!Array.isArray(answer.json)) return { error: 'no list' };
  return (answer.json as { id?: unknown }[]).flatMap((r) => (typeof r.id === 'string' ? [r.id] : []));
}

/**
 * One check per id (`exo-model ID`), and the ids that resolve. `exoUrl` is an EXO node's API;
 * every node of a cluster has the same cards. With `availableBytes` (the memory available on the
 * target's nodes together), a card larger than it is a warning: EXO's placement will refuse it.
 */
export async function checkExoModels(
  exoUrl: string,
  ids: readonly string[],
  availableBytes: number | null = null,
): Promise<{ checks: CheckResult[]; resolved: ResolvedExoModel[] }> {
  const models = await httpJson(`${exoUrl}/models`);
  const data = 'error' in models ? undefined : (models.json as { data?: ModelEntry[] } | null)?.data;
  if (!Array.isArray(data)) {
    const why = 'error' in models ? models.error : 'no model list';
    return {
      checks: [warn('exo-models', `cannot list EXO's models at ${exoUrl}/models (${why})`, 'is EXO running there?')],
      resolved: [],
    };
  }
  const checks: CheckResult[] = [];
  const resolved: ResolvedExoModel[] = [];
  for (const id of ids) {
    const check = `exo-model ${id}`;
    const card = data.find((m) => m.id === id);
    if (card !== undefined) {
      const bytes = typeof card.storage_size_megabytes === 'number' ? card.storage_size_megabytes * 1024 ** 2 : null;
      resolved.push({ id, bytes });
      if (bytes !== null && availableBytes !== null && bytes > availableBytes) {
        checks.push(
          warn(
            check,
            `${gb(bytes)} of weights, the target's nodes have ${gb(availableBytes)} available together: EXO cannot place it`,
            'free memory on those nodes, add a node to the target, or drop the model',
          ),
        );
        continue;
      }
      const room = availableBytes === null ? '' : `, ${gb(availableBytes)} available on the target's nodes`;
      checks.push(pass(check, `EXO has its card${bytes === null ? '' : ` (${gb(bytes)} of weights${room})`}`));
      continue;
    }
    const found = await searchHub(exoUrl, id);
    if (!Array.isArray(found)) {
      checks.push(
        warn(
          check,
          `EXO has no card for it and could not search Hugging Face (${found.error}): placing it may fail`,
          `give the EXO nodes Hugging Face access (HF_TOKEN, HF_ENDPOINT), or check the id at https://huggingface.co/${id}`,
        ),
      );
      continue;
    }
    if (found.some((f) => sameRepo(f, id))) {
      checks.push(
        pass(check, 'no card yet: EXO fetches it from Hugging Face when it places it (POST /models/add does it ahead)'),
      );
      resolved.push({ id, bytes: null });
      continue;
    }
    // The repository's own name may exist under another owner: that is the likely typo.
    const name = id.slice(id.indexOf('/') + 1);
    const similar = await searchHub(exoUrl, name);
    const suggestions = Array.isArray(similar) ? similar.slice(0, 3) : [];
    checks.push(
      fail(
        check,
        'neither a card on EXO nor a repository on Hugging Face: placing it fails',
        suggestions.length > 0
          ? `fix the matrix's exo id; Hugging Face has ${suggestions.join(', ')}`
          : "fix the matrix's exo id (a Hugging Face repository, e.g. mlx-community/Qwen2.5-3B-Instruct-4bit)",
      ),
    );
  }
  return { checks, resolved };
}
