/**
 * Cold start and weight of every handler: each is bundled with the shared BUNDLING settings
 * (scripts/bundling.ts, as `npm run build` does), then its entry is imported in fresh `node`
 * processes and timed. The `@aws-sdk/*` packages stay external and resolve from the project's
 * node_modules, so their load is part of the time, as it is on Lambda (which ships SDK v3).
 *
 * Sizes: the entry chunk, what a cold start loads (the entry and the chunks it imports
 * statically), and every chunk (what the dynamic imports add later). Largest contributors: the
 * metafile's bytes in the cold-start output, by package.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { HANDLERS, type HandlerName } from '../functions/handlers.ts';
import { bundleHandler } from '../scripts/bundling.ts';
import { fmtKB, median, table } from './report.ts';

const run = promisify(execFile);

export const COLD_START = {
  /** Fresh processes per handler. */
  imports: 7,
  quickImports: 3,
  /** The issue's goals. */
  goalBytes: 250 * 1024,
  goalInitMs: 40,
  outRoot: '.bench-tmp/bundles',
} as const;

export interface ColdStartRow {
  name: HandlerName;
  entryBytes: number;
  /** Entry plus the chunks it imports statically: what a cold start parses. */
  initBytes: number;
  totalBytes: number;
  /** Import times of the bundle (ms), one per fresh process, after the SDK packages it names. */
  initMs: number[];
  /** Import times of those SDK packages (ms), in the same processes, before the bundle. */
  sdkMs: number[];
  sdk: string[];
  contributors: { name: string; bytes: number }[];
  lazy: { name: string; bytes: number }[];
}

export interface ColdStartResult {
  rows: ColdStartRow[];
  /** `node` importing an empty module, for reference. */
  emptyMs: number[];
  imports: number;
}

/** Chunks loaded at import: the entry and, transitively, its static imports. */
function initOutputs(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of meta.outputs[file]?.imports ?? []) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  return seen;
}

/** `node_modules/@scope/name/...` → `@scope/name`; our own code → `functions/ (ours)`. */
function owner(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (m) return m[1]!;
  return input.startsWith('functions/') ? 'functions/ (ours)' : input;
}

function byPackage(meta: Metafile, outputs: Iterable<string>): { name: string; bytes: number }[] {
  const sums = new Map<string, number>();
  for (const file of outputs) {
    for (const [input, { bytesInOutput }] of Object.entries(meta.outputs[file]?.inputs ?? {})) {
      sums.set(owner(input), (sums.get(owner(input)) ?? 0) + bytesInOutput);
    }
  }
  return [...sums].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * In a fresh process: import the external SDK packages the bundle names (timed), then the
 * bundle (timed). The sum is the bundle's cold import; the second figure is our code's own.
 * `awslambda` is the Lambda runtime's global (the SSE handler calls streamifyResponse at import).
 */
const IMPORT_SCRIPT = `
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const [target, ...sdk] = process.argv.slice(1);
const t0 = performance.now();
for (const m of sdk) await import(m);
const t1 = performance.now();
await import(target);
const t2 = performance.now();
process.stdout.write(JSON.stringify([t1 - t0, t2 - t1]));`;

async function timeImport(file: string | undefined, sdk: readonly string[]): Promise<{ sdkMs: number; ownMs: number }> {
  // A module with nothing in it stands for "Node starting and importing": the floor.
  const target = file ? pathToFileURL(resolve(file)).href : 'data:text/javascript,';
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', IMPORT_SCRIPT, target, ...sdk], {
      // The handlers read their environment lazily; Powertools reads a few variables at import.
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
    });
    const [sdkMs, ownMs] = JSON.parse(stdout) as [number, number];
    return { sdkMs, ownMs };
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? error);
    throw new Error(`importing ${file ?? 'nothing'} failed: ${stderr.split('\n').filter((l) => /Error/.test(l)).slice(0, 3).join(' / ').slice(0, 500)}`);
  }
}

/** The external packages the cold-start chunks import (the SDK). */
function externals(meta: Metafile, outputs: Iterable<string>): string[] {
  const names = new Set<string>();
  for (const file of outputs) for (const i of meta.outputs[file]?.imports ?? []) if (i.external && !i.path.startsWith('node:')) names.add(i.path);
  return [...names].sort();
}

export async function runColdStart(options: { quick: boolean; progress: (line: string) => void }): Promise<ColdStartResult> {
  const imports = options.quick ? COLD_START.quickImports : COLD_START.imports;
  const rows: ColdStartRow[] = [];
  for (const name of Object.keys(HANDLERS) as HandlerName[]) {
    const b = await bundleHandler(name, COLD_START.outRoot);
    const loaded = initOutputs(b.metafile, b.entry);
    const lazyFiles = Object.keys(b.metafile.outputs).filter((f) => f.endsWith('.mjs') && !loaded.has(f));
    const sdk = externals(b.metafile, loaded);
    const initMs: number[] = [];
    const sdkMs: number[] = [];
    for (let i = 0; i < imports; i++) {
      const t = await timeImport(join(b.entry), sdk);
      initMs.push(t.ownMs);
      sdkMs.push(t.sdkMs);
    }
    rows.push({
      name,
      entryBytes: b.entryBytes,
      initBytes: [...loaded].reduce((s, f) => s + (b.metafile.outputs[f]?.bytes ?? 0), 0),
      totalBytes: b.totalBytes,
      initMs,
      sdkMs,
      sdk,
      contributors: byPackage(b.metafile, loaded).slice(0, 5),
      lazy: byPackage(b.metafile, lazyFiles).slice(0, 3),
    });
    options.progress(`cold start: ${name} ${fmtKB(b.entryBytes)} entry, import ${median(initMs).toFixed(1)} ms (+ ${median(sdkMs).toFixed(0)} ms of SDK)`);
  }
  const emptyMs: number[] = [];
  for (let i = 0; i < imports; i++) emptyMs.push((await timeImport(undefined, [])).ownMs);
  return { rows, emptyMs, imports };
}

export function coldStartProblems(r: ColdStartResult): string[] {
  return r.rows.flatMap((row) =>
    row.initBytes > COLD_START.goalBytes ? [`${row.name}: ${fmtKB(row.initBytes)} loaded at cold start (goal ${fmtKB(COLD_START.goalBytes)})`] : [],
  );
}

export function coldStartMarkdown(r: ColdStartResult): string {
  const kb = (n: number): string => fmtKB(n);
  const timing = (xs: number[]): string => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  const ok = (row: ColdStartRow): string =>
    row.initBytes <= COLD_START.goalBytes && median(row.initMs) <= COLD_START.goalInitMs ? 'yes' : 'no';
  return [
    table([
      ['handler', 'entry chunk', 'loaded at cold start', 'all chunks', `init: import of the bundle, ms`, 'import of the SDK it uses first, ms', `under ${kb(COLD_START.goalBytes)} and ${String(COLD_START.goalInitMs)} ms`, 'largest at cold start', 'loaded later (dynamic import)'],
      ...r.rows.map((row) => [
        row.name,
        kb(row.entryBytes),
        kb(row.initBytes),
        kb(row.totalBytes),
        timing(row.initMs),
        row.sdk.length ? `${timing(row.sdkMs)}: ${row.sdk.map((p) => `\`${p.replace('@aws-sdk/', '')}\``).join(', ')}` : '–',
        ok(row),
        row.contributors.map((c) => `${c.name} ${kb(c.bytes)}`).join(', '),
        row.lazy.length ? row.lazy.map((c) => `${c.name} ${kb(c.bytes)}`).join(', ') : '–',
      ]),
    ]),
    '',
    `Medians (min–max) of ${String(r.imports)} fresh \`node\` processes each. Each process first imports the external \`@aws-sdk/*\` packages the bundle names ` +
      '(from the project\'s node_modules, as Lambda loads its own copy) and then the bundle; both are timed, and a cold start pays the sum. ' +
      `Node importing an empty module takes ${timing(r.emptyMs)} ms by the same measure (not subtracted). ` +
      'Sizes are minified JavaScript without source maps.',
  ].join('\n');
}
