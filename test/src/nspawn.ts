/**
 * Booted systemd containers for tests that need a real PID 1: units, sd_notify and the watchdog,
 * polkit, journald and `systemctl` as users have them. Each container is a Debian bookworm root
 * (built once with debootstrap and cached), booted by `systemd-nspawn -b` on a private overlay of
 * that root, so a test may install, break and remove anything without touching the cache. The
 * container joins a network namespace the test made (see netns.ts), so a link can be cut from
 * outside. Commands run inside with `nsenter` into the container's init: no machined, no host
 * systemd needed (`--register=no --keep-unit`).
 *
 * Needs root, Linux, and `systemd-nspawn` (systemd-container), `debootstrap` and `nsenter`
 * (util-linux); {@link containersUnavailable} says why they cannot run here.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the cached root holds beyond debootstrap's minbase: systemd as PID 1, D-Bus and polkit for
 * `systemctl` as an unprivileged user, and the tools the install scripts and checks call. */
const ROOT_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'libpam-systemd',
  'dbus',
  'polkitd',
  'iproute2',
  'procps',
  'curl',
  'ca-certificates',
] as const;
const SUITE = 'bookworm';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;
const BOOT_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a host command to completion, bounded; never rejects (the exit code says how it went). */
export function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 60_000, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr: err !== null && code === null ? `${stderr}${err.message}` : stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Null when booted containers can run here, else why not. */
export async function containersUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `needs Linux (platform is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to boot systemd containers';
  for (const [tool, pkg] of [
    ['systemd-nspawn', 'systemd-container'],
    ['debootstrap', 'debootstrap'],
    ['nsenter', 'util-linux'],
  ] as const) {
    const found = await run('sh', ['-c', `command -v ${tool}`]);
    if (found.code !== 0) return `needs ${tool} (Debian package ${pkg})`;
  }
  const overlay = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(overlay)) return 'needs overlayfs (the kernel lists no "overlay" in /proc/filesystems)';
  return null;
}

/**
 * The cached bookworm root, built on first use: `$KAGE_TEST_CACHE` (default /var/cache/kage-test)
 * holds one directory per package list, so a changed list builds a new root and never reuses a
 * stale one. A build is made aside and renamed into place, so an interrupted one is never used.
 */
export async function ensureDebianRoot(progress: (line: string) => void): Promise<string> {
  const cache = process.env['KAGE_TEST_CACHE'] ?? '/var/cache/kage-test';
  const key = createHash('sha256')
    .update([SUITE, ...ROOT_PACKAGES].join(' '))
    .digest('hex')
    .slice(0, 12);
  const root = join(cache, `${SUITE}-${key}`);
  if (existsSync(join(root, 'usr/lib/systemd/systemd'))) return root;
  await mkdir(cache, { recursive: true });
  const partial = `${root}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  const mirror = process.env['KAGE_TEST_DEBIAN_MIRROR'] ?? DEFAULT_MIRROR;
  progress(`building the ${SUITE} root with debootstrap from ${mirror} (cached in ${root})`);
  const started = Date.now();
  const built = await run(
    'debootstrap',
    ['--variant=minbase', `--include=${ROOT_PACKAGES.join(',')}`, SUITE, partial, mirror],
    { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS },
  );
  if (built.code !== 0) {
    const log = await readFile(join(partial, 'debootstrap/debootstrap.log'), 'utf8').catch(() => '');
    await rm(partial, { recursive: true, force: true });
    throw new Error(
      `debootstrap ${SUITE} failed (exit ${built.code}): ${built.stderr.slice(-2000)}\n${log.slice(-2000)}`,
    );
  }
  // A container's machine id is made at its first boot; the cached root must not carry one.
  await writeFile(join(partial, 'etc/machine-id'), '');
  await rm(join(partial, 'var/lib/dbus/machine-id'), { force: true });
  await rename(partial, root);
  progress(`${SUITE} root built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return root;
}

export interface ContainerOptions {
  /** Machine name; also the hostname. */
  name: string;
  /** The cached root (read-only lower layer). */
  root: string;
  /** Working directory for the overlay's upper layer and the console log. */
  workDir: string;
  /** `ip netns` name the container joins. */
  netns: string;
  /** Read-only bind mounts, host path → container path. */
  bindReadOnly: ReadonlyArray<readonly [host: string, inside: string]>;
}

export interface Container {
  readonly name: string;
  /** The container's file system as the host sees it (the overlay's merged view). */
  readonly rootDir: string;
  /** Runs a command inside, as root (or `user`), bounded; never rejects. */
  exec(
    argv: readonly string[],
    options?: { timeoutMs?: number; input?: string; user?: string },
  ): Promise<CommandResult>;
  /** Like exec, but rejects with the output when the command fails. Resolves with stdout. */
  execOk(argv: readonly string[], options?: { timeoutMs?: number; input?: string; user?: string }): Promise<string>;
  /** `systemctl show UNIT -p …` as a record. */
  unitProperties(unit: string, properties: readonly string[]): Promise<Record<string, string>>;
  /** The console log so far (boot messages). */
  consoleLog(): Promise<string>;
  /** Powers the container off (SIGTERM to nspawn), kills it if it hangs, removes the overlay. Never throws. */
  close(): Promise<void>;
}

/** Boots a container and resolves once its systemd reports the boot finished (running or degraded). */
export async function bootContainer(options: ContainerOptions): Promise<Container> {
  const base = join(options.workDir, options.name);
  const upper = join(base, 'upper');
  const work = join(base, 'work');
  const rootDir = join(base, 'merged');
  const consoleFile = join(base, 'console.log');
  await mkdir(upper, { recursive: true });
  await mkdir(work, { recursive: true });
  await mkdir(rootDir, { recursive: true });
  const mounted = await run('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${options.root},upperdir=${upper},workdir=${work}`,
    rootDir,
  ]);
  if (mounted.code !== 0) throw new Error(`overlay mount for ${options.name} failed: ${mounted.stderr.trim()}`);
  await writeFile(join(rootDir, 'etc/hostname'), `${options.name}\n`);

  const consoleOut = createWriteStream(consoleFile);
  await once(consoleOut, 'open');
  const nspawn: ChildProcess = spawn(
    'systemd-nspawn',
    [
      '--quiet',
      '--boot',
      '--register=no',
      '--keep-unit',
      `--directory=${rootDir}`,
      `--machine=${options.name}`,
      `--hostname=${options.name}`,
      `--network-namespace-path=/run/netns/${options.netns}`,
      '--link-journal=no',
      '--resolv-conf=off',
      '--timezone=off',
      ...options.bindReadOnly.map(([host, inside]) => `--bind-ro=${host}:${inside}`),
    ],
    { stdio: ['ignore', consoleOut, consoleOut] },
  );
  let exited = false;
  const exit = once(nspawn, 'exit').then(() => {
    exited = true;
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (!exited) {
        nspawn.kill('SIGTERM'); // nspawn asks the container's systemd to power off
        // A shutdown that hangs (seen: a failing systemd-halt.service) ends with SIGKILL to the
        // container's init, which takes every process of its PID namespace with it.
        const timer = setTimeout(() => {
          if (initPid !== null) killQuietly(initPid);
          setTimeout(() => nspawn.kill('SIGKILL'), 5000).unref();
        }, STOP_TIMEOUT_MS);
        await exit;
        clearTimeout(timer);
      }
      consoleOut.end();
      await run('umount', ['-l', rootDir]);
      // nspawn leaves its propagation directory behind when the host has no systemd.
      await rm(`/run/systemd/nspawn/propagate/${options.name}`, { recursive: true, force: true });
      await rm(base, { recursive: true, force: true });
    })());

  let initPid: number | null = null;
  const nsenter = (argv: readonly string[], user?: string): string[] => {
    if (initPid === null) throw new Error(`${options.name} is not booted`);
    const env = ['env', '-i', `PATH=${PATH}`, 'LANG=C.UTF-8', 'SYSTEMD_COLORS=0', 'SYSTEMD_PAGER='];
    const as = user === undefined ? [] : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups'];
    return ['--target', String(initPid), '--all', '--', ...env, ...as, ...argv];
  };
  const exec: Container['exec'] = (argv, o = {}) =>
    run('nsenter', nsenter(argv, o.user), {
      timeoutMs: o.timeoutMs ?? 60_000,
      ...(o.input === undefined ? {} : { input: o.input }),
    });
  const execOk: Container['execOk'] = async (argv, o = {}) => {
    const result = await exec(argv, o);
    if (result.code !== 0) {
      throw new Error(
        `${options.name}: \`${argv.join(' ')}\` exited ${result.code}\n${result.stdout}\n${result.stderr}`.trim(),
      );
    }
    return result.stdout;
  };

  const container: Container = {
    name: options.name,
    rootDir,
    exec,
    execOk,
    async unitProperties(unit, properties) {
      const out = await execOk(['systemctl', 'show', unit, ...properties.map((p) => `--property=${p}`)]);
      const record: Record<string, string> = {};
      for (const line of out.split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) record[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return record;
    },
    consoleLog: () => readFile(consoleFile, 'utf8').catch(() => ''),
    close,
  };

  try {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    // The container's init is nspawn's only child once it forked.
    while (initPid === null) {
      if (exited) throw new Error(`systemd-nspawn for ${options.name} exited during boot`);
      if (Date.now() > deadline) throw new Error(`${options.name}: no init process after ${BOOT_TIMEOUT_MS} ms`);
      const children = await readFile(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`, 'utf8').catch(() => '');
      const first = Number(children.trim().split(/\s+/)[0]);
      if (Number.isInteger(first) && first > 0) {
        const comm = await readFile(`/proc/${first}/comm`, 'utf8').catch(() => '');
        if (comm.trim() === 'systemd') initPid = first;
      }
      if (initPid === null) await new Promise((r) => setTimeout(r, 100));
    }
    for (;;) {
      if (exited) throw new Error(`systemd-nspawn for ${options.name} exited during boot`);
      const state = await exec(['systemctl', 'is-system-running'], { timeoutMs: 10_000 });
      const word = state.stdout.trim();
      if (word === 'running' || word === 'degraded') break;
      if (Date.now() > deadline)
        throw new Error(`${options.name}: boot did not finish (${word || state.stderr.trim()})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    const log = await container.consoleLog();
    await close();
    throw new Error(`${(err as Error).message}\nconsole:\n${log.slice(-4000)}`, { cause: err });
  }
  return container;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
