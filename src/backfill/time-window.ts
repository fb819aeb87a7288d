/**
 * `--from` / `--to`: keeps readings whose time is in [from, to) and counts the rest. Filtered
 * readings are not errors, so they are not dead letters; the summary reports how many.
 */
import type { ParsedChunk } from '../pipeline/parse-chunk.js';

export interface TimeWindow {
  from: number | null;
  to: number | null;
}

export function windowFilter(window: TimeWindow, onFiltered: (n: number) => void): (chunk: ParsedChunk) => ParsedChunk {
  const { from, to } = window;
  if (from === null && to === null) return (c) => c;
  const inside = (ts: number) => (from === null || ts >= from) && (to === null || ts < to);
  return (chunk) => {
    const { batch } = chunk;
    const readings = batch.readings.filter((r) => inside(r.ts));
    const spectra = batch.spectra?.filter((s) => inside(s.ts));
    const filtered = batch.readings.length - readings.length + (batch.spectra?.length ?? 0) - (spectra?.length ?? 0);
    if (filtered === 0) return chunk;
    onFiltered(filtered);
    return { ...chunk, batch: { ...batch, readings, spectra } };
  };
}
