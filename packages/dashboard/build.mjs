// Builds the dashboard's static files into dist/public: one minified script and one stylesheet,
// each named by a hash of its content (served with a year-long cache), and index.html (always
// revalidated) that names them. Runs as part of the repository's build, so a fresh clone's
// `pnpm install` produces the page; nothing is fetched at run time.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const here = new URL('.', import.meta.url).pathname;
const out = join(here, 'dist', 'public');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'web', 'main.ts'), style: join(here, 'web', 'style.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
});

const names = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = names.find((n) => n.startsWith('app-') && n.endsWith('.js'));
const style = names.find((n) => n.startsWith('style-') && n.endsWith('.css'));
if (script === undefined || style === undefined) throw new Error(`the build did not write its assets: ${names}`);

const template = readFileSync(join(here, 'web', 'index.html'), 'utf8');
writeFileSync(
  join(out, 'index.html'),
  template.replace('%STYLE%', `assets/${style}`).replace('%SCRIPT%', `assets/${script}`),
);
