/**
 * Summaries of repeated measurements: median with min and max (never a mean: one run disturbed by
 * another engineer's test suite would drag a mean, a median shrugs it off), and number formats.
 */

/** Median, min and max of a list of numbers (the list is not modified). */
export function summarize(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v.at(-1), runs: v.length };
}

/** 1234567 -> "1,234,567"; small values keep up to `digits` decimals. */
export function fmt(n, digits = 0) {
  if (!Number.isFinite(n)) return String(n);
  const d = Math.abs(n) >= 100 ? 0 : digits;
  return n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });
}

/** Bytes -> "12.3 MiB". */
export function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A figure as "median (min – max)". */
export function fmtSummary(s, unit, digits = 0) {
  if (s.runs === 0) return 'n/a';
  if (s.runs === 1) return `${fmt(s.median, digits)} ${unit}`;
  return `${fmt(s.median, digits)} ${unit} (min ${fmt(s.min, digits)}, max ${fmt(s.max, digits)}, ${s.runs} runs)`;
}

/**
 * Checks a median against a target `{ op: '>=' | '<=', value }`: returns met, and when missed
 * by how much (as a fraction of the target).
 */
export function judge(median, target) {
  if (!target || !Number.isFinite(median)) return { met: null, by: null };
  const met = target.op === '>=' ? median >= target.value : median <= target.value;
  const by = met ? null : Math.abs(median - target.value) / target.value;
  return { met, by };
}
