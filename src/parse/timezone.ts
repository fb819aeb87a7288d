/**
 * Wall-clock times in an IANA time zone → UTC instants, DST-aware, using only the built-in
 * `Intl` API (Node ships full ICU), so no time-zone database package is needed.
 *
 * Local times that occur twice (the hour repeated when DST ends) or never (the hour skipped
 * when DST starts) are resolved deterministically, as Temporal's `compatible` disambiguation,
 * JavaScript's Date and RFC 5545 do:
 * - ambiguous (fold): the EARLIER instant, i.e. the offset in force before the change
 *   (Europe/Berlin 2026-10-25 02:30 → 00:30Z, CEST);
 * - skipped (gap): moved FORWARD by the length of the gap (Europe/Berlin 2026-03-29 02:30 →
 *   03:30 CEST = 01:30Z).
 * Invariant: the result is a pure function of (zone, wall time); a per-minute cache keeps it fast.
 */
const DAY_MS = 86_400_000;
const CACHE_LIMIT = 20_000;

/** True when `zone` is an IANA zone name this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export class ZoneClock {
  private readonly format: Intl.DateTimeFormat;
  /** Wall-clock minute → offset (ms) chosen for it. */
  private readonly cache = new Map<number, number>();

  constructor(readonly zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  }

  /**
   * `wall` is the local date and time encoded as if it were UTC (Date.UTC(y, m, d, h, mi, s, ms));
   * returns the UTC instant it denotes in this zone.
   */
  toEpochMs(wall: number): number {
    const minute = Math.floor(wall / 60_000) * 60_000;
    let offset = this.cache.get(minute);
    if (offset === undefined) {
      offset = minute - this.resolve(minute);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(minute, offset);
    }
    return wall - offset;
  }

  /** Offset (local − UTC, in ms) in force at the UTC instant `utc`. */
  offsetAt(utc: number): number {
    const parts = this.format.formatToParts(new Date(utc));
    let year = 0;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let bc = false;
    for (const p of parts) {
      switch (p.type) {
        case 'year': year = Number(p.value); break;
        case 'month': month = Number(p.value); break;
        case 'day': day = Number(p.value); break;
        case 'hour': hour = Number(p.value); break;
        case 'minute': minute = Number(p.value); break;
        case 'second': second = Number(p.value); break;
        case 'era': bc = p.value.startsWith('B'); break;
        default: break;
      }
    }
    const wall = Date.UTC(bc ? 1 - year : year, month - 1, day, hour, minute, second);
    return wall - (utc - mod(utc, 1000));
  }

  private resolve(wall: number): number {
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    let best: number | undefined;
    for (const offset of before === after ? [before] : [before, after]) {
      const utc = wall - offset;
      if (this.offsetAt(utc) === offset && (best === undefined || utc < best)) best = utc;
    }
    // No offset reproduces this wall time: it lies in a gap; keep the offset from before it.
    return best ?? wall - before;
  }
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}
