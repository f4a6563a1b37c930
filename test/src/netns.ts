/**
 * Linux network namespaces for tests that need a real network between processes: a link that can
 * be cut without closing any socket, which loopback cannot show. A lab owns every namespace, veth
 * and process it creates and removes them all in `close()`; nothing is ever configured in the
 * host's own namespace (veths are created inside a lab namespace with their peer in another).
 * Needs root and iproute2; {@link netnsUnavailable} says why a lab cannot be built here.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';

/** Every `ip` call is bounded: a hung netlink call must not hang the test. */
const IP_TIMEOUT_MS = 10_000;

/** Runs `ip …args` and resolves with its stdout; rejects with its stderr on failure. */
export function ip(args: readonly string[], timeoutMs = IP_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/**
 * Null when namespaces can be built here, else why not (not root, no iproute2, or no permission
 * to create a namespace, as in an unprivileged container).
 */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `needs Linux network namespaces (platform is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root and iproute2 (`ip netns`): not running as root';
  try {
    await ip(['-V']);
  } catch {
    return 'needs root and iproute2 (`ip netns`): the `ip` command is not available';
  }
  const probe = `kage-probe-${randomBytes(3).toString('hex')}`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (err) {
    return `needs root and iproute2 (\`ip netns\`): cannot create a namespace (${(err as Error).message})`;
  }
  await ip(['netns', 'del', probe]).catch(() => undefined);
  return null;
}

/** One end of a veth pair: its namespace, interface name and address with prefix. */
export interface VethEnd {
  ns: string;
  /** At most 15 characters (IFNAMSIZ). */
  ifname: string;
  /** e.g. `10.231.7.1/24` */
  cidr: string;
}

export interface NetnsLab {
  /** Random suffix shared by this lab's names, so concurrent runs never collide. */
  readonly id: string;
  /** Creates `kage-<role>-<id>` with loopback up and returns its name. */
  addNamespace(role: string): Promise<string>;
  /** Creates a veth pair between two lab namespaces, addresses both ends and brings them up. */
  addVeth(a: VethEnd, b: VethEnd): Promise<void>;
  /** `ip -n ns …args` */
  ipIn(ns: string, args: readonly string[]): Promise<string>;
  /** Writes a sysctl of `ns` (its own /proc/sys/net), e.g. `net/ipv4/ip_forward`. */
  sysctl(ns: string, key: string, value: string): Promise<void>;
  /** Starts `command …args` inside `ns`; the process is killed in `close()`. */
  spawn(ns: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcessWithoutNullStreams;
  /** Kills every spawned process, then deletes every veth and namespace. Idempotent; never throws. */
  close(): Promise<void>;
}

/** Creates an empty lab; nothing exists until `addNamespace`. */
export function createNetnsLab(): NetnsLab {
  const id = randomBytes(3).toString('hex');
  const namespaces: string[] = [];
  const veths: Array<{ ns: string; ifname: string }> = [];
  const children = new Set<ChildProcessWithoutNullStreams>();
  let closing: Promise<void> | undefined;

  const owned = (ns: string): void => {
    if (!namespaces.includes(ns)) throw new Error(`namespace ${ns} is not part of this lab`);
  };

  const lab: NetnsLab = {
    id,
    async addNamespace(role) {
      if (closing) throw new Error('the lab is closed');
      const name = `kage-${role}-${id}`;
      await ip(['netns', 'add', name]);
      namespaces.push(name);
      await ip(['-n', name, 'link', 'set', 'lo', 'up']);
      return name;
    },
    async addVeth(a, b) {
      owned(a.ns);
      owned(b.ns);
      // Created inside `a` with its peer moved straight into `b`: the host never sees either end.
      await ip(['-n', a.ns, 'link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns]);
      veths.push({ ns: a.ns, ifname: a.ifname });
      for (const end of [a, b]) {
        await ip(['-n', end.ns, 'addr', 'add', end.cidr, 'dev', end.ifname]);
        await ip(['-n', end.ns, 'link', 'set', end.ifname, 'up']);
      }
    },
    ipIn(ns, args) {
      owned(ns);
      return ip(['-n', ns, ...args]);
    },
    async sysctl(ns, key, value) {
      owned(ns);
      if (!/^[a-z0-9_/.-]+$/.test(key) || key.includes('..')) throw new Error(`bad sysctl key ${key}`);
      // /proc/sys/net shows the namespace of the process reading it, so write from inside.
      await ip(['netns', 'exec', ns, 'sh', '-c', 'printf %s "$1" > "/proc/sys/$2"', 'sh', value, key]);
    },
    spawn(ns, command, args, options = {}) {
      if (closing) throw new Error('the lab is closed');
      owned(ns);
      // `ip netns exec` execs the command itself, so the child's pid is the command's pid.
      const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
        ...options,
        stdio: 'pipe',
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...children].map((child) => killChild(child)));
        for (const veth of veths.reverse()) {
          // Deleting one end removes the pair; it may already be gone with its namespace.
          await ip(['-n', veth.ns, 'link', 'del', veth.ifname]).catch(() => undefined);
        }
        for (const ns of namespaces.reverse()) await ip(['netns', 'del', ns]).catch(() => undefined);
      })();
      return closing;
    },
  };
  return lab;
}

/** SIGKILL and wait (bounded) for the exit, so the namespace is not kept alive by it. */
async function killChild(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
  clearTimeout(timer);
}
