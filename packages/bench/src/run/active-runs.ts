/**
 * The runs executing in one process, owned by whoever starts them. The store needs this list to
 * tell a live run of this process from a leftover: a run whose final store write failed stays
 * `running` with this process's pid as owner, and nothing else distinguishes it from a run that
 * is still going (`BenchStore.reapStaleRuns`).
 */

/** Run ids executing in this process; add when an execution starts, delete when it ends. */
export class ActiveRuns {
  readonly #ids = new Set<string>();

  /** Whether `runId` is executing here. */
  has(runId: string): boolean {
    return this.#ids.has(runId);
  }

  add(runId: string): void {
    this.#ids.add(runId);
  }

  delete(runId: string): void {
    this.#ids.delete(runId);
  }

  /** The ids executing now, in the order they started. */
  ids(): string[] {
    return [...this.#ids];
  }
}
