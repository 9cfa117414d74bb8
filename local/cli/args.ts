/** Tiny `--flag value` parser for the CLIs (node:util parseArgs with string options). */
import { parseArgs } from 'node:util';

export function parseFlags<K extends string>(names: readonly K[], argv = process.argv.slice(2)): Partial<Record<K, string>> & { help?: boolean } {
  const options = Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true });
  return values as Partial<Record<K, string>> & { help?: boolean };
}
