/**
 * A stand-in for a supervised service (exo, a model server), run as `node service-child.js [flags]`.
 *   --exit=N                 print a line and exit with code N at once (crash loop)
 *   --grandchild             spawn a grandchild in the same process group (like multiprocessing workers)
 *   --exit-with-grandchild   exit with code 2 when the grandchild dies
 *   --ignore-term            ignore SIGTERM (the stop path must escalate to SIGKILL)
 *   --grandchild-ignore-term the grandchild ignores SIGTERM
 *   --listen=PORT            serve GET /health on 127.0.0.1:PORT (0 = any free port)
 *   --listen-after-ms=MS     wait this long before listening (a model still loading)
 *   --max-lifetime-ms=MS     exit after this long (default 120000): a leaked helper cannot keep a
 *                            test run waiting forever
 * Prints one JSON ready line on stdout: { ready, pid, grandchild?, port? }, and one line on stderr.
 * Prints nothing afterwards, so an orphan whose reader died is not killed by EPIPE.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';

const flags = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=', 2);
    return [key ?? '', value ?? 'true'] as const;
  }),
);
const keepAlive = (): void => {
  setInterval(() => undefined, 60_000);
};
setTimeout(() => process.exit(0), Number(flags.get('max-lifetime-ms') ?? 120_000)).unref();

if (flags.get('role') === 'grandchild') {
  if (flags.has('ignore-term')) process.on('SIGTERM', () => undefined);
  keepAlive();
  // fd 3 is a pipe to the parent: tell it the signal handler is in place.
  createWriteStream('', { fd: 3 }).end('ready\n');
} else {
  if (flags.has('ignore-term')) process.on('SIGTERM', () => undefined);
  const exit = flags.get('exit');
  if (exit !== undefined) {
    process.stdout.write(`exiting with ${exit}\n`);
    process.exitCode = Number(exit);
  } else {
    const ready: { ready: true; pid: number; grandchild?: number; port?: number } = { ready: true, pid: process.pid };
    if (flags.has('grandchild')) ready.grandchild = await startGrandchild();
    const listen = flags.get('listen');
    if (listen !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, Number(flags.get('listen-after-ms') ?? 0)));
      ready.port = await serveHealth(Number(listen));
    }
    process.stderr.write('a line on stderr\n');
    process.stdout.write(`${JSON.stringify(ready)}\n`);
    keepAlive();
  }
}

async function startGrandchild(): Promise<number> {
  const args = [fileURLToPath(import.meta.url), '--role=grandchild'];
  if (flags.has('grandchild-ignore-term')) args.push('--ignore-term');
  // stdout/stderr inherited: like real worker processes, the grandchild holds the service's pipes.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  if (flags.has('exit-with-grandchild')) child.on('exit', () => process.exit(2));
  const pipe = child.stdio[3];
  await new Promise<void>((resolve, reject) => {
    pipe?.once('data', () => resolve());
    child.once('error', reject);
  });
  return child.pid ?? -1;
}

async function serveHealth(port: number): Promise<number> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
