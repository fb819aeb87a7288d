/** Shapes that cross the outbox boundary: what sources commit and what the shipper claims. */
import type { Reading, ReadingValue, ValueKind } from '../parse/reading.js';
import type { Spectrum } from '../parse/spectrum.js';

/** Live readings (the daemon's sources) ship ahead of backfill lanes and never wait behind them. */
export const LIVE_LANE = 0;

/** A file position: committed in the same transaction as the readings read up to it. */
export interface FileCheckpoint {
  source: string;
  /** Identity of the file (device:inode), not its path, so a renamed file keeps its position. */
  fileKey: string;
  path: string;
  /** Byte offset just after the last complete line consumed. */
  offset: number;
  /** Number of lines consumed (the next line's number is line + 1). */
  line: number;
  /** Length and SHA-256 of the file's first bytes, to tell a reused inode from the same file. */
  headLen: number;
  headHash: string;
  parserState: string | null;
}

/**
 * Why a record is a dead letter: `parse` invalid input, `hub` refused by the hub (or failed
 * alone by it for good: poison.ts), `expired` not delivered within `hub.retry.max_age`.
 */
export type DeadLetterStage = 'parse' | 'hub' | 'expired';
export const DEAD_LETTER_STAGES = ['parse', 'hub', 'expired'] as const satisfies readonly DeadLetterStage[];

export interface DeadLetterInput {
  stage: DeadLetterStage;
  source: string;
  origin?: string | undefined;
  line?: number | undefined;
  reason: string;
  raw?: string | undefined;
  reading?: Reading | undefined;
  lane?: number | undefined;
}

/** One unit of work for the outbox writer: everything in it commits together or not at all. */
export interface IngestBatch {
  source: string;
  lane: number;
  readings: Reading[];
  /** Frequency spectra (stored and shipped apart from time series). */
  spectra?: Spectrum[] | undefined;
  deadLetters: DeadLetterInput[];
  checkpoint?: FileCheckpoint | undefined;
}

export interface WaitingReading {
  id: number;
  sensor: string;
  measure: string;
  kind: ValueKind;
  ts: number;
  value: ReadingValue;
}

export interface WaitingSpectrum {
  id: number;
  sensor: string;
  ts: number;
  /** The spectrum object's fields as JSON (amplitudeUnit … data), without addressing or timestamp. */
  body: string;
}

/** Raw text stored with a dead letter is truncated to this many characters. */
export const MAX_RAW_CHARS = 4096;
