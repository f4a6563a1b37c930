/** The `grpc.listen` and `http.listen` addresses: `host:port` parsing and the overlap check. */
import { isIP } from 'node:net';
import { describeValue, excerpt, type Segment } from '@kage/common';
import type { Ctx } from './config-context.js';

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** Addresses that bind every interface, hence overlap any other address on the same port. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, an IPv6 host in brackets: what a listener binds and what clients dial. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Splits `host:port` / `[v6]:port` (port 0 = any free port); records a problem and returns null otherwise. */
export function parseListen(ctx: Ctx, path: readonly Segment[], raw: string, example: string): HostPort | null {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw);
  if (scheme !== null) {
    const name = excerpt(scheme[1] ?? '', 20);
    ctx.problem(path, `is a URL; a listen address is "host:port" without ${name}://, e.g. "${example}"`);
    return null;
  }
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(raw);
  if (m === null) {
    if (!raw.startsWith('[') && raw.split(':').length > 2) {
      ctx.problem(path, `an IPv6 address goes in brackets: "[addr]:port", e.g. "[::]:${example.split(':')[1]}"`);
    } else {
      ctx.problem(path, `must be "host:port" (IPv6 as "[addr]:port"), e.g. "${example}", got ${describeValue(raw)}`);
    }
    return null;
  }
  const v6 = m[1];
  const host = v6 ?? m[2] ?? '';
  const portText = m[3] ?? '';
  let ok = true;
  if (host === '') {
    ctx.problem(
      path,
      'the host is missing: write 0.0.0.0 (every IPv4 interface), [::] (every interface) or an address',
    );
    ok = false;
  } else if (v6 !== undefined ? isIP(v6) !== 6 : !isHostName(host)) {
    ctx.problem(path, `"${excerpt(host, 60)}" is not a valid host name or IP address`);
    ok = false;
  }
  const port = Number(portText);
  if (portText.length > 5 || port > 65535) {
    ctx.problem(path, `port ${excerpt(portText, 12)} is out of range (0-65535; 0 picks a free port)`);
    ok = false;
  }
  return ok ? { host, port } : null;
}

function isHostName(host: string): boolean {
  if (isIP(host) === 4) return true;
  // "999.1.1.1" matches the host-name grammar but is a mistyped IPv4 address.
  return HOST_NAME.test(host) && !/^[\d.]+$/.test(host);
}

/**
 * Two listeners on one port of overlapping addresses: the second bind would fail at start. The
 * problem is recorded at `second`'s key (`http`, `gateway`), naming the key that holds the port.
 */
export function checkDistinct(
  ctx: Ctx,
  first: HostPort,
  second: HostPort,
  names: { first: string; second: string } = { first: 'grpc', second: 'http' },
): void {
  if (first.port === 0 || first.port !== second.port) return;
  if (first.host === second.host || WILDCARD_HOSTS.has(first.host) || WILDCARD_HOSTS.has(second.host)) {
    ctx.problem(
      [names.second, 'listen'],
      `port ${second.port} is taken by ${names.first}.listen on an overlapping address`,
    );
  }
}
