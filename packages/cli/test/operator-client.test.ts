/**
 * The coordinator client in-process, for what the commands do not reach: the address rules, the
 * report request, and answers that are not the documented JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoordinatorClient,
  CoordinatorRequestError,
  DEFAULT_COORDINATOR_URL,
  displayUrl,
  resolveCoordinatorUrl,
} from '../src/coordinator-client.js';
import { startFakeCoordinator } from './helpers/operator-coordinator.js';

test('resolveCoordinatorUrl: the flag wins over KAGE_COORDINATOR, which wins over the default', () => {
  assert.equal(displayUrl(resolveCoordinatorUrl(undefined, {})), DEFAULT_COORDINATOR_URL);
  assert.equal(displayUrl(resolveCoordinatorUrl(undefined, { KAGE_COORDINATOR: ' http://c:1 ' })), 'http://c:1');
  assert.equal(displayUrl(resolveCoordinatorUrl('http://f:2', { KAGE_COORDINATOR: 'http://c:1' })), 'http://f:2');
  // A path prefix (a reverse proxy) is kept, so API paths resolve under it.
  assert.equal(resolveCoordinatorUrl('https://lab.example/kage?x=1#y', {}).href, 'https://lab.example/kage/');
  assert.throws(() => resolveCoordinatorUrl('not a url', {}), { code: 'KAGE_ERR_CLI_USAGE' });
});

test('runReport asks for the format and returns the text; a run the coordinator lacks keeps its code', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  fake.route('GET', '/api/v1/runs/r1/report?format=md', () => ({ status: 200, body: '# Run r1' }));
  fake.route('GET', '/api/v1/runs/r2/report?format=md', () => ({
    status: 404,
    body: { code: 'KAGE_ERR_RUN_NOT_FOUND', message: 'no run r2' },
  }));
  const client = new CoordinatorClient({ url: resolveCoordinatorUrl(fake.url, {}) });
  assert.equal(await client.runReport('r1', 'md'), JSON.stringify('# Run r1'));
  await assert.rejects(client.runReport('r2', 'md'), { code: 'KAGE_ERR_RUN_NOT_FOUND', message: 'no run r2' });
});

test('answers that are not the documented JSON are KAGE_ERR_COORDINATOR_RESPONSE', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  const client = new CoordinatorClient({ url: resolveCoordinatorUrl(fake.url, {}), token: 't' });

  fake.nodes = () => ({ not: 'a list' }) as unknown as unknown[];
  await assert.rejects(client.listNodes(), (err: unknown) => {
    assert.ok(err instanceof CoordinatorRequestError);
    assert.equal(err.code, 'KAGE_ERR_COORDINATOR_RESPONSE');
    assert.match(err.message, /is not a list of nodes/);
    return true;
  });

  fake.route('POST', '/api/v1/runs', () => ({ status: 201, body: { run: 'no id' } }));
  await assert.rejects(client.startRun({}), { code: 'KAGE_ERR_COORDINATOR_RESPONSE' });

  // Not a Kage error body (a proxy's page, another server): the status is named instead.
  fake.route('GET', '/api/v1/runs/r3', () => ({ status: 502, body: 'Bad Gateway' }));
  await assert.rejects(client.getRun('r3'), (err: unknown) => {
    assert.ok(err instanceof CoordinatorRequestError);
    assert.equal(err.code, 'KAGE_ERR_COORDINATOR_RESPONSE');
    assert.equal(err.status, 502);
    assert.match(err.message, /answered HTTP 502 without a Kage error/);
    return true;
  });
});

test('a state-changing request without a token fails before it is sent', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  const client = new CoordinatorClient({ url: resolveCoordinatorUrl(fake.url, {}) });
  await assert.rejects(client.cancelRun('r1'), { code: 'KAGE_ERR_CLI_TOKEN_MISSING' });
  assert.equal(fake.requests.length, 0);
});
