import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { createFileReader, parseDecimal, parseInt10, parseUint } from '../src/telemetry/proc-file.js';
import { createSampler } from '../src/index.js';
import { fixtureRoots, recordingLogger } from './fixtures/fixture-trees.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-procfile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openFdCount(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

describe('file reader', () => {
  test('readStable keeps one descriptor and sees in-place rewrites; release and close free it', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'value');
    await writeFile(path, '1\n');
    const files = createFileReader();
    const before = await openFdCount();
    const first = await Promise.all([1, 2, 3, 4, 5].map(() => files.readStable(path)));
    assert.deepEqual(first, ['1\n', '1\n', '1\n', '1\n', '1\n']);
    assert.equal(files.keptCount, 1, 'concurrent first reads share one descriptor');
    assert.equal(await openFdCount(), before + 1);
    await writeFile(path, '22\n');
    assert.equal(await files.readStable(path), '22\n');
    files.release(path);
    files.release(path);
    assert.equal(files.keptCount, 0);
    assert.equal(await files.readStable(path), '22\n');
    files.close();
    files.close();
    await new Promise((r) => setTimeout(r, 20)); // close(2) runs on the pool
    assert.equal(await openFdCount(), before);
  });

  test('a missing file is null and picked up once it appears', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'late');
    const files = createFileReader();
    t.after(() => files.close());
    assert.equal(await files.readStable(path), null);
    assert.equal(files.keptCount, 0);
    await writeFile(path, 'here\n');
    assert.equal(await files.readStable(path), 'here\n');
  });

  test('a descriptor that starts failing is dropped and the path reopened on the same call', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'attr');
    // A directory opens fine and then fails every read (EISDIR): a stand-in for ENODEV from a
    // device or cgroup that went away.
    await mkdir(path);
    const files = createFileReader();
    t.after(() => files.close());
    assert.equal(await files.readStable(path), null);
    await rm(path, { recursive: true });
    await writeFile(path, 'recreated\n');
    assert.equal(await files.readStable(path), 'recreated\n');
    assert.equal(files.keptCount, 1);
  });

  test('beyond maxKept, reads fall back to open → read → close; keepOpen false keeps nothing', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'a'), 'a');
    await writeFile(join(dir, 'b'), 'b');
    const capped = createFileReader({ maxKept: 1 });
    t.after(() => capped.close());
    assert.equal(await capped.readStable(join(dir, 'a')), 'a');
    assert.equal(await capped.readStable(join(dir, 'b')), 'b');
    assert.equal(capped.keptCount, 1);
    const none = createFileReader({ keepOpen: false });
    assert.equal(await none.readStable(join(dir, 'a')), 'a');
    assert.equal(none.keptCount, 0);
  });

  test('files larger than the pooled buffer are read whole; readBytes stops at its limit', async (t) => {
    const dir = await tempDir(t);
    const big = 'x'.repeat(100_000) + '\nend\n';
    await writeFile(join(dir, 'big'), big);
    const files = createFileReader();
    t.after(() => files.close());
    assert.equal(await files.readText(join(dir, 'big')), big);
    assert.equal(await files.readStable(join(dir, 'big')), big);
    assert.deepEqual(await files.readBytes(join(dir, 'big'), 4), Buffer.from('xxxx'));
    assert.equal(await files.readBytes(join(dir, 'nope'), 4), null);
    assert.equal(await files.readText(dir), null, 'a directory is not a file');
  });

  test('number parsers: anything but the whole number is null', () => {
    assert.equal(parseUint(' 42\n'), 42);
    for (const bad of ['', ' ', '-1', '4.2', '12a', 'N/A', null, undefined]) assert.equal(parseUint(bad), null);
    assert.equal(parseUint('99999999999999999999'), null, 'beyond 2^53');
    assert.equal(parseInt10('-5000\n'), -5000);
    assert.equal(parseInt10('5e3'), null);
    assert.equal(parseDecimal('0.52'), 0.52);
    assert.equal(parseDecimal('.5'), null);
  });

  test('a closed sampler leaves no descriptor open', async () => {
    const { log } = recordingLogger();
    // Let closes queued by the previous tests' cleanup land before counting.
    await new Promise((r) => setTimeout(r, 50));
    const before = await openFdCount();
    const sampler = createSampler({
      log,
      intervalMs: 20,
      ...fixtureRoots('apu-8060s'),
      nvidiaSmi: false,
      services: () => [{ name: 'ollama', cgroup: 'system.slice/ollama.service' }],
      onSample: () => undefined,
    });
    sampler.start();
    await sampler.sampleNow();
    assert.ok((await openFdCount()) > before);
    await sampler.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await openFdCount(), before);
  });
});
