import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ServerCredentials } from '@grpc/grpc-js';
import { createAgentStream, type AgentStreamOptions } from '../src/index.js';
import { createTestCoordinator, receivedSeqs, waitFor } from '@kage/wire/testing';
import { INVENTORY, captureLogger, closeLater, fakeSample, tempDir } from './stream-test-fixtures.js';

const TOKEN = 'tls-token';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
async function makePki(
  dir: string,
): Promise<Record<'ca' | 'serverKey' | 'serverCert' | 'clientKey' | 'clientCert', Buffer>> {
  const run = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=kage-test-ca');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const name of ['server', 'client']) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-CAcreateserial',
    );
  }
  const read = (file: string): Promise<Buffer> => readFile(join(dir, file));
  return {
    ca: await read('ca.pem'),
    serverKey: await read('server.key'),
    serverCert: await read('server.pem'),
    clientKey: await read('client.key'),
    clientCert: await read('client.pem'),
  };
}

function options(port: number, dir: string, extra: Partial<AgentStreamOptions>): AgentStreamOptions {
  return {
    url: `https://127.0.0.1:${port}/`,
    token: TOKEN,
    node: 'srv1',
    bootId: '11111111-2222-4333-8444-555555555555',
    agentVersion: '0.1.0-test',
    inventory: INVENTORY,
    services: () => [],
    commands: { service: () => Promise.reject(new Error('unused')) },
    buffer: { dir: join(dir, 'buffer') },
    log: captureLogger().log,
    backoff: { initialMs: 20, maxMs: 100 },
    ...extra,
  };
}

describe('agent stream over TLS', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  test('mTLS: a client with a certificate from the CA streams; one without is refused', async (t) => {
    const dir = await tempDir(t);
    const pki = await makePki(dir);
    const coordinator = createTestCoordinator({
      token: TOKEN,
      credentials: ServerCredentials.createSsl(
        pki.ca,
        [{ private_key: pki.serverKey, cert_chain: pki.serverCert }],
        true,
      ),
    });
    const port = await coordinator.start();
    closeLater(t, () => coordinator.close());

    const good = createAgentStream(
      options(port, dir, { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } }),
    );
    closeLater(t, () => good.close());
    await good.open();
    good.pushSample(fakeSample(1));
    await waitFor(() => receivedSeqs(coordinator.store).length === 1, 'a sample over mTLS');
    assert.equal(coordinator.store.hellos[0]?.node_id, 'srv1');
    await good.close();

    const anonymous = createAgentStream(options(port, join(dir, 'anon'), { tls: { ca: pki.ca.toString('utf8') } }));
    closeLater(t, () => anonymous.close());
    await anonymous.open();
    await waitFor(() => anonymous.status().failedAttempts >= 2, 'refused handshakes');
    assert.equal(coordinator.store.accepted, 1);
    assert.notEqual(anonymous.status().lastError?.code, 'OK');
  });

  test('a key without a certificate (or the reverse) is a coded configuration error', async (t) => {
    const dir = await tempDir(t);
    assert.throws(() => createAgentStream(options(1, dir, { tls: { key: 'k' } })), {
      code: 'KAGE_ERR_AGENT_STREAM_TLS',
    });
    assert.throws(() => createAgentStream(options(1, dir, { tls: { cert: 'c' } })), {
      code: 'KAGE_ERR_AGENT_STREAM_TLS',
    });
  });
});
