// Commits that may skip their fsync (acknowledgements, informational state) run with
// synchronous=NORMAL and put FULL back afterwards, even when the work throws; outbox.cache_size
// sets the write connection's page cache.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, withoutFsync } from '../../src/outbox/db.js';
import { tempDir } from '../helpers/tmp.js';

const syncOf = (db: ReturnType<typeof openDatabase>) => db.pragma('synchronous', { simple: true });

describe('withoutFsync', () => {
  it('relaxes a FULL connection for the work only, and restores it after an error', () => {
    const db = openDatabase(path.join(tempDir(), 'outbox.db'));
    expect(syncOf(db)).toBe(2);
    expect(withoutFsync(db, () => syncOf(db))).toBe(1);
    expect(syncOf(db)).toBe(2);
    expect(() =>
      withoutFsync(db, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(syncOf(db)).toBe(2);
    db.close();
  });

  it('leaves a NORMAL connection and an open transaction alone', () => {
    const normal = openDatabase(path.join(tempDir(), 'outbox.db'), { synchronous: 'normal' });
    expect(withoutFsync(normal, () => syncOf(normal))).toBe(1);
    normal.close();
    const db = openDatabase(path.join(tempDir(), 'outbox.db'));
    db.transaction(() => expect(withoutFsync(db, () => syncOf(db))).toBe(2))();
    db.close();
  });
});

describe('outbox.cache_size', () => {
  it('sets the page cache of the write connection (KiB), 8,000 KiB unless told', () => {
    const db = openDatabase(path.join(tempDir(), 'outbox.db'));
    expect(db.pragma('cache_size', { simple: true })).toBe(-8000);
    db.close();
    const small = openDatabase(path.join(tempDir(), 'outbox.db'), { cacheBytes: 2 * 1024 * 1024 });
    expect(small.pragma('cache_size', { simple: true })).toBe(-2048);
    small.close();
  });
});
