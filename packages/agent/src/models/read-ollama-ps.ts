/**
 * Ollama's `GET /api/ps` as the wire's `OllamaModel` list. Ollama's own fields: `name`, `size`
 * (resident bytes), `size_vram` (the part on the GPU), `expires_at` (RFC 3339; years ahead when
 * the model is kept forever), `context_length` (newer versions only) and `details`.
 */
import { isRecord } from '@kage/common';
import type { OllamaModel } from '@kage/wire';

/** An `expires_at` this far ahead means "kept loaded for ever" (keep_alive < 0 is stored as MaxInt64). */
const FOREVER_AFTER_MS = 100 * 365 * 24 * 3_600_000;

/** The loaded models, in Ollama's order; throws a TypeError naming what is wrong with the answer. */
export function readOllamaPs(body: unknown, now: number): OllamaModel[] {
  const models = isRecord(body) ? body['models'] : undefined;
  if (!Array.isArray(models)) throw new TypeError('the answer has no "models" list: is this Ollama\'s /api/ps?');
  const out: OllamaModel[] = [];
  for (const entry of models) {
    if (!isRecord(entry)) continue;
    const name = typeof entry['name'] === 'string' ? entry['name'] : entry['model'];
    if (typeof name !== 'string' || name === '') continue;
    const details = isRecord(entry['details']) ? entry['details'] : {};
    const expires = typeof entry['expires_at'] === 'string' ? Date.parse(entry['expires_at']) : NaN;
    const size = bytes(entry['size']);
    const vram = bytes(entry['size_vram']);
    const context = entry['context_length'];
    out.push({
      name,
      ...(size === undefined ? {} : { size_bytes: size }),
      ...(vram === undefined ? {} : { vram_bytes: vram }),
      ...(Number.isFinite(expires) && expires - now < FOREVER_AFTER_MS ? { expires_at_ms: expires } : {}),
      ...(typeof context === 'number' && Number.isInteger(context) && context > 0 ? { context_length: context } : {}),
      parameter_size: typeof details['parameter_size'] === 'string' ? details['parameter_size'] : '',
      quantization: typeof details['quantization_level'] === 'string' ? details['quantization_level'] : '',
    });
  }
  return out;
}

function bytes(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}
