/** Formatting shared by the benchmark sections' tables. */

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The q-quantile (0..1) of xs, nearest rank. */
export const quantile = (sorted: readonly number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fmtKB = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;
export const fmt1 = (n: number): string => (Math.abs(n) >= 100 ? fmt(n) : n.toFixed(1));

/** "median (min–max)" of a series, or the one value. */
export const spread = (xs: readonly number[], f: (n: number) => string = fmt1): string =>
  xs.length === 1 ? f(xs[0]!) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;

export function table(rows: string[][]): string {
  const [head, ...body] = rows;
  return [head!, head!.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
