/**
 * `tsx scripts/bundle-handler.ts <handler> <dir>`: bundles one handler into `dir` (index.mjs and
 * its chunks) with the shared settings. The CDK functions run it after NodejsFunction's own
 * esbuild pass, whose single `--outfile` cannot hold the chunks of code splitting (see
 * lib/constructs/realtime-function.ts).
 */
import { HANDLERS, type HandlerName } from '../functions/handlers.ts';
import { bundleHandler } from './bundling.ts';

const [name, dir] = process.argv.slice(2);
if (!name || !(name in HANDLERS) || !dir) {
  console.error(`usage: tsx scripts/bundle-handler.ts <${Object.keys(HANDLERS).join('|')}> <dir>`);
  process.exit(2);
}
const bundled = await bundleHandler(name as HandlerName, undefined, { dir });
console.error(`${name}: ${(bundled.entryBytes / 1024).toFixed(0)} KB entry, ${(bundled.totalBytes / 1024).toFixed(0)} KB in all`);
