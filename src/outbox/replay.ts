/**
 * Moves dead letters back into the outbox. A reading the hub refused goes back as it was (to
 * its lane); an input line is parsed again with its source's current settings (the fix is
 * often in the config: a missing `sensor`, a timezone). Each row is settled in one transaction:
 * back in the outbox and gone from dead_letters, or left where it was with the new reason.
 */
import type { LineOutcome, Reading } from '../parse/reading.js';
import type { Spectrum } from '../parse/spectrum.js';
import type { DeadLetterRow } from './dead-letters.js';
import type { Outbox } from './outbox.js';
import { LIVE_LANE } from './types.js';
import { databaseOf } from './handle.js';

export interface ReplayResult {
  replayed: number;
  readings: number;
  failed: Array<{ id: number; reason: string }>;
}

/** Parses a dead line again; null when its source no longer exists. */
export type Reparse = (row: DeadLetterRow) => LineOutcome | null;

export function replayDeadLetters(outbox: Outbox, rows: readonly DeadLetterRow[], reparse: Reparse): ReplayResult {
  const result: ReplayResult = { replayed: 0, readings: 0, failed: [] };
  for (const row of rows) {
    const outcome = recover(row, reparse);
    if (!outcome.ok) {
      result.failed.push({ id: row.id, reason: outcome.reason });
      continue;
    }
    databaseOf(outbox).transaction(() => {
      outbox.append([
        {
          source: row.stage !== 'parse' ? 'replay' : row.source,
          lane: row.lane ?? LIVE_LANE,
          readings: outcome.readings,
          spectra: outcome.spectra,
          deadLetters: [],
        },
      ]);
      outbox.deadLetters.delete({ ids: [row.id] });
    })();
    result.replayed++;
    result.readings += outcome.readings.length + (outcome.spectra?.length ?? 0);
  }
  return result;
}

function recover(row: DeadLetterRow, reparse: Reparse): { ok: true; readings: Reading[]; spectra?: Spectrum[] } | { ok: false; reason: string } {
  if (row.stage !== 'parse') {
    if (row.sensor !== null && row.measure !== null && row.ts !== null && row.value !== null) {
      const value = row.value_kind === 'boolean' ? row.value === 1 : row.value;
      return { ok: true, readings: [{ sensor: row.sensor, measure: row.measure, ts: row.ts, value }] };
    }
    if (row.raw !== null) {
      try {
        const s = JSON.parse(row.raw) as { sensor: string; ts: number; spectrum: Omit<Spectrum, 'sensor' | 'ts'> };
        return { ok: true, readings: [], spectra: [{ ...s.spectrum, sensor: s.sensor, ts: s.ts }] };
      } catch {
        // fall through
      }
    }
    return { ok: false, reason: 'dead letter holds no reading to replay' };
  }
  if (row.raw === null) return { ok: false, reason: 'dead letter has no raw text to parse again' };
  const outcome = reparse(row);
  if (outcome === null) return { ok: false, reason: `source "${row.source}" is no longer in the config` };
  if (!outcome.ok) return { ok: false, reason: `still invalid: ${outcome.reason}` };
  return { ok: true, readings: outcome.readings, spectra: outcome.spectra };
}
