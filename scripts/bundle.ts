/**
 * `npm run build`: bundles every handler with esbuild the way Lambda gets them (ESM, Node 20,
 * minified, source maps) into dist/{name}/index.mjs and prints the sizes.
 * The AWS SDK stays in the bundle: the runtime's copy drifts from the version we test with.
 */
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { HANDLERS } from '../functions/handlers.ts';

const rows: string[] = [];
for (const [name, { entry }] of Object.entries(HANDLERS)) {
  const outfile = `dist/${name}/index.mjs`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    // Some CommonJS dependencies call require(); give ESM bundles one.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  rows.push(`${name.padEnd(14)} ${(statSync(outfile).size / 1024).toFixed(0).padStart(6)} KB  ${outfile}`);
}
console.log(rows.join('\n'));
