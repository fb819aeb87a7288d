/**
 * The pipeline's transform: a chunk of raw lines becomes readings plus dead letters (with file,
 * line and reason), carrying the file position and the parser's state after the last line.
 * Pure apart from the per-file parser state, and it never throws on bad input.
 */
import { MAX_RAW_CHARS, type DeadLetterInput, type IngestBatch } from '../outbox/types.js';
import type { Reading } from '../parse/reading.js';
import type { Spectrum } from '../parse/spectrum.js';
import type { LineChunk } from '../sources/source.js';

export interface ParsedChunk {
  batch: IngestBatch;
  ack: () => void;
}

export function parseChunk(chunk: LineChunk): ParsedChunk {
  const readings: Reading[] = [];
  const spectra: Spectrum[] = [];
  const deadLetters: DeadLetterInput[] = [];
  for (const refused of chunk.refused ?? []) {
    deadLetters.push({ stage: 'parse', source: chunk.source, origin: chunk.origin, line: refused.line, raw: refused.raw, reason: refused.reason });
  }
  const { parser, lines } = chunk;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let outcome;
    try {
      outcome = chunk.whole === true && parser.parseWhole !== undefined ? parser.parseWhole(line) : parser.parseLine(line);
    } catch (err) {
      // A parser bug must not stop the source or lose the line: it becomes a dead letter.
      outcome = { ok: false as const, reason: `parser failed: ${(err as Error).message}` };
    }
    if (outcome.ok) {
      for (const r of outcome.readings) readings.push(r);
      if (outcome.spectra !== undefined) for (const s of outcome.spectra) spectra.push(s);
      if (outcome.rejected !== undefined) {
        for (const r of outcome.rejected) {
          const raw = r.raw ?? line;
          deadLetters.push({ stage: 'parse', source: chunk.source, origin: chunk.origin, line: chunk.whole === true ? r.line : (r.line ?? chunk.firstLine + i - (r.linesBefore ?? 0)), raw: raw.length > MAX_RAW_CHARS ? raw.slice(0, MAX_RAW_CHARS) : raw, reason: r.reason });
        }
      }
    } else {
      deadLetters.push({
        stage: 'parse',
        source: chunk.source,
        origin: chunk.origin,
        line: chunk.firstLine + i,
        raw: line.length > MAX_RAW_CHARS ? line.slice(0, MAX_RAW_CHARS) : line,
        reason: outcome.reason,
      });
    }
  }
  return {
    batch: {
      source: chunk.source,
      lane: chunk.lane,
      readings,
      spectra: spectra.length > 0 ? spectra : undefined,
      deadLetters,
      checkpoint: chunk.checkpoint ? { ...chunk.checkpoint, parserState: parser.saveState() } : undefined,
    },
    ack: chunk.ack,
  };
}
