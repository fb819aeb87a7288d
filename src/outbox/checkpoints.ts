/**
 * Where each source got to in each file: a position is written only inside the transaction
 * that commits the readings read up to it (Outbox.append calls save()), so after a crash a
 * source resumes exactly after what the outbox holds.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { FileCheckpoint } from './types.js';

/** A checkpoints row as a FileCheckpoint. */
const CHECKPOINT_COLUMNS =
  'source, file_key AS fileKey, path, offset, line, head_len AS headLen, head_hash AS headHash, parser_state AS parserState';

export class Checkpoints {
  private readonly upsert: Statement;
  private readonly remove: Statement;
  private readonly selectOne: Statement;
  private readonly selectAll: Statement;

  constructor(db: Database) {
    this.upsert = db.prepare(
      `INSERT INTO checkpoints (source, file_key, path, offset, line, head_len, head_hash, parser_state, updated_at)
       VALUES (@source, @fileKey, @path, @offset, @line, @headLen, @headHash, @parserState, @updatedAt)
       ON CONFLICT (source, file_key) DO UPDATE SET path = excluded.path, offset = excluded.offset,
         line = excluded.line, head_len = excluded.head_len, head_hash = excluded.head_hash,
         parser_state = excluded.parser_state, updated_at = excluded.updated_at`,
    );
    this.remove = db.prepare('DELETE FROM checkpoints WHERE source = ? AND file_key = ?');
    this.selectOne = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE source = ? AND file_key = ?`);
    this.selectAll = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE source = ?`);
  }

  /** Inside the appending transaction only. */
  save(checkpoint: FileCheckpoint, now: number): void {
    this.upsert.run({ ...checkpoint, updatedAt: now });
  }

  of(source: string): FileCheckpoint[] {
    return this.selectAll.all(source) as FileCheckpoint[];
  }

  /** The committed position of one file of `source`, if any. */
  one(source: string, fileKey: string): FileCheckpoint | undefined {
    return this.selectOne.get(source, fileKey) as FileCheckpoint | undefined;
  }

  /** A file its source is done with for good (a spool file deleted or moved away): its position goes. */
  forget(source: string, fileKey: string): void {
    this.remove.run(source, fileKey);
  }
}
