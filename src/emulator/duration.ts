/**
 * Durations for token lifetimes (`90s`, `15m`, `1h`, `7d`, `1h30m`): the config's parser
 * (src/config/units.ts), but throwing a RangeError that shows the accepted forms, as the
 * emulator's CLI and control endpoint want.
 */
import { parseDuration as parseConfigDuration } from '../config/units.js';

/** Returns milliseconds. */
export function parseDuration(text: string): number {
  const ms = parseConfigDuration(text);
  if (ms === undefined) throw new RangeError(`expected a duration like 90s, 15m, 1h, 7d or 1h30m; got ${JSON.stringify(text)}`);
  return ms;
}
