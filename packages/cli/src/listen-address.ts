/**
 * Parses `HOST:PORT` listen addresses (`127.0.0.1:0`, `0.0.0.0:11434`, `[::1]:8080`).
 */
import { isIP } from 'node:net';
import { CliError } from './errors.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListenAddress(value: string, flag = '--listen'): ListenAddress {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  const plain = /^([^:[\]]+):(\d+)$/.exec(value);
  const match = bracketed ?? plain;
  const fail = (reason: string): never => {
    throw new CliError('KAGE_ERR_CLI_LISTEN_INVALID', `${flag} ${JSON.stringify(value)}: ${reason}`);
  };
  if (!match) return fail('expected HOST:PORT, e.g. 127.0.0.1:11434 or [::1]:0');
  const host = match[1] ?? '';
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail('port must be 0–65535');
  if (bracketed && isIP(host) !== 6) return fail('bracketed host must be an IPv6 address');
  if (!bracketed && isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host))
    return fail('host is not a valid name or address');
  return { host, port };
}

/** Formats a host for a URL (brackets around IPv6). */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
