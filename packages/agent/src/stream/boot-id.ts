/**
 * The kernel's boot id: a random UUID drawn at every boot. Buffer sequence numbers are scoped to
 * it, so a reboot starts a fresh sequence the coordinator cannot confuse with the previous one.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ReadBootIdOptions {
  log: Logger;
  /** @default '/proc' */
  procRoot?: string;
}

/**
 * Reads `/proc/sys/kernel/random/boot_id`. Where it cannot be read (not Linux, a sandbox), falls
 * back to a random UUID for this process and logs why: seq numbering then restarts with every
 * agent start, which the coordinator sees as a new boot — data stays correct, only replay across
 * an agent restart is lost.
 */
export async function readBootId(options: ReadBootIdOptions): Promise<string> {
  const file = join(options.procRoot ?? '/proc', 'sys', 'kernel', 'random', 'boot_id');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (UUID.test(text)) return text.toLowerCase();
    options.log.warn({ file, text }, 'boot id is not a UUID; using a random id for this process');
  } catch (err) {
    options.log.warn({ err, file }, 'cannot read the boot id; using a random id for this process');
  }
  return randomUUID();
}
