/**
 * sd_notify(3) for the agent: `READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1` to `$NOTIFY_SOCKET`.
 *
 * How: each message is one `systemd-notify` run (execFile, no shell, a timeout). Node has no
 * AF_UNIX datagram sockets (removed in 0.5; nodejs/node#29339), and the npm options are native
 * addons: `unix-dgram` and `sd-notify` need node-gyp, a compiler (and libsystemd headers) on every
 * node plus an approved install script, and have broken on Node majors before (hot-shots PR #290);
 * `node-unix-socket` ships prebuilt binaries but is a young, single-maintainer package. The
 * `systemd-notify` binary is part of systemd itself, so it exists wherever there is a socket to
 * talk to, speaks every socket form (`/path`, `@abstract`, and `vsock:` in newer versions), and,
 * since v246, waits until PID 1 has processed the message (`sd_notify_barrier`), which fixes the old
 * race where a short-lived sender's message could not be attributed to the unit. The cost is one
 * short process per message: READY and STOPPING once, STATUS on state changes, WATCHDOG every
 * WatchdogSec/2 (15 s in the shipped unit). Because the sender is a child, the unit needs
 * `NotifyAccess=all`.
 *
 * Every method resolves (never rejects): true when the message was handed to the service manager,
 * false when there is no socket (not under systemd) or sending failed (logged at warn).
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** systemd's default PATH for services; the notifier never reads the agent's own environment. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SdNotifierOptions {
  /** `$NOTIFY_SOCKET` (from `readDaemonEnv`); null or undefined turns every method into a no-op. */
  socket: string | null | undefined;
  log: Logger;
  /** The notify program. @default 'systemd-notify' (looked up in systemd's default PATH) */
  command?: string;
  /** Kill a send that has not finished after this long. @default 5000 (systemd-notify's own barrier timeout) */
  timeoutMs?: number;
  /** The agent's pid, announced as `MAINPID` with READY. @default process.pid */
  pid?: number;
}

export interface SdNotifier {
  /** True when there is a socket to notify. */
  readonly enabled: boolean;
  /** `READY=1` (+ `MAINPID`, + `STATUS=status` when given): startup is complete. */
  ready(status?: string): Promise<boolean>;
  /** `STATUS=text`: shown by `systemctl status kage-agent`. */
  status(text: string): Promise<boolean>;
  /** `WATCHDOG=1`. Skipped (resolves false) while a previous ping is still being sent. */
  watchdog(): Promise<boolean>;
  /** `STOPPING=1` (+ `STATUS=status`): shutdown has begun. */
  stopping(status?: string): Promise<boolean>;
  /** Send raw `KEY=VALUE` assignments (e.g. `EXTEND_TIMEOUT_USEC=…`). */
  notify(assignments: readonly string[]): Promise<boolean>;
  /** Waits for sends in flight; later calls resolve false. Idempotent. */
  close(): Promise<void>;
}

/** Builds a notifier. Nothing is sent until a method is called. */
export function createSdNotifier(options: SdNotifierOptions): SdNotifier {
  return new SystemdNotifyNotifier(options);
}

/** The argv for one message: `--pid` rides with READY so systemd learns the main pid as well. */
export function buildNotifyArgs(assignments: readonly string[], pid: number | null): string[] {
  const args = pid === null ? [] : [`--pid=${pid}`];
  for (const a of assignments) args.push(sanitizeAssignment(a));
  return args;
}

/** A status line must stay one line: the protocol is newline-separated `KEY=VALUE`. */
function sanitizeAssignment(assignment: string): string {
  return assignment.replace(/[\r\n]+/g, ' ');
}

class SystemdNotifyNotifier implements SdNotifier {
  readonly enabled: boolean;
  readonly #socket: string | null;
  readonly #log: Logger;
  readonly #command: string;
  readonly #timeoutMs: number;
  readonly #pid: number;
  /** Sends run one after another, so READY never overtakes an earlier STATUS, nor STOPPING a READY. */
  #queue: Promise<unknown> = Promise.resolve();
  #pingPending = false;
  #closed = false;
  #warnedMissing = false;

  constructor(options: SdNotifierOptions) {
    this.#socket = options.socket ?? null;
    this.enabled = this.#socket !== null && this.#socket !== '';
    this.#log = options.log.child({ component: 'sd-notify' });
    this.#command = options.command ?? 'systemd-notify';
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#pid = options.pid ?? process.pid;
  }

  ready(status?: string): Promise<boolean> {
    return this.#enqueue(['READY=1', ...statusOf(status)], this.#pid);
  }

  status(text: string): Promise<boolean> {
    return this.#enqueue([`STATUS=${text}`], null);
  }

  watchdog(): Promise<boolean> {
    // A ping that is still queued will reach systemd; a second one would only pile up behind it.
    if (this.#pingPending || !this.enabled || this.#closed) return Promise.resolve(false);
    this.#pingPending = true;
    return this.#enqueue(['WATCHDOG=1'], null).finally(() => {
      this.#pingPending = false;
    });
  }

  stopping(status?: string): Promise<boolean> {
    return this.#enqueue(['STOPPING=1', ...statusOf(status)], null);
  }

  notify(assignments: readonly string[]): Promise<boolean> {
    return this.#enqueue(assignments, null);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
  }

  #enqueue(assignments: readonly string[], pid: number | null): Promise<boolean> {
    if (!this.enabled || this.#closed || assignments.length === 0) return Promise.resolve(false);
    const sent = this.#queue.then(() => this.#send(buildNotifyArgs(assignments, pid)));
    this.#queue = sent;
    return sent;
  }

  #send(args: string[]): Promise<boolean> {
    const socket = this.#socket ?? '';
    return new Promise((resolve) => {
      execFile(
        this.#command,
        args,
        {
          // Only what systemd-notify needs: the socket is passed explicitly because the agent
          // removes NOTIFY_SOCKET from its own environment (children must not inherit it).
          env: { NOTIFY_SOCKET: socket, PATH: DEFAULT_PATH, LC_ALL: 'C' },
          timeout: this.#timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 64 * 1024,
          windowsHide: true,
        },
        (err, _stdout, stderr) => {
          if (err === null) {
            this.#log.debug({ args }, 'notified service manager');
            resolve(true);
            return;
          }
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            // Under systemd without systemd-notify (a stripped image): say it once, clearly.
            if (!this.#warnedMissing) {
              this.#warnedMissing = true;
              this.#log.warn({ command: this.#command }, 'systemd-notify not found: readiness and watchdog not sent');
            }
          } else {
            this.#log.warn(
              { args, err: { message: err.message, code: err.code, killed: err.killed }, stderr: stderr.trim() },
              'systemd-notify failed',
            );
          }
          resolve(false);
        },
      );
    });
  }
}

function statusOf(status: string | undefined): string[] {
  return status === undefined ? [] : [`STATUS=${status}`];
}
