/** Making the loaded config read-only, and keeping its secrets out of logs and inspection. */

export function hide(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: false });
}

/** A Map whose mutators throw: `Object.freeze` does not stop `Map.prototype.set`. */
export function readonlyMap<K, V>(map: Map<K, V>): ReadonlyMap<K, V> {
  const refuse = () => {
    throw new TypeError('the coordinator config is read-only');
  };
  for (const name of ['set', 'delete', 'clear']) Object.defineProperty(map, name, { value: refuse });
  return Object.freeze(map);
}

/** Freezes plain objects and arrays; buffers cannot be frozen and are left as they are. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
