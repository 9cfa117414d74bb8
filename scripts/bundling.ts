/**
 * Bundles one handler with esbuild the way Lambda gets it (the shared BUNDLING settings of
 * functions/handlers.ts): `{outRoot}/{name}/index.mjs` plus the chunks of its dynamic imports.
 * Used by `npm run build` (scripts/bundle.ts), the cold-start benchmark (bench/cold-start.ts)
 * and the CDK functions (through scripts/bundle-handler.ts), so all three ship the same files.
 */
import { build, type Metafile } from 'esbuild';
import { join } from 'node:path';
import { BUNDLING, HANDLERS, type HandlerName } from '../functions/handlers.ts';

export interface BundledHandler {
  name: HandlerName;
  dir: string;
  /** The entry file Lambda imports. */
  entry: string;
  /** Bytes of the entry chunk, and of every .mjs file (entry + chunks), source maps left out. */
  entryBytes: number;
  totalBytes: number;
  metafile: Metafile;
}

/** Bundles into `{outRoot}/{name}`, or into `options.dir` when given. */
export async function bundleHandler(name: HandlerName, outRoot = 'dist', options: { dir?: string } = {}): Promise<BundledHandler> {
  const dir = options.dir ?? join(outRoot, name);
  const result = await build({
    entryPoints: [HANDLERS[name].entry],
    outdir: dir,
    entryNames: BUNDLING.entryNames,
    chunkNames: BUNDLING.chunkNames,
    outExtension: { '.js': BUNDLING.outExtension },
    splitting: BUNDLING.splitting,
    bundle: true,
    platform: 'node',
    target: BUNDLING.target,
    format: BUNDLING.format,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourcemap,
    external: [...BUNDLING.external],
    legalComments: 'none',
    banner: { js: BUNDLING.banner },
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.mjs'));
  const entry = outputs.find(([, o]) => o.entryPoint !== undefined);
  if (!entry) throw new Error(`${name}: esbuild wrote no entry chunk`);
  return {
    name,
    dir,
    entry: entry[0],
    entryBytes: entry[1].bytes,
    totalBytes: outputs.reduce((sum, [, o]) => sum + o.bytes, 0),
    metafile: result.metafile,
  };
}
