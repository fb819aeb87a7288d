// The bulk paths of the outbox: multi-row INSERTs on append (full chunks of ROWS_PER_INSERT and
// a remainder of single rows) and range DELETEs on acknowledgement. Real SQLite files.
import { describe, expect, it } from 'vitest';
import type { Reading, ReadingValue } from '../../src/parse/reading.js';
import { Outbox, ROWS_PER_INSERT } from '../../src/outbox/outbox.js';
import { LIVE_LANE, type WaitingReading, type IngestBatch } from '../../src/outbox/types.js';
import { tempDir } from '../helpers/tmp.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const T0 = Date.UTC(2026, 10, 27, 10);
const N = ROWS_PER_INSERT;
const VALUES: ReadingValue[] = [1.5, -3, 0, 1e300, Number.MAX_SAFE_INTEGER, -2.5e-10, '42', '', 'ünï "quoted", comma', true, false];
const KIND = { number: 'float', string: 'string', boolean: 'boolean' } as const;

/** Readings from..from+n-1: three sensors interleaved, every value kind (one measure per kind). */
function mixed(n: number, from = 0, sensors = ['a', 'b', 'c']): Reading[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const value = VALUES[i % VALUES.length]!;
    return { sensor: sensors[i % sensors.length]!, measure: `m-${typeof value}`, ts: T0 + i, value };
  });
}

function batch(readings: Reading[], lane = LIVE_LANE, source = 'src'): IngestBatch {
  return { source, lane, readings, deadLetters: [] };
}

/** What a claim should give back for these readings, without the id. */
function expected(readings: Reading[]) {
  return readings.map((r) => ({ sensor: r.sensor, measure: r.measure, kind: KIND[typeof r.value as keyof typeof KIND], ts: r.ts, value: r.value }));
}

function withoutId(rows: WaitingReading[]) {
  return rows.map(({ id: _id, ...rest }) => rest);
}

function perSensor<T extends { sensor: string }>(rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) out.set(r.sensor, [...(out.get(r.sensor) ?? []), r]);
  return out;
}

function rowIds(box: Outbox): number[] {
  return sqlOf(box).prepare('SELECT id FROM readings ORDER BY id').pluck().all() as number[];
}

/** appended = delivered + rejected + dropped + depth, and depth is what the table holds. */
function expectBalanced(box: Outbox): void {
  const c = box.counts();
  expect(c.appended - c.delivered - c.rejected - c.dropped).toBe(c.depth);
  expect(rowIds(box)).toHaveLength(c.depth);
}

describe('Outbox append in multi-row statements', () => {
  for (const n of [0, 1, N - 1, N, N + 1, 3 * N + 7]) {
    it(`${n} readings in one call: every value back, ids ascending per sensor and after the previous commit`, () => {
      const box = Outbox.inStateDir(tempDir());
      const before = mixed(7, 1000);
      box.append([batch(before)]);
      const input = mixed(n);
      box.append([batch(input)]);

      const rows = box.readWaiting(LIVE_LANE, 10_000);
      expect(rows).toHaveLength(7 + n);
      const first = rows.slice(0, 7);
      const second = rows.slice(7);
      // The earlier commit's rows all come first (lower ids), each sensor's in input order.
      expect(withoutId(first)).toEqual(expect.arrayContaining(expected(before)));
      const got = perSensor(withoutId(second));
      const want = perSensor(expected(input));
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [sensor, list] of want) expect(got.get(sensor)).toEqual(list);
      expect(box.counts()).toMatchObject({ appended: 7 + n, depth: 7 + n });
      box.close();
    });
  }

  it('several batches, lanes and sources in one call: each lane gets its rows, each sensor in order', () => {
    const box = Outbox.inStateDir(tempDir());
    const live1 = mixed(2 * N + 3, 0);
    const backfill = mixed(N + 1, 5000);
    const live2 = mixed(N - 1, 10_000);
    box.append([batch(live1, LIVE_LANE, 'x'), batch(backfill, 2, 'y'), batch(live2, LIVE_LANE, 'z')]);

    const live = box.readWaiting(LIVE_LANE, 10_000);
    const lane2 = box.readWaiting(2, 10_000);
    for (const [sensor, list] of perSensor(expected([...live1, ...live2]))) expect(perSensor(withoutId(live)).get(sensor)).toEqual(list);
    for (const [sensor, list] of perSensor(expected(backfill))) expect(perSensor(withoutId(lane2)).get(sensor)).toEqual(list);
    expect(box.counters().get('received.x')).toBe(live1.length);
    expect(box.counters().get('lane.2.appended')).toBe(backfill.length);
    expect(box.counts()).toMatchObject({ appended: live1.length + backfill.length + live2.length });
    box.close();
  });

  it('a transaction that fails after its multi-row INSERTs leaves no row, counter or position behind', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch(mixed(N + 2))]);
    // The counters are written last, after the rows: failing there must roll the rows back too.
    sqlOf(box).exec("CREATE TRIGGER boom BEFORE INSERT ON counters WHEN NEW.name = 'received.fail' BEGIN SELECT RAISE(ABORT, 'boom'); END");
    const checkpoint = { source: 'fail', fileKey: '1:2', path: '/f', offset: 10, line: 1, headLen: 0, headHash: '', parserState: null };
    expect(() => box.append([{ ...batch(mixed(3 * N + 7, 100, ['a', 'new-sensor'])), source: 'fail', checkpoint }])).toThrow(/boom/);
    expect(rowIds(box)).toHaveLength(N + 2);
    expect(box.checkpoints('fail')).toEqual([]);
    expect(box.counts()).toMatchObject({ appended: N + 2, depth: N + 2 });
    // The outbox goes on: a new sensor after the rollback gets a stream again, ids keep growing.
    box.append([batch(mixed(N, 200, ['new-sensor']))]);
    const rows = box.readWaiting(LIVE_LANE, 10_000);
    expect(rows.filter((r) => r.sensor === 'new-sensor')).toHaveLength(N);
    expect(rows.at(-1)!.id).toBeGreaterThan(N + 2);
    expectBalanced(box);
    box.close();
  });
});

describe('Outbox ack in id runs', () => {
  it('stores one commit sensor by sensor: the rows of each sensor get consecutive ids, so its batch is one run', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch(mixed(3 * N + 7)), batch(mixed(N, 700), LIVE_LANE, 'other')]);
    const rows = box.readWaiting(LIVE_LANE, 10_000);
    const bySensor = perSensor(rows);
    expect([...bySensor.keys()]).toEqual(['a', 'b', 'c']); // in order of first appearance
    for (const list of bySensor.values()) expect(list.at(-1)!.id - list[0]!.id).toBe(list.length - 1);
    box.ack(bySensor.get('b')!.map((r) => r.id));
    expect(box.readWaiting(LIVE_LANE, 10_000)).toEqual([...bySensor.get('a')!, ...bySensor.get('c')!]);
    expectBalanced(box);
    box.close();
  });

  it('deletes exactly the acknowledged rows: never other sensors, other lanes or unacknowledged rows in the range', () => {
    const box = Outbox.inStateDir(tempDir());
    // One commit with sensors a, b, c interleaved in the live lane and a, b in lane 3, then a
    // commit of sensor a alone (consecutive ids).
    box.append([batch(mixed(3 * N + 7)), batch(mixed(2 * N, 500, ['a', 'b']), 3, 'bf'), batch(mixed(N + 1, 900))]);
    box.append([batch(mixed(2 * N, 2000, ['a']))]);
    const a = box.readWaiting(LIVE_LANE, 10_000).filter((r) => r.sensor === 'a');
    // Left unacknowledged inside the range: single rows and a block, in both commits.
    const skip = new Set([2, 10, 11, 12, 13, 14, a.length - 30, a.length - 29, a.length - 17, a.length - 1].map((i) => a[i]!.id));
    const acked = a.map((r) => r.id).filter((id) => !skip.has(id));
    const before = rowIds(box);
    box.ack(acked);
    const ackedSet = new Set(acked);
    expect(rowIds(box)).toEqual(before.filter((id) => !ackedSet.has(id)));
    expect(box.counts()).toMatchObject({ delivered: acked.length });
    expect(box.laneCounts(3)).toMatchObject({ delivered: 0, waiting: 2 * N });
    expectBalanced(box);
    // What is left of a is exactly the skipped rows, unchanged.
    expect(box.readWaiting(LIVE_LANE, 10_000).filter((r) => r.sensor === 'a')).toEqual(a.filter((r) => skip.has(r.id)));
    box.close();
  });

  it('counts only rows still there: ids already gone, repeated, or out of order', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch(mixed(2 * N, 0, ['a']))]);
    const rows = box.readWaiting(LIVE_LANE, 10_000);
    const ids = rows.map((r) => r.id);
    box.reject(rows.slice(5, 10), LIVE_LANE, 'hub refused: test'); // gone before the ack
    box.ack([...ids.slice(0, 20), ...ids.slice(0, 3), ...ids.slice(20, 40).reverse()]);
    expect(box.counts()).toMatchObject({ delivered: 35, rejected: 5, depth: 2 * N - 40 });
    expect(rowIds(box)).toEqual(ids.slice(40));
    expectBalanced(box);
    box.close();
  });

  it('a backfill lane batch: lane counters and the ledger record go with the rows', () => {
    const box = Outbox.inStateDir(tempDir());
    box.append([batch(mixed(3 * N, 0, ['a', 'b']), 3, 'bf')]);
    const a = box.readWaiting(3, 10_000).filter((r) => r.sensor === 'a');
    const record = { batchId: 'batch-a', lane: 3, kind: 'readings' as const, sensor: 'a', firstId: a[0]!.id, lastId: a.at(-1)!.id };
    box.ledger.record([record]);
    box.ack(
      a.map((r) => r.id),
      record.batchId,
      3,
    );
    expect(box.ledger.list(3)).toEqual([]);
    expect(box.laneCounts(3)).toEqual({ appended: 3 * N, delivered: a.length, rejected: 0, waiting: 3 * N - a.length });
    expect(box.readWaiting(3, 10_000).every((r) => r.sensor === 'b')).toBe(true);
    expectBalanced(box);
    box.close();
  });

  it('spectra: acknowledges one sensor in runs and leaves the other', () => {
    const box = Outbox.inStateDir(tempDir());
    const spectrum = (sensor: string, i: number) => ({
      sensor,
      ts: T0 + i,
      amplitudeUnit: 'mm/s' as const,
      measurementType: 'velocity' as const,
      spacing: 1,
      end: 2,
      number: 3,
      speed: 25,
      data: [i, i + 1, i + 2],
    });
    box.append([{ ...batch([]), spectra: [...Array.from({ length: 5 }, (_, i) => spectrum('f1', i)), spectrum('f2', 5), spectrum('f1', 6)] }]);
    const f1 = box.readWaitingSpectra(LIVE_LANE, 100).filter((s) => s.sensor === 'f1');
    box.ackSpectra(f1.slice(1).map((s) => s.id));
    expect(box.readWaitingSpectra(LIVE_LANE, 100).map((s) => [s.sensor, s.ts])).toEqual([
      ['f1', T0],
      ['f2', T0 + 5],
    ]);
    expect(box.counts().spectra).toEqual({ appended: 7, delivered: 5, rejected: 0, depth: 2 });
    box.close();
  });
});
