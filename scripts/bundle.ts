/**
 * `npm run build`: bundles every handler with esbuild the way Lambda gets them (the shared
 * BUNDLING settings of functions/handlers.ts) into dist/{name}/ (index.mjs and its chunks) and
 * prints the sizes.
 */
import { rmSync } from 'node:fs';
import { HANDLERS, type HandlerName } from '../functions/handlers.ts';
import { bundleHandler } from './bundling.ts';

rmSync('dist', { recursive: true, force: true });
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0).padStart(6)} KB`;
const rows: string[] = [`${'handler'.padEnd(14)} ${'entry'.padStart(9)} ${'total'.padStart(9)}`];
for (const name of Object.keys(HANDLERS) as HandlerName[]) {
  const b = await bundleHandler(name);
  rows.push(`${name.padEnd(14)} ${kb(b.entryBytes)} ${kb(b.totalBytes)}  ${b.entry}`);
}
console.log(rows.join('\n'));
