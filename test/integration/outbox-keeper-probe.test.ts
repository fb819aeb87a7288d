// The storage check's probe (a small write) can succeed while the readings the writer holds still
// do not fit. Then the disk-full fault must stay reported (/readyz, storage_fault{reason}) and
// the writer be asked to try its held group; only with no group held does the probe end it.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxKeeper } from '../../src/daemon/outbox-keeper.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let keeper: OutboxKeeper | null = null;
afterEach(() => {
  keeper?.stopWatching();
  keeper?.close();
  keeper = null;
});

function keeperWith(commitFailing: boolean): { keeper: OutboxKeeper; retries: () => number } {
  const stateDir = tempDir('senseye-keeper-');
  const outbox = Outbox.inStateDir(stateDir);
  let retries = 0;
  keeper = new OutboxKeeper({
    outbox,
    stateDir,
    logger: pino({ level: 'silent' }),
    keepsCheckpointRoom: () => false,
    writerBlocked: () => (commitFailing ? 'outbox writes fail: SQLITE_FULL' : null),
    commitFailing: () => commitFailing,
    retryHeldCommit: () => retries++,
    onLost: () => undefined,
  });
  keeper.faults.report('disk_full', 'commit failed: SQLITE_FULL: database or disk is full');
  keeper.start(10);
  return { keeper, retries: () => retries };
}

describe('outbox keeper, storage probe', () => {
  it('keeps a disk-full fault while the writer holds readings, and asks it to try them', async () => {
    const { keeper, retries } = keeperWith(true);
    await waitFor(() => retries() >= 3, 'the held group tried after three successful probes');
    expect(keeper.faults.has('disk_full')).toBe(true);
  });

  it('ends the fault at the first successful probe when no readings wait', async () => {
    const { keeper, retries } = keeperWith(false);
    await waitFor(() => !keeper.faults.has('disk_full'), 'the fault cleared by the probe');
    expect(retries()).toBe(0);
  });
});
