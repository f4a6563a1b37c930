/**
 * Emulator-only routes under `/_emulator/` (never part of EXO's API): node-to-node heartbeats,
 * election messages, command forwarding to the master, the generation link, fault knobs and a debug summary.
 */
import type { FastifyInstance } from 'fastify';
import { mergeFaults } from '../faults.js';
import type { HeartbeatMessage } from './cluster-membership.js';
import type { ClusterCommand, MasterSnapshot } from './cluster-state.js';
import type { ExoNode } from './exo-node.js';
import type { ElectionMessage } from './master-election.js';
import { ndjsonSink, type GenerateRequest } from './generation-link.js';

function parseJson(body: unknown): unknown {
  if (typeof body !== 'string' || body.length === 0) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

export function registerInternalRoutes(app: FastifyInstance, node: ExoNode): void {
  app.post('/_emulator/heartbeat', (request, reply) => {
    const msg = parseJson(request.body) as HeartbeatMessage<MasterSnapshot> | undefined;
    if (!msg?.node?.nodeId) return reply.code(400).send({ errors: ['heartbeat: bad body'] });
    // A node that is shutting down has left the cluster; its peers notice when it stops listening.
    if (node.isClosing) return reply.code(503).send({ errors: ['heartbeat: node shutting down'] });
    return reply.send(node.heartbeat(msg, request.socket.remoteAddress ?? '127.0.0.1'));
  });

  app.post('/_emulator/election', (request, reply) => {
    const msg = parseJson(request.body) as ElectionMessage | undefined;
    if (typeof msg?.clock !== 'number' || typeof msg.proposedSession?.masterNodeId !== 'string') {
      return reply.code(400).send({ errors: ['election: bad body'] });
    }
    node.receiveElectionMessage(msg);
    return reply.send({ ok: true });
  });

  app.post('/_emulator/command', async (request, reply) => {
    const msg = parseJson(request.body) as { cmd?: ClusterCommand; hops?: number } | undefined;
    if (!msg?.cmd) return reply.code(400).send({ errors: ['command: bad body'] });
    return reply.send(await node.executeCommand(msg.cmd, msg.hops ?? 1));
  });

  app.post('/_emulator/generate', (request, reply) => {
    const req = parseJson(request.body) as GenerateRequest | undefined;
    if (!req?.modelId) return reply.code(400).send({ errors: ['generate: bad body'] });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    node.generateAsMaster(req, ndjsonSink(res), abort.signal);
    return reply;
  });

  app.get('/_emulator/faults', (_request, reply) => reply.send(node.faults()));
  app.put('/_emulator/faults', (request, reply) => {
    const patch = parseJson(request.body);
    const merged = mergeFaults(node.faults(), patch ?? null);
    if (!merged.ok) return reply.code(400).send({ error: 'invalid fault options', errors: merged.errors });
    node.setFaults(merged.faults);
    node.log.info({ faults: merged.faults }, 'faults updated');
    return reply.send(merged.faults);
  });

  app.get('/_emulator/info', (_request, reply) => reply.send(node.info()));
}
