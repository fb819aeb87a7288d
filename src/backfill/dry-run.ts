/**
 * `backfill --dry-run`: the same sources and parsers as a real run, with nothing written and
 * nothing sent. Every chunk is counted per file and acknowledged at once; every problem is kept
 * with its file and line.
 */
import { map, merge } from 'rxjs';
import type { Logger } from 'pino';
import type { SourceConfig } from '../config/sources-schema.js';
import { parseChunk } from '../pipeline/parse-chunk.js';
import { createSource } from '../sources/registry.js';
import type { Source } from '../sources/source.js';
import { windowFilter, type TimeWindow } from './time-window.js';

const STALL_MS = 30_000;

export interface DryRunFile {
  path: string;
  readings: number;
  spectra: number;
  invalid: number;
}

export interface DryRunReport {
  files: DryRunFile[];
  problems: Array<{ file: string; line: number | null; reason: string }>;
  filtered: number;
}

export async function dryRun(configs: SourceConfig[], window: TimeWindow, logger: Logger, sensorIds?: ReadonlyMap<string, string>): Promise<DryRunReport> {
  const perFile = new Map<string, DryRunFile>();
  const problems: DryRunReport['problems'] = [];
  let filtered = 0;
  const sources: Source[] = configs.map((c) => createSource(c, { lane: 0, checkpoints: [], logger, sensorIds }));
  const filter = windowFilter(window, (n) => (filtered += n));
  const entry = (file: string) => {
    let e = perFile.get(file);
    if (e === undefined) perFile.set(file, (e = { path: file, readings: 0, spectra: 0, invalid: 0 }));
    return e;
  };
  let lastChunkAt = Date.now();
  const done = new Promise<void>((resolve, reject) => {
    merge(...sources.map((s) => s.chunks$))
      .pipe(
        map((chunk) => ({ origin: chunk.origin, parsed: filter(parseChunk(chunk)) })),
      )
      .subscribe({
        next: ({ origin, parsed }) => {
          lastChunkAt = Date.now();
          const e = entry(origin);
          e.readings += parsed.batch.readings.length;
          e.spectra += parsed.batch.spectra?.length ?? 0;
          for (const d of parsed.batch.deadLetters) {
            e.invalid++;
            problems.push({ file: d.origin ?? origin, line: d.line ?? null, reason: d.reason });
          }
          parsed.ack();
        },
        error: reject,
        complete: resolve,
      });
  });
  // Wait until every file was read to its end, then finish (last unterminated lines) and complete.
  // Bounded: a source that makes no progress for STALL_MS (an unreadable file) ends the wait.
  for (let i = 0; !sources.every((s) => s.isCaughtUp()); i++) {
    if (Date.now() - lastChunkAt > STALL_MS) {
      problems.push({ file: '(sources)', line: null, reason: `reading made no progress for ${STALL_MS / 1000} s; see the log for the file that could not be read` });
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, i < 20 ? 10 : 100));
  }
  await Promise.all(sources.map((s) => s.finish?.() ?? s.drain()));
  await done;
  return { files: [...perFile.values()].sort((a, b) => a.path.localeCompare(b.path)), problems, filtered };
}
