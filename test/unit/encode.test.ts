import { describe, expect, it } from 'vitest';
import { BODY_HEAD_ROOM, BodyBuffers } from '../../src/hub/body-buffers.js';
import { batchId, encodeMutation, encodePoints, planBatches, STORE_MUTATION } from '../../src/hub/encode.js';
import type { WaitingReading } from '../../src/outbox/types.js';

const T0 = Date.UTC(2026, 10, 27, 10);
const rows = (n: number): WaitingReading[] =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, sensor: 's', measure: 'm', kind: 'float' as const, ts: T0 + i, value: i + 0.5 }));

describe('encode', () => {
  it('builds a storeSensorMeasureData mutation with one value field per point', () => {
    const body = JSON.parse(
      String(encodeMutation({ sensorId: 'id-1' }, 'b1', planBatches(
        [
          { id: 1, sensor: 's', measure: 'f', kind: 'float', ts: T0, value: 1.5 },
          { id: 2, sensor: 's', measure: 'b', kind: 'boolean', ts: T0, value: false },
          { id: 3, sensor: 's', measure: 't', kind: 'string', ts: T0, value: 'say "hi"' },
        ],
        10,
        1e6,
      )[0]!.points)),
    );
    expect(body.query).toBe(STORE_MUTATION);
    expect(body.variables.input).toEqual({
      sensorId: 'id-1',
      clientMutationId: 'b1',
      dataPoints: [
        { measureName: 'f', timestamp: '2026-11-27T10:00:00.000Z', floatValue: 1.5 },
        { measureName: 'b', timestamp: '2026-11-27T10:00:00.000Z', booleanValue: false },
        { measureName: 't', timestamp: '2026-11-27T10:00:00.000Z', stringValue: 'say "hi"' },
      ],
    });
    expect(JSON.parse(String(encodeMutation({ mappingId: 'press-01' }, 'b', []))).variables.input.mappingId).toBe('press-01');
  });

  it('splits by points and by bytes, keeping order', () => {
    const byPoints = planBatches(rows(12), 5, 1e6);
    expect(byPoints.map((b) => b.readings.length)).toEqual([5, 5, 2]);
    expect(byPoints.flatMap((b) => b.readings.map((r) => r.id))).toEqual(rows(12).map((r) => r.id));
    const byBytes = planBatches(rows(100), 1000, 2048);
    for (const b of byBytes) expect(Buffer.byteLength(encodeMutation({ sensorId: 'x'.repeat(36) }, 'sa-' + 'f'.repeat(24), b.points))).toBeLessThanOrEqual(2048);
    expect(byBytes.reduce((n, b) => n + b.readings.length, 0)).toBe(100);
  });

  it('derives a stable batch id from the rows it carries', () => {
    expect(batchId(0, 's', rows(3))).toBe(batchId(0, 's', rows(3)));
    expect(batchId(0, 's', rows(3))).not.toBe(batchId(0, 's', rows(4)));
    expect(batchId(0, 's', rows(3))).not.toBe(batchId(1, 's', rows(3)));
    // The same id as every earlier version gave these rows (sha256 of "0␀s␀1,2,3,"): a batch
    // resent by a newer agent carries the id the hub saw first.
    expect(batchId(0, 's', rows(3))).toBe('sa-d7eb3f886e9337d650684bdf');
  });

  it('encodes planned points to the same body bytes as the list, in place when the head fits its room', () => {
    // Non-ASCII names and values, and more points than one joined group (500).
    const mixed: WaitingReading[] = Array.from({ length: 1234 }, (_, i) => ({
      id: i + 1,
      sensor: 's',
      measure: i % 3 === 0 ? 'Temperatur °C' : 'm',
      kind: i % 2 === 0 ? ('string' as const) : ('float' as const),
      ts: T0 + i,
      value: i % 2 === 0 ? `Zustand ü ${i} ✓ 🙂` : i / 7,
    }));
    const [batch] = planBatches(mixed, 5000, 10 * 2 ** 20);
    const points = encodePoints(batch!.points, batch!.bytes);
    expect(points.length).toBe(Buffer.byteLength(batch!.points.join(',')));
    expect(points.byteOffset).toBe(BODY_HEAD_ROOM);
    for (const address of [{ sensorId: 'id-1' }, { mappingId: 'press-01' }]) {
      const body = encodeMutation(address, 'sa-1', points);
      expect(body.buffer).toBe(points.buffer); // built around the points, not copied
      expect(body.equals(encodeMutation(address, 'sa-1', batch!.points))).toBe(true);
    }
    // A mapping id too long for the room: copied, the same bytes.
    const long = { mappingId: 'm'.repeat(BODY_HEAD_ROOM) };
    const copied = encodeMutation(long, 'sa-1', points);
    expect(copied.buffer).not.toBe(points.buffer);
    expect(copied.equals(encodeMutation(long, 'sa-1', batch!.points))).toBe(true);
    expect(JSON.parse(String(copied)).variables.input.dataPoints).toHaveLength(1234);
  });

  it('keeps body buffers of the pooled size for reuse, up to its limit, and lets them go when told', () => {
    const pool = new BodyBuffers(100_000, 2);
    const a = pool.take(60_000);
    expect(a.byteLength).toBe(pool.size);
    expect(pool.take(1_000).byteLength).toBeLessThan(pool.size / 4); // small: a buffer its size, never pooled
    expect(pool.take(300_000).byteLength).toBeGreaterThan(300_000); // larger than max_bytes (one huge point)
    pool.give(a);
    pool.give(new ArrayBuffer(1_000));
    expect(pool.kept).toBe(1);
    expect(pool.take(90_000)).toBe(a);
    pool.give(a);
    pool.give(new ArrayBuffer(pool.size));
    pool.give(new ArrayBuffer(pool.size));
    expect(pool.kept).toBe(2);
    pool.clear();
    expect(pool.kept).toBe(0);
  });
});
