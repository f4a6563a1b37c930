/**
 * `GET /` and `GET /assets/*`: the dashboard's static files (built by @kage/dashboard), held in
 * memory with their gzipped form, since they are few and small. Assets carry a content hash in
 * their name, so they are cached for a year; the page itself is always revalidated (ETag), so a
 * new build is picked up on the next load.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Negotiator } from '@fastify/accept-negotiator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ApiApp } from './api-app.js';
import { ApiError } from './api-error.js';
import { matchesIfNoneMatch } from './snapshot-cache.js';

interface StaticFile {
  type: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
  cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Scripts and styles from this origin only: nothing of the page may come from elsewhere. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function load(path: string, cacheControl: string): StaticFile {
  const body = readFileSync(path);
  const ext = path.slice(path.lastIndexOf('.'));
  return {
    type: TYPES[ext] ?? 'application/octet-stream',
    body,
    gzipped: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    cacheControl,
  };
}

/** Reads the built files; null when the dashboard was not built (the API works without it). */
function loadDashboard(dir: string): { index: StaticFile; assets: Map<string, StaticFile> } | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, StaticFile>();
  const assetDir = join(dir, 'assets');
  for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
    assets.set(name, load(join(assetDir, name), 'public, max-age=31536000, immutable'));
  }
  return { index: load(indexPath, 'no-cache'), assets };
}

export function registerDashboardRoutes(app: ApiApp, dir: string, log: Logger): void {
  const files = loadDashboard(dir);
  if (files === null) {
    log.warn({ dir }, 'the dashboard is not built (pnpm build); GET / answers 404');
    return;
  }
  const encodings = new Negotiator({ supportedValues: ['gzip', 'identity'] });

  const send = (file: StaticFile, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    void reply
      .type(file.type)
      .header('etag', file.etag)
      .header('cache-control', file.cacheControl)
      .header('vary', 'accept-encoding')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('referrer-policy', 'no-referrer');
    if (matchesIfNoneMatch(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
    if (encodings.negotiate(request.headers['accept-encoding'] ?? 'identity') === 'gzip') {
      return reply.header('content-encoding', 'gzip').send(file.gzipped);
    }
    return reply.send(file.body);
  };

  app.get('/', { schema: { hide: true } }, (request, reply) => send(files.index, request, reply));
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, (request, reply) => {
    const file = files.assets.get(request.params.file);
    if (file === undefined) throw new ApiError('KAGE_ERR_NOT_FOUND', 'no such dashboard asset');
    return send(file, request, reply);
  });
}
