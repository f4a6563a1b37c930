/**
 * `@kage/bench/clients` gives the protocol clients without the SQLite store: the node agent
 * imports it statically and must not load better-sqlite3 for it. Checked in a fresh process
 * (this one has long loaded everything), with the main entry as the control that shows the check
 * sees better-sqlite3 when it is loaded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The package root (this file runs from `dist/test/`): the child resolves `@kage/bench` from there. */
const packageDir = fileURLToPath(new URL('../../', import.meta.url));

interface Loaded {
  resolved: string;
  exports: string[];
  /** Every CommonJS module loaded; better-sqlite3 is CommonJS, so an import of it lands here. */
  commonjs: string[];
}

/** Imports `specifier` alone in a new Node process and reports what that loaded. */
function importAlone(specifier: string): Loaded {
  const script = `
    import { createRequire } from 'node:module';
    const m = await import(${JSON.stringify(specifier)});
    const cache = createRequire(import.meta.url).cache;
    process.stdout.write(JSON.stringify({
      resolved: import.meta.resolve(${JSON.stringify(specifier)}),
      exports: Object.keys(m),
      commonjs: Object.keys(cache),
    }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Loaded;
}

const isSqlite = (file: string): boolean => file.includes(`${sep}better-sqlite3${sep}`);

void describe('@kage/bench/clients entry', () => {
  void test('gives the clients without loading better-sqlite3; the main entry does load it', () => {
    const clients = importAlone('@kage/bench/clients');
    assert.match(clients.resolved, /\/dist\/src\/clients\.js$/);
    for (const name of ['createClient', 'modelIdFor', 'createOllamaClient', 'createOpenAiClient', 'createExoClient'])
      assert.ok(clients.exports.includes(name), `${name} is exported`);
    assert.deepEqual(clients.commonjs.filter(isSqlite), []);

    const main = importAlone('@kage/bench');
    assert.ok(main.commonjs.some(isSqlite), 'the control: the main entry loads better-sqlite3, and the check sees it');
  });
});
