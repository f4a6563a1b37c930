/**
 * The agents' gRPC gateway with mutual TLS: only a client whose certificate the configured CA
 * signed gets through the handshake, and the token is checked on top of it (a certificate is not
 * an identity of its own). Certificates are a throwaway PKI made with openssl per run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { hasOpenssl, makePki, startGatewayLab, startWitness } from './helpers/grpc-lab.js';

describe('agent gateway over mTLS', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  test('a CA-signed client with its token is welcomed; no certificate, a foreign CA or plaintext is not', async (t) => {
    const pki = await makePki(t);
    const trusted = () => credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert);
    const lab = await startGatewayLab(t, {
      tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, requireClientCert: true },
      clientCredentials: trusted,
    });
    const witness = await startWitness(lab);

    const good = lab.agent({ node: 'srv1' });
    const welcome = await good.connect();
    assert.equal(welcome.accepted, true, welcome.reason);
    good.samples([1, 2]);
    await good.waitAck(2);

    // Refused in the handshake: no call reaches the gateway, so none is counted as a token failure.
    const refusedInHandshake = [
      { name: 'no client certificate', credentials: credentials.createSsl(pki.ca) },
      {
        name: 'a certificate from another CA',
        credentials: credentials.createSsl(pki.ca, pki.rogueKey, pki.rogueCert),
      },
      { name: 'plaintext', credentials: credentials.createInsecure() },
    ];
    for (const c of refusedInHandshake) {
      const intruder = lab.agent({ node: 'srv2', credentials: c.credentials });
      intruder.hello();
      const end = await intruder.ended();
      assert.equal(end.code, status.UNAVAILABLE, `${c.name}: ${status[end.code]} ${end.details}`);
      assert.deepEqual(intruder.received, [], `${c.name}: no Welcome`);
    }
    assert.equal(lab.gateway.authFailures(), 0);
    assert.equal(lab.registry.get('srv2'), null);

    // A good certificate with a wrong token: through the handshake, refused by the token check.
    const wrongToken = lab.agent({ node: 'srv2', token: 'not-a-known-token-000000' });
    wrongToken.hello();
    assert.equal((await wrongToken.ended()).code, status.UNAUTHENTICATED);
    assert.equal(lab.gateway.authFailures(), 1);

    good.samples([3]);
    await good.waitAck(3);
    assert.equal(lab.gateway.streams(), 2, 'srv1 and the witness');
    await witness.proveServed();
  });
});
