import { describe, expect, it } from 'vitest';
import { batchId, encodeMutation, planBatches, STORE_MUTATION } from '../../src/hub/encode.js';
import type { ClaimedReading } from '../../src/outbox/types.js';

const T0 = Date.UTC(2026, 10, 27, 10);
const rows = (n: number): ClaimedReading[] =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, sensor: 's', measure: 'm', kind: 'float' as const, ts: T0 + i, value: i + 0.5 }));

describe('encode', () => {
  it('builds a storeSensorMeasureData mutation with one value field per point', () => {
    const body = JSON.parse(
      encodeMutation({ sensorId: 'id-1' }, 'b1', planBatches(
        [
          { id: 1, sensor: 's', measure: 'f', kind: 'float', ts: T0, value: 1.5 },
          { id: 2, sensor: 's', measure: 'b', kind: 'boolean', ts: T0, value: false },
          { id: 3, sensor: 's', measure: 't', kind: 'string', ts: T0, value: 'say "hi"' },
        ],
        10,
        1e6,
      )[0]!.points),
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
    expect(JSON.parse(encodeMutation({ mappingId: 'press-01' }, 'b', [])).variables.input.mappingId).toBe('press-01');
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
});
