/**
 * The contract every format implements. Parsers are pure apart from per-file state (a CSV
 * header); that state is saved with the file's checkpoint so a restart mid-file parses the
 * remaining lines exactly as an uninterrupted run would.
 */
import type { LineOutcome } from './reading.js';

export interface LineParser {
  /** Parses one line (without its newline). Never throws on bad input: returns `{ok:false, reason}`. */
  parseLine(line: string): LineOutcome;
  /** Opaque state to persist with the checkpoint; null when the parser is stateless. */
  saveState(): string | null;
}

export interface ParserOptions {
  /** Sensor for formats whose records do not name one (senseye-csv), or a default for jsonl. */
  sensor?: string | undefined;
}

export type ParserFactory = (options: ParserOptions, savedState: string | null) => LineParser;
