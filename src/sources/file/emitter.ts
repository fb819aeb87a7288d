/**
 * Hands a chunk with its position to the pipeline once an in-flight slot is free, and records
 * the position in the book. Used by the readers that are not tailers (gzip, whole documents).
 */
import type { LineParser } from '../../parse/parser.js';
import type { InFlightLimit, LineChunk, RefusedLine } from '../source.js';
import { toCheckpoint, type Position, type PositionBook } from './positions.js';

export interface ChunkBody {
  firstLine: number;
  lines: string[];
  refused: RefusedLine[];
}

export class FileChunkEmitter {
  constructor(
    private readonly o: { source: string; lane: number; limit: InFlightLimit; next: (c: LineChunk) => void; book: PositionBook },
  ) {}

  async emit(origin: string, body: ChunkBody, position: Omit<Position, 'parserState'>, parser: LineParser, whole = false): Promise<void> {
    await this.o.limit.acquire();
    this.o.next({
      source: this.o.source,
      lane: this.o.lane,
      origin,
      lines: body.lines,
      firstLine: body.firstLine,
      parser,
      whole: whole || undefined,
      refused: body.refused.length > 0 ? body.refused : undefined,
      checkpoint: toCheckpoint(this.o.source, { ...position, parserState: null }),
      ack: () => this.o.limit.release(),
    });
    // The pipeline parses synchronously on emit: the parser's state now matches the position.
    this.o.book.record({ ...position, parserState: parser.saveState() });
  }
}
