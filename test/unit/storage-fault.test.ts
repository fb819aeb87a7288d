// The pieces storage faults are made of, on real files: which errors are which fault, that a
// fault is logged once and cleared once, what identityLoss says about a deleted or replaced
// sqlOf(outbox), that the capacity guard answers a missing state_dir with a fault (not an
// exception), and that a commit that fails holds the writer with the reason.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CapacityGuard } from '../../src/outbox/capacity.js';
import { identityLoss, identityOf, OutboxFileWatch } from '../../src/outbox/file-identity.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { describeStartupStorageError, storageFaultOf, StorageFaults } from '../../src/outbox/storage-fault.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import { OutboxWriter } from '../../src/pipeline/writer.js';
import { captureLogger } from '../helpers/ops-fake-view.js';
import { tempDir } from '../helpers/tmp.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const err = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('storageFaultOf', () => {
  it('names disk full, I/O errors and a vanished directory; other errors are not storage faults', () => {
    expect(storageFaultOf(err('SQLITE_FULL'))).toBe('disk_full');
    expect(storageFaultOf(err('ENOSPC'))).toBe('disk_full');
    expect(storageFaultOf(err('SQLITE_IOERR_SHMSIZE'))).toBe('disk_full');
    expect(storageFaultOf(err('SQLITE_IOERR_WRITE'))).toBe('io_error');
    expect(storageFaultOf(err('EFBIG'))).toBe('io_error');
    expect(storageFaultOf(err('SQLITE_READONLY_DBMOVED'))).toBe('outbox_replaced');
    expect(storageFaultOf(err('ENOENT'))).toBe('state_dir_missing');
    expect(storageFaultOf(err('SQLITE_CONSTRAINT_PRIMARYKEY'))).toBeNull();
    expect(storageFaultOf(new TypeError('x'))).toBeNull();
    expect(storageFaultOf(null)).toBeNull();
  });

  it('at start, says what failed and what to do in one line', () => {
    const line = describeStartupStorageError(err('SQLITE_FULL', 'database or disk is full'), '/var/lib/senseye-agent');
    expect(line).toBe(
      'the filesystem of /var/lib/senseye-agent is full (SQLITE_FULL: database or disk is full): free space there ' +
        '(or raise outbox.min_free_disk so the outbox stops short of it); then start the agent again (exit 75: systemd restarts it)',
    );
    expect(line).not.toContain('\n');
  });
});

describe('StorageFaults', () => {
  it('logs a fault once while it lasts, counts every failed write, and clears write faults once', () => {
    const { logger, lines } = captureLogger();
    const faults = new StorageFaults(logger);
    let checks = 0;
    faults.onWriteFailed = () => void checks++;
    expect(faults.writeFailed(err('SQLITE_FULL', 'database or disk is full'), 'commit')).toBe('disk_full');
    expect(faults.writeFailed(err('SQLITE_FULL'), 'ack')).toBe('disk_full');
    expect(faults.writeFailed(err('SQLITE_CONSTRAINT'), 'state')).toBeNull();
    expect(faults.writeFailures).toEqual({ commit: 1, ack: 1, state: 1 });
    expect(checks).toBe(3);
    expect(lines.filter((l) => l.event === 'storage_fault')).toHaveLength(1);
    expect(faults.reason()).toBe('storage fault (disk_full): commit failed: SQLITE_FULL: database or disk is full');
    faults.report('state_dir_missing', 'gone');
    faults.writeSucceeded();
    faults.writeSucceeded();
    expect(lines.filter((l) => l.event === 'storage_fault_cleared').map((l) => l.kind)).toEqual(['disk_full']);
    // A vanished directory is not cured by a write: it stays until the agent stops.
    expect(faults.list().map((f) => f.kind)).toEqual(['state_dir_missing']);
  });
});

describe('identityLoss', () => {
  function opened() {
    const dir = path.join(tempDir(), 'state');
    mkdirSync(dir);
    const file = path.join(dir, 'outbox.db');
    writeFileSync(file, 'ours');
    return { dir, file, id: identityOf(file) };
  }

  it('is null while the path is the opened file', () => {
    const { file, id } = opened();
    writeFileSync(file, 'ours, rewritten in place'); // same inode
    expect(identityLoss(file, id)).toBeNull();
  });

  it('tells a deleted file, a replaced file and a deleted directory apart', () => {
    const a = opened();
    rmSync(a.file);
    expect(identityLoss(a.file, a.id)).toEqual({ kind: 'outbox_replaced', reason: `${a.file} was deleted while the agent had it open` });

    const b = opened();
    writeFileSync(`${b.file}.new`, 'theirs');
    renameSync(`${b.file}.new`, b.file);
    expect(identityLoss(b.file, b.id)?.reason).toBe(`${b.file} was replaced by another file while the agent had it open`);

    const c = opened();
    rmSync(c.dir, { recursive: true });
    expect(identityLoss(c.file, c.id)).toEqual({ kind: 'state_dir_missing', reason: `state_dir ${c.dir} was deleted while the agent had its outbox open` });
  });

  it('OutboxFileWatch reports the first loss once', () => {
    const { file, id } = opened();
    const seen: string[] = [];
    const watch = new OutboxFileWatch(file, id, (loss) => seen.push(loss.kind));
    expect(watch.check()).toBeNull();
    rmSync(file);
    watch.check();
    watch.check();
    expect(seen).toEqual(['outbox_replaced']);
    expect(watch.loss?.kind).toBe('outbox_replaced');
  });
});

describe('CapacityGuard and OutboxWriter under storage faults', () => {
  it('a missing state_dir is a fault from check(), not an exception', () => {
    const dir = path.join(tempDir(), 'state');
    const outbox = Outbox.inStateDir(dir);
    try {
      const guard = new CapacityGuard(sqlOf(outbox), dir, { maxBytes: 1024 ** 3, minFreeDiskBytes: 1 });
      expect(guard.check()).toEqual({ full: false });
      rmSync(dir, { recursive: true });
      const check = guard.check();
      expect(check).toMatchObject({ full: true, fault: 'state_dir_missing' });
    } finally {
      sqlOf(outbox).close();
    }
  });

  it('a commit that fails holds the writer with the reason, records the fault, and the first success clears both', async () => {
    const dir = tempDir();
    const outbox = Outbox.inStateDir(dir);
    const { logger, lines } = captureLogger();
    const faults = new StorageFaults(logger);
    outbox.storageFaults = faults;
    const writer = new OutboxWriter(outbox, logger);
    const realAppend = outbox.append.bind(outbox);
    let failing = true;
    // The seam: append fails as SQLite does on a disk with an I/O error, until the test lets it pass.
    outbox.append = (batches) => {
      if (failing) throw err('SQLITE_IOERR_WRITE', 'disk I/O error');
      realAppend(batches);
    };
    let acked = 0;
    const batch = { source: 's', lane: LIVE_LANE, readings: [{ sensor: 'a', measure: 'm', ts: 1, value: 1 }], deadLetters: [] };
    writer.write([{ batch, ack: () => void acked++ } as never]);
    expect(writer.blockedReason).toBe('outbox writes fail: SQLITE_IOERR_WRITE: disk I/O error');
    expect(acked).toBe(0);
    expect(faults.list().map((f) => f.kind)).toEqual(['io_error']);
    expect(lines.find((l) => l.event === 'outbox_write_failed')?.code).toBe('SQLITE_IOERR_WRITE');
    failing = false;
    await writer.flushed();
    expect(acked).toBe(1);
    expect(writer.blockedReason).toBeNull();
    expect(faults.list()).toEqual([]);
    expect(lines.some((l) => l.event === 'outbox_write_recovered')).toBe(true);
    outbox.close();
  });
});
