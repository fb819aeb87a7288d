/**
 * Parses human durations for token lifetimes: `500ms`, `90s`, `15m`, `1h`, `7d`, `2w`, and
 * sums like `1h30m`. A unit is required (a bare `3600` could mean seconds or milliseconds);
 * anything unparsable throws a RangeError whose message shows the accepted forms.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

/** Returns milliseconds. */
export function parseDuration(text: string): number {
  const input = text.trim().toLowerCase();
  const hint = `expected a duration like 90s, 15m, 1h, 7d or 1h30m; got ${JSON.stringify(text)}`;
  if (input.length === 0) throw new RangeError(hint);
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART.exec(input); m; m = PART.exec(input)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = PART.lastIndex;
  }
  if (consumed !== input.length) throw new RangeError(hint);
  return Math.round(total);
}
