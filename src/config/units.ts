/**
 * Human units in config: durations ("250ms", "2s", "5m", "1h", "7d") and sizes ("512KiB",
 * "1GiB", "10MB"). Plain numbers mean milliseconds and bytes.
 */
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "2s", "1.5h", "7d", "2 w", or a sum like "1h30m"; a unit is required. Undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const input = text.trim().toLowerCase();
  const single = DURATION.exec(input);
  if (single !== null) return Math.round(Number(single[1]) * DURATION_MS[single[2]!]!);
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = DURATION_PART.exec(input); m !== null; m = DURATION_PART.exec(input)) {
    total += Number(m[1]) * DURATION_MS[m[2]!]!;
    consumed = DURATION_PART.lastIndex;
  }
  return consumed > 0 && consumed === input.length ? Math.round(total) : undefined;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/i;
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
  tb: 1e12,
  tib: 1024 ** 4,
};

export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()]!);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  if (ms < 86_400_000) return `${+(ms / 3_600_000).toFixed(1)}h`;
  return `${+(ms / 86_400_000).toFixed(1)}d`;
}
