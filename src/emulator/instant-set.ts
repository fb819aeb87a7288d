/**
 * The instants (UTC milliseconds) one series holds, for counting overwrites. Epoch milliseconds
 * are too large for V8's small integers, so a plain Set<number> boxes and hashes a heap number
 * per reading (it was the emulator's largest cost in the benchmarks). Here each hour has its own
 * set of milliseconds into that hour, which are small integers; readings arrive mostly in time
 * order, so the last hour's set is kept at hand.
 */
const HOUR_MS = 3_600_000;

export class InstantSet {
  private readonly hours = new Map<number, Set<number>>();
  private lastHour = Number.NaN;
  private lastSet: Set<number> | null = null;
  size = 0;

  /** Adds the instant; true if it was new. */
  add(epochMs: number): boolean {
    const hour = Math.floor(epochMs / HOUR_MS);
    let set = hour === this.lastHour ? this.lastSet : this.hours.get(hour);
    if (set === undefined || set === null) this.hours.set(hour, (set = new Set()));
    this.lastHour = hour;
    this.lastSet = set;
    const before = set.size;
    set.add(epochMs - hour * HOUR_MS);
    if (set.size === before) return false;
    this.size++;
    return true;
  }

  has(epochMs: number): boolean {
    const hour = Math.floor(epochMs / HOUR_MS);
    return this.hours.get(hour)?.has(epochMs - hour * HOUR_MS) ?? false;
  }
}
