/**
 * What a name must be — a sensor name, a measure name, an influx tag — in every format, so no
 * format lets through what another refuses. Invariant: a name that passes is non-empty, at most
 * `maxLength` characters (Unicode code points), valid Unicode (no lone surrogate: it could not
 * be written as UTF-8 to the hub), and free of control characters (C0 U+0000-U+001F, DEL U+007F,
 * C1 U+0080-U+009F): a name is shown in the hub's UI, logs and URLs, where a NUL, a newline or a
 * vertical tab is never meant. Checked before anything is created for the name.
 *
 * Names are checked once per distinct name where a parser can remember it (a CSV header); per
 * record otherwise. The loop is over UTF-16 code units with one comparison for the common
 * printable case, so the check is cheap next to JSON.parse.
 */

/** Senseye documents no limit; 256 is far beyond any real tag or measure name, small enough to refuse garbage. */
export const DEFAULT_MAX_NAME_LENGTH = 256;

/** Why `name` cannot be a name (`what` says which, e.g. `sensor`), or null when it can. */
export function nameProblem(name: string, what: string, maxLength: number): string | null {
  const n = name.length;
  if (n === 0) return `${what} is empty`;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    // Printable ASCII and everything from U+00A0 up to the surrogates: the common case.
    if ((c >= 0x20 && c < 0x7f) || (c >= 0xa0 && c < 0xd800)) continue;
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
      return `${what} ${quote(name)} has control character U+${hex(c)} at character ${i + 1}: names may not hold control characters`;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = name.charCodeAt(i + 1); // NaN past the end
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `${what} ${quote(name)} has a lone surrogate U+${hex(c)} at character ${i + 1}: not valid Unicode`;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `${what} ${quote(name)} has a lone surrogate U+${hex(c)} at character ${i + 1}: not valid Unicode`;
  }
  // Code points ≤ code units: only a long string needs counting.
  if (n > maxLength) {
    let points = n;
    for (let i = 0; i < n; i++) {
      const c = name.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) points--; // a pair (lone ones were refused above)
    }
    if (points > maxLength) {
      return `${what} is ${points} characters long, over the limit of ${maxLength} (input.max_name_length): ${quote(name)}`;
    }
  }
  return null;
}

/**
 * A name check that remembers the names it passed (up to CACHED_NAMES, then it starts over):
 * records of one source mostly repeat a few names, and a set lookup is cheaper than checking
 * them again.
 */
export class NameCheck {
  private readonly passed = new Set<string>();
  constructor(
    private readonly what: string,
    private readonly maxLength: number,
  ) {}

  problem(name: string): string | null {
    if (this.passed.has(name)) return null;
    const problem = nameProblem(name, this.what, this.maxLength);
    if (problem === null) {
      if (this.passed.size >= CACHED_NAMES) this.passed.clear();
      this.passed.add(name);
    }
    return problem;
  }
}

const CACHED_NAMES = 1024;

function hex(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0');
}

/** The name as JSON (control characters escaped, so the reason is readable), clipped. */
function quote(name: string): string {
  // JSON escapes C0 and lone surrogates; DEL and C1 it leaves raw (invisible in a log).
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name).replace(/[\u007f-\u009f]/g, (c) => `\\u${hex(c.charCodeAt(0))}`);
}
