/**
 * Two short-lived parts of EXO's `/state` (v1.0.71 `shared/apply.py`, `shared/types/tasks.py`,
 * `shared/types/worker/runners.py`, `master/main.py`, `worker/runner/llm_inference/runner.py`):
 *
 * - `tasks`: the master turns every chat request into a `TextGeneration` task (`TaskCreated`,
 *   status `Pending`) on the instance with the fewest tasks. A runner that takes it while idle
 *   (`RunnerReady`) reports it `Running`; one that is already generating only acknowledges it, so
 *   it stays `Pending`. When the API has sent the last chunk it sends `TaskFinished` and the task is
 *   deleted. The task's `taskParams` are the request as `TextGenerationTaskParams` (a plain pydantic
 *   model: snake_case keys) with the card's sampling defaults filled in.
 * - runner teardown: when an instance is deleted, each runner receives a `Shutdown` task and
 *   reports `RunnerShuttingDown` while it frees the model, then `RunnerShutdown`, which removes it
 *   from `runners` (the instance itself is gone from `instances` already).
 */
import type { ChatRequest } from './api-requests.js';
import { newUuid } from './ids.js';
import type { GenerationJob } from './instance-scheduler.js';
import type { ExoCard } from './model-cards.js';
import type { RunnerStatusJson, TaskJson } from './wire-types.js';

/**
 * How long a runner stays `RunnerShuttingDown`: closing the generator, `mx.clear_cache()` and a
 * garbage collection, well under a second (an estimate).
 */
export const RUNNER_SHUTDOWN_MS = 300;

const INPUT_ROLES = new Set(['user', 'assistant', 'developer']);

/** `TextGenerationTaskParams` of a chat request (`chat_request_to_text_generation`), as JSON. */
export function taskParamsJson(chat: ChatRequest, bench: boolean, card: ExoCard | undefined): Record<string, unknown> {
  const system = chat.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const input = chat.messages.filter((m) => INPUT_ROLES.has(m.role)).map((m) => ({ role: m.role, content: m.content }));
  const o = chat.options;
  // `with_card_sampling_defaults`: a value the request leaves unset comes from the card.
  const pick = (key: string, fromCard: number | undefined): number | boolean | null =>
    (o[key] ?? null) !== null ? o[key]! : (fromCard ?? null);
  const sampling = card?.sampling ?? {};
  return {
    model: chat.model,
    input: input.length > 0 ? input : [{ role: 'user', content: '' }],
    instructions: system.length > 0 && system.join('\n') !== '' ? system.join('\n') : null,
    max_output_tokens: chat.maxTokensRequested,
    temperature: pick('temperature', sampling.temperature),
    top_p: pick('top_p', sampling.topP),
    stream: bench ? false : chat.stream,
    tools: null,
    bench,
    use_prefix_cache: bench ? chat.usePrefixCache : false,
    top_k: pick('top_k', sampling.topK),
    stop: null,
    seed: o.seed ?? null,
    chat_template_messages:
      chat.messages.length > 0 ? chat.messages.map((m) => ({ role: m.role, content: m.content })) : null,
    reasoning_effort: null,
    enable_thinking: null,
    logprobs: o.logprobs ?? false,
    top_logprobs: o.top_logprobs ?? null,
    min_p: pick('min_p', sampling.minP),
    repetition_penalty: pick('repetition_penalty', sampling.repetitionPenalty),
    repetition_context_size: o.repetition_context_size ?? null,
    presence_penalty: pick('presence_penalty', sampling.presencePenalty),
    frequency_penalty: pick('frequency_penalty', sampling.frequencyPenalty),
    images: [],
    image_hashes: {},
  };
}

/** The master's `TextGeneration` tasks, keyed by task id. */
export class TaskTable {
  private readonly tasks = new Map<string, TaskJson>();

  constructor(private readonly onChange: () => void) {}

  /**
   * Registers `job` as a task of `instanceId` and returns the job to submit instead: it marks the
   * task `Running` when an idle runner takes it and deletes the task when the request ends.
   */
  track(job: GenerationJob, instanceId: string): GenerationJob {
    const taskId = newUuid();
    const task: TaskJson = {
      TextGeneration: {
        taskId,
        taskStatus: 'Pending',
        instanceId,
        commandId: job.commandId ?? newUuid(),
        taskParams: job.taskParams ?? {},
        errorType: null,
        errorMessage: null,
      },
    };
    this.tasks.set(taskId, task);
    this.onChange();
    const end = (): void => {
      if (this.tasks.delete(taskId)) this.onChange();
    };
    job.signal.addEventListener('abort', end, { once: true });
    return {
      ...job,
      onStart: (fromIdle) => {
        job.onStart?.(fromIdle);
        if (fromIdle && this.tasks.has(taskId)) {
          task.TextGeneration.taskStatus = 'Running';
          this.onChange();
        }
      },
      sink: {
        prefill: (processed, total) => job.sink.prefill(processed, total),
        token: (text, final) => {
          job.sink.token(text, final);
          if (final) end();
        },
        error: (message) => {
          job.sink.error(message);
          end();
        },
      },
    };
  }

  json(): Record<string, TaskJson> {
    return Object.fromEntries(this.tasks);
  }
}

/** Runners of deleted instances that are still shutting down. */
export class RunnerShutdowns {
  /** Runner id → when it reports `RunnerShutdown` (ms, wall clock). */
  private readonly until = new Map<string, number>();

  constructor(private readonly onChange: () => void) {}

  begin(runnerIds: readonly string[], now = Date.now()): void {
    for (const id of runnerIds) this.until.set(id, now + RUNNER_SHUTDOWN_MS);
  }

  /** Adds the runners still shutting down to `runners`; forgets those that finished. */
  addTo(runners: Record<string, RunnerStatusJson>, now = Date.now()): void {
    let finished = false;
    for (const [id, until] of this.until) {
      if (now < until) {
        runners[id] = { RunnerShuttingDown: {} };
      } else {
        this.until.delete(id);
        finished = true;
      }
    }
    if (finished) this.onChange();
  }

  clear(): void {
    this.until.clear();
  }
}
