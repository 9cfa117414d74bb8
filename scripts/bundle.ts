/**
 * `npm run build`: bundles every handler with esbuild the way Lambda gets them (the shared
 * BUNDLING settings of functions/handlers.ts) into dist/{name}/index.mjs and prints the sizes.
 */
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { BUNDLING, HANDLERS } from '../functions/handlers.ts';

const rows: string[] = [];
for (const [name, { entry }] of Object.entries(HANDLERS)) {
  const outfile = `dist/${name}/index.mjs`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: BUNDLING.target,
    format: BUNDLING.format,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourcemap,
    external: [...BUNDLING.external],
    legalComments: 'none',
    banner: { js: BUNDLING.banner },
    logLevel: 'warning',
  });
  rows.push(`${name.padEnd(14)} ${(statSync(outfile).size / 1024).toFixed(0).padStart(6)} KB  ${outfile}`);
}
console.log(rows.join('\n'));
