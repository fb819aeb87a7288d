import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/outbox/migrations.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE, type IngestBatch } from '../../src/outbox/types.js';
import { versionThreeOutbox } from '../helpers/old-outbox.js';
import { tempDir } from '../helpers/tmp.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const T0 = Date.UTC(2026, 10, 27, 10);

function batch(source: string, n: number, extra: Partial<IngestBatch> = {}): IngestBatch {
  return {
    source,
    lane: LIVE_LANE,
    readings: Array.from({ length: n }, (_, i) => ({ sensor: `s${i % 2}`, measure: 'm', ts: T0 + i, value: i })),
    deadLetters: [],
    ...extra,
  };
}

describe('Outbox', () => {
  it('sets WAL and synchronous=FULL and reads them back', () => {
    const box = Outbox.inStateDir(tempDir());
    expect(sqlOf(box).pragma('journal_mode', { simple: true })).toBe('wal');
    expect(sqlOf(box).pragma('synchronous', { simple: true })).toBe(2);
    expect(sqlOf(box).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    box.close();
  });

  it('keeps values with their type, and claims in commit order', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([
      {
        source: 'a',
        lane: LIVE_LANE,
        deadLetters: [],
        readings: [
          { sensor: 'p', measure: 'f', ts: T0, value: 42 },
          { sensor: 'p', measure: 'txt', ts: T0, value: '42' },
          { sensor: 'p', measure: 'b', ts: T0, value: true },
          { sensor: 'q', measure: 'b', ts: T0 + 1, value: false },
        ],
      },
    ]);
    const claimed = box.readWaiting(LIVE_LANE, 10);
    expect(claimed.map((r) => [r.sensor, r.measure, r.kind, r.value])).toEqual([
      ['p', 'f', 'float', 42],
      ['p', 'txt', 'string', '42'],
      ['p', 'b', 'boolean', true],
      ['q', 'b', 'boolean', false],
    ]);
    expect(claimed.map((r) => r.id)).toEqual([...claimed.map((r) => r.id)].sort((a, b) => a - b));
    box.close();
  });

  it('claims column by column exactly what the rows hold: awkward values, far timestamps, exclusions and floors', () => {
    const box = Outbox.inStateDir(tempDir());
    const values = [0.1, -0, 1e300, 5e-324, 2 ** 53 - 1, -123.456, 'a,"b"\n[1]', '', '{"x":1}', true, false, 'ünïcødé ✓'];
    const readings = values.map((value, i) => ({ sensor: `s${i % 3}`, measure: typeof value === 'boolean' ? 'b' : typeof value === 'string' ? 't' : 'f', ts: i % 2 === 0 ? -62_135_596_800_000 + i : 253_402_300_799_000 - i, value }));
    box.append([{ source: 'a', lane: LIVE_LANE, deadLetters: [], readings }]);
    // The row-by-row form, as a reference.
    const rows = sqlOf(box).prepare('SELECT id, stream, ts, value FROM readings ORDER BY id').raw().all() as Array<[number, number, number, number | string]>;
    const claimed = box.readWaiting(LIVE_LANE, 100);
    expect(claimed.map((r) => [r.id, r.ts])).toEqual(rows.map(([id, , ts]) => [id, ts]));
    const byId = new Map(claimed.map((r) => [r.id, r]));
    for (const r of readings) {
      const got = [...byId.values()].find((c) => c.sensor === r.sensor && c.ts === r.ts)!;
      expect(Object.is(got.value, r.value) || (r.value === 0 && got.value === 0)).toBe(true);
    }
    // Excluded streams and floors leave rows out in SQL; the rest keep their order.
    const s0 = box.streams.streamsOf('s0');
    expect(box.readWaiting(LIVE_LANE, 100, s0).every((r) => r.sensor !== 's0')).toBe(true);
    const s1Last = claimed.filter((r) => r.sensor === 's1').at(-1)!.id;
    const floored = box.readWaiting(LIVE_LANE, 100, [], 0, [{ streams: box.streams.streamsOf('s1'), floor: s1Last }]);
    expect(floored.map((r) => r.id)).toEqual(claimed.filter((r) => r.sensor !== 's1').map((r) => r.id));
    expect(box.readWaiting(LIVE_LANE, 3, [], claimed[2]!.id).map((r) => r.id)).toEqual(claimed.slice(3, 6).map((r) => r.id));
    expect(box.readWaitingOfSensor(LIVE_LANE, 's2', 0, 100).map((r) => r.value)).toEqual(claimed.filter((r) => r.sensor === 's2').map((r) => r.value));
    expect(box.readWaiting(LIVE_LANE, 100, [], claimed.at(-1)!.id)).toEqual([]);
    box.close();
  });

  it('acks remove rows and count them; ids never go back after the outbox empties', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch('a', 5)]);
    const first = box.readWaiting(LIVE_LANE, 100);
    box.ack(first.map((r) => r.id));
    expect(box.readWaiting(LIVE_LANE, 100)).toEqual([]);
    box.append([batch('a', 1)]);
    const next = box.readWaiting(LIVE_LANE, 100);
    expect(next[0]!.id).toBeGreaterThan(first.at(-1)!.id);
    expect(box.counts()).toMatchObject({ appended: 6, delivered: 5, rejected: 0, dropped: 0, invalid: 0, depth: 1 });
    box.close();
  });

  it('rejects move readings to dead letters with the reason', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch('a', 3)]);
    const rows = box.readWaiting(LIVE_LANE, 10);
    box.reject([rows.find((r) => r.sensor === 's1')!], LIVE_LANE, 'hub refused: bad'); // one commit is stored sensor by sensor
    const dl = sqlOf(box).prepare('SELECT stage, reason, sensor, measure, ts, value FROM dead_letters').all();
    expect(dl).toEqual([{ stage: 'hub', reason: 'hub refused: bad', sensor: 's1', measure: 'm', ts: T0 + 1, value: 1 }]);
    expect(box.counts()).toMatchObject({ appended: 3, rejected: 1, depth: 2 });
    box.close();
  });

  it('expires readings older than a cutoff as their own kind of dead letter, not as refused by the hub; replay sends them again', async () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch('a', 4)]);
    expect(box.expire(LIVE_LANE, T0 + 2, 'not delivered within hub.retry.max_age (1000 ms)')).toBe(2);
    const dl = sqlOf(box).prepare('SELECT stage, reason, ts FROM dead_letters ORDER BY ts').all();
    expect(dl).toEqual([
      { stage: 'expired', reason: 'not delivered within hub.retry.max_age (1000 ms)', ts: T0 },
      { stage: 'expired', reason: 'not delivered within hub.retry.max_age (1000 ms)', ts: T0 + 1 },
    ]);
    expect(box.counts()).toMatchObject({ appended: 4, rejected: 0, expired: 2, depth: 2 });
    expect(box.deadLetters.count({ stage: 'hub' })).toBe(0);
    const { replayDeadLetters } = await import('../../src/outbox/replay.js');
    const result = replayDeadLetters(box, box.deadLetters.list({ stage: 'expired' }), () => ({ readings: [], deadLetters: [] }) as never);
    expect(result).toMatchObject({ replayed: 2, readings: 2 });
    expect(box.counts()).toMatchObject({ appended: 6, expired: 2, depth: 4 });
    box.close();
  });

  it('upgrades a version-4 outbox to 5 keeping its dead letters (ids and all) and its in-flight batches', async () => {
    const file = path.join(tempDir(), 'outbox.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    const { migrate } = await import('../../src/outbox/migrations.js');
    migrate(old, { to: 4 });
    old.exec(`INSERT INTO dead_letters (id, at, stage, source, reason, raw, value_kind) VALUES (7, 1, 'hub', 'hub', 'refused', 'x', 'float');
              INSERT INTO inflight (batch_id, lane, kind, sensor, first_id, last_id, created_at) VALUES ('b1', 0, 'readings', 'p', 1, 5, 1);`);
    old.close();
    const box = new Outbox(file);
    expect(sqlOf(box).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(box.deadLetters.list()).toEqual([expect.objectContaining({ id: 7, stage: 'hub', reason: 'refused', raw: 'x', value_kind: 'float' })]);
    expect(box.ledger.list(0)).toEqual([expect.objectContaining({ batchId: 'b1', attempts: 0, lastFailedAt: null, evidence: 0 })]);
    box.deadLetters.add({ stage: 'expired', source: 'hub', reason: 'too old' }, 2); // the new stage is allowed
    expect(box.deadLetters.count({ stage: 'expired' })).toBe(1);
    box.close();
  });

  it("leaves waiting sensors' spectra out of a claim in the query, so they cannot fill it", () => {
    const box = Outbox.inStateDir(tempDir());
    const spectrum = { amplitudeUnit: 'mm/s' as const, measurementType: 'velocity' as const, spacing: 1, end: 1, number: 2, speed: 10, data: [0.1, 0.2] };
    box.append([
      {
        source: 'a',
        lane: LIVE_LANE,
        readings: [],
        deadLetters: [],
        spectra: [
          ...Array.from({ length: 5 }, (_, i) => ({ ...spectrum, sensor: 'waiting', ts: T0 + i })),
          { ...spectrum, sensor: 'other', ts: T0 + 10 },
        ],
      },
    ]);
    expect(box.readWaitingSpectra(LIVE_LANE, 5, new Set(['waiting'])).map((s) => s.sensor)).toEqual(['other']);
    expect(box.readWaitingSpectra(LIVE_LANE, 5).map((s) => s.sensor)).toEqual(['waiting', 'waiting', 'waiting', 'waiting', 'waiting']);
    box.close();
  });

  it('commits readings, dead letters and the file position in one transaction', () => {
    const dir = tempDir();
    const box = Outbox.inStateDir(dir);
    const checkpoint = { source: 'a', fileKey: '1:2', path: '/x', offset: 100, line: 7, headLen: 10, headHash: 'h', parserState: '["m"]' };
    box.append([
      batch('a', 2, {
        deadLetters: [{ stage: 'parse', source: 'a', origin: '/x', line: 3, raw: 'x'.repeat(10_000), reason: 'bad' }],
        checkpoint,
      }),
    ]);
    expect(box.checkpoints('a')).toEqual([checkpoint]);
    const raw = sqlOf(box).prepare('SELECT raw FROM dead_letters').pluck().get() as string;
    expect(raw.length).toBe(4096);
    expect(box.counts()).toMatchObject({ appended: 2, invalid: 1 });

    // A failing transaction leaves nothing behind: not the readings, not the position.
    sqlOf(box).exec("CREATE TRIGGER boom BEFORE INSERT ON checkpoints WHEN NEW.path = '/fail' BEGIN SELECT RAISE(ABORT, 'boom'); END");
    expect(() => box.append([batch('a', 3, { checkpoint: { ...checkpoint, fileKey: '9:9', path: '/fail' } })])).toThrow(/boom/);
    expect(box.counts()).toMatchObject({ appended: 2 });
    expect(box.readWaiting(LIVE_LANE, 100)).toHaveLength(2);
    box.close();

    const reopened = new Outbox(path.join(dir, 'outbox.db'));
    expect(reopened.checkpoints('a')).toEqual([checkpoint]);
    // One file's position, looked up and forgotten (a spool file once disposed), by source and key.
    expect(reopened.checkpoint('a', '1:2')).toEqual(checkpoint);
    expect(reopened.checkpoint('b', '1:2')).toBeUndefined();
    reopened.forgetCheckpoint('b', '1:2');
    expect(reopened.checkpoints('a')).toEqual([checkpoint]);
    reopened.forgetCheckpoint('a', '1:2');
    expect(reopened.checkpoint('a', '1:2')).toBeUndefined();
    expect(reopened.checkpoints('a')).toEqual([]);
    reopened.close();
  });

  it('remembers hub sensor ids', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch('a', 1)]);
    expect(box.hubSensorId('s0')).toBeNull();
    box.rememberHubSensorId('s0', '00000000-0000-4000-8000-000000000001', 'timeseries');
    expect(box.hubSensorId('s0')).toBe('00000000-0000-4000-8000-000000000001');
    expect(box.readWaiting(LIVE_LANE, 10)[0]!.sensor).toBe('s0');
    box.close();
  });

  it('upgrades a version-3 outbox: readings keep their lane, id and value, and new ids continue after the highest ever given', () => {
    const dir = tempDir();
    const file = path.join(dir, 'outbox.db');
    const old = versionThreeOutbox(file);
    const insert = old.prepare('INSERT INTO readings (lane, stream, ts, value) VALUES (?, 1, ?, ?)');
    for (let i = 1; i <= 10; i++) insert.run(i % 3 === 0 ? 2 : LIVE_LANE, T0 + i, i / 2);
    old.exec('DELETE FROM readings WHERE id > 7'); // AUTOINCREMENT has given 10: ids 8-10 must not come back
    old.close();

    const box = new Outbox(file);
    expect(sqlOf(box).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const schema = sqlOf(box).prepare("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'readings'").all() as Array<{ name: string; sql: string }>;
    expect(schema.map((t) => t.name)).toEqual(['readings']); // the (lane, id) index went with the rowid table
    expect(schema[0]!.sql).toMatch(/PRIMARY KEY \(lane, id\)\s*\) STRICT, WITHOUT ROWID/);
    const live = box.readWaiting(LIVE_LANE, 100);
    expect(live.map((r) => [r.id, r.ts, r.value])).toEqual([1, 2, 4, 5, 7].map((i) => [i, T0 + i, i / 2]));
    expect(box.readWaiting(2, 100).map((r) => r.id)).toEqual([3, 6]);
    box.append([batch('a', 2)]);
    box.append([batch('b', 1, { lane: 2 })]);
    expect(box.readWaiting(LIVE_LANE, 100).slice(5).map((r) => r.id)).toEqual([11, 12]);
    expect(box.readWaiting(2, 100).map((r) => r.id)).toEqual([3, 6, 13]);
    box.close();
  });

  it('gives two connections appending in turn (daemon and backfill) ids that never collide', () => {
    const dir = tempDir();
    const daemon = Outbox.inStateDir(dir);
    const backfill = Outbox.inStateDir(dir);
    for (let k = 0; k < 6; k++) (k % 2 === 0 ? daemon : backfill).append([batch('x', 3, { lane: k % 2 === 0 ? LIVE_LANE : 4 })]);
    const ids = [...daemon.readWaiting(LIVE_LANE, 100), ...daemon.readWaiting(4, 100)].map((r) => r.id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    daemon.close();
    backfill.close();
  });

  it('drop_oldest takes the oldest readings of all lanes together, by the order they were appended', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch('a', 4)]); // ids 1-4, live
    box.append([batch('b', 4, { lane: 3 })]); // 5-8, lane 3
    box.append([batch('c', 4)]); // 9-12, live
    expect(box.dropOldest(6)).toBe(6);
    expect(box.readWaiting(LIVE_LANE, 100).map((r) => r.id)).toEqual([9, 10, 11, 12]);
    expect(box.readWaiting(3, 100).map((r) => r.id)).toEqual([7, 8]);
    expect(box.counts()).toMatchObject({ dropped: 6, depth: 6 });
    expect(box.laneCounts(3)).toMatchObject({ waiting: 2 });
    box.close();
  });

  it('refuses to open an outbox of an older schema read-only, and says how to upgrade it', () => {
    const file = path.join(tempDir(), 'outbox.db');
    const old = versionThreeOutbox(file);
    old.close();
    expect(() => new Outbox(file, { readonly: true })).toThrow(/schema version 3, older than this agent's .*start the agent \(senseye-agent run\) once/);
    new Outbox(file).close(); // a writer upgrades it
    expect(() => new Outbox(file, { readonly: true }).close()).not.toThrow();
  });

  it('does not upgrade under an agent that seems to run on the outbox, unless it is the daemon (which owns it)', () => {
    const file = path.join(tempDir(), 'outbox.db');
    const old = versionThreeOutbox(file);
    const put = old.prepare('INSERT INTO state (key, value, updated_at) VALUES (?, ?, 0)');
    put.run('clean_shutdown', 'false');
    put.run('delivery.0', JSON.stringify({ state: 'idle', pid: process.ppid })); // a live process that is not this one
    old.close();
    expect(() => new Outbox(file)).toThrow(/seems to run on it: restart that agent on this version first/);
    const stillOld = new Database(file, { readonly: true });
    expect(stillOld.pragma('user_version', { simple: true })).toBe(3);
    stillOld.close();
    const daemon = new Outbox(file, { upgradeInUse: true });
    expect(sqlOf(daemon).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    daemon.close();
  });

  it('upgrades when the agent recorded there is gone or stopped cleanly', () => {
    for (const [clean, pid] of [['false', 2 ** 22 + 12345], ['true', process.ppid]] as const) {
      const file = path.join(tempDir(), 'outbox.db');
      const old = versionThreeOutbox(file);
      const put = old.prepare('INSERT INTO state (key, value, updated_at) VALUES (?, ?, 0)');
      put.run('clean_shutdown', clean);
      put.run('delivery.0', JSON.stringify({ state: 'idle', pid })); // above the kernel's pid_max: no such process
      old.close();
      const box = new Outbox(file);
      expect(sqlOf(box).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      box.close();
    }
  });

  it('refuses a database from a newer agent', () => {
    const dir = tempDir();
    const box = Outbox.inStateDir(dir);
    sqlOf(box).pragma('user_version = 99');
    box.close();
    expect(() => Outbox.inStateDir(dir)).toThrow(/newer than this agent understands/);
  });
});
