// A delivery whose acknowledgement (deleting the delivered rows) meets a full disk: a real
// outbox on a small tmpfs filled to the last byte, the real shipper and hub client, the hub
// emulator on 127.0.0.1. The failed delete must be a retry (a storage fault, counted), never
// an error out of the shipper; once space returns the rows go, and the only repeats at the hub
// are the batches whose rows could not be deleted.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MachineToken } from '../../src/auth/token.js';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { HubClient } from '../../src/hub/client.js';
import { SensorDirectory } from '../../src/hub/sensors.js';
import { Shipper } from '../../src/hub/shipper.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { StorageFaults } from '../../src/outbox/storage-fault.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import { readings } from '../helpers/delivery-rig.js';
import { tempDir } from '../helpers/tmp.js';
import { canMountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const MOUNT = canMountTmpfs();
if (!MOUNT) console.warn('ack-on-full-disk: skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)');

const cleanup: Array<() => Promise<void> | void> = [];
// Every step runs (the unmount last) even when one before it fails; the first failure is reported.
afterEach(async () => {
  const failures: unknown[] = [];
  for (const step of cleanup.splice(0).reverse()) {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw failures[0];
});

function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [64 * 1024, 512]) {
      const block = Buffer.alloc(size, 1);
      try {
        for (let i = 0; i < 100_000; i++) writeSync(fd, block);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe('acknowledgement on a full disk', () => {
  it.skipIf(!MOUNT)('is a storage fault and a retry; the rows go once space returns; repeats only from failed acks', async () => {
    const mnt = tempDir('senseye-ack-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    cleanup.push(() => void execFileSync('umount', ['-l', mnt]));
    const stateDir = path.join(mnt, 'state');
    mkdirSync(stateDir);
    const hub: HubEmulator = await createHubEmulator();
    cleanup.push(() => hub.close());
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const outbox = Outbox.inStateDir(stateDir);
    cleanup.push(() => {
      if (outbox.isOpen) sqlOf(outbox).close();
    });
    const faults = new StorageFaults(logger, stateDir);
    outbox.storageFaults = faults;
    const token = new MachineToken(hub.token, 'test');
    const client = new HubClient({ url: hub.url, token: () => token, timeoutMs: 5000, paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' } });
    cleanup.push(() => client.close());
    // The sensor is created on the full disk: its hub id cannot be remembered, which is survivable.
    const sensors = new SensorDirectory({ addressing: 'sensor_id', overrides: {}, outbox, client, logger });
    const shipper = new Shipper({
      outbox,
      client,
      sensors,
      token: () => token,
      lane: LIVE_LANE,
      logger,
      maxPoints: 500,
      maxBytes: 768 * 1024,
      maxSpectra: 50,
      maxWaitMs: 20,
      concurrency: 1,
      retry: { initialDelayMs: 50, maxDelayMs: 500 },
      idlePollMs: 50,
    });
    cleanup.push(() => shipper.stop(1000));

    const list = readings(2000, ['a']);
    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: list, deadLetters: [] }]);
    // An empty WAL, then not one byte free: deleting rows needs new WAL frames, which cannot be written.
    sqlOf(outbox).pragma('wal_checkpoint(TRUNCATE)');
    const filler = path.join(mnt, 'filler');
    fillDisk(filler);

    shipper.start();
    await waitFor(() => faults.writeFailures.ack >= 2, 'acknowledgements failing on the full disk');
    expect(hub.store.dataPoints.length).toBeGreaterThan(0); // the hub has them ...
    expect(outbox.counts().depth).toBe(list.length); // ... and the outbox still holds them
    expect(faults.list().map((f) => f.kind)).toEqual(['disk_full']);
    expect(logs.some((l) => l.event === 'outbox_ack_failed')).toBe(true);
    expect(logs.some((l) => l.event === 'shipper_crashed')).toBe(false);

    rmSync(filler); // space returns
    await waitFor(() => outbox.counts().depth === 0, 'every row acknowledged once space returned');
    const ackFailures = faults.writeFailures.ack;
    const keys = hub.store.dataPoints.map((p) => p.timestamp);
    expect(new Set(keys).size).toBe(list.length); // nothing lost
    // A repeat is a whole batch whose delete failed, sent again.
    expect(keys.length - list.length).toBeLessThanOrEqual(ackFailures * 500);
    expect(hub.store.counters.duplicateMutationIds).toBeLessThanOrEqual(ackFailures);
    expect(logs.some((l) => l.event === 'shipper_crashed')).toBe(false);
    console.log(`ack on a full disk: ${ackFailures} failed acks, ${keys.length - list.length} repeated readings at the hub`);
  }, 20_000);
});
