// Outbox bounds with a real SQLite file: block holds commits (sources pause) until delivery
// makes room; drop_oldest deletes the oldest undelivered readings, counted and logged.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CapacityGuard } from '../../src/outbox/capacity.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import type { ParsedChunk } from '../../src/pipeline/parse-chunk.js';
import { OutboxWriter } from '../../src/pipeline/writer.js';
import { readings } from '../helpers/delivery-rig.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { sqlOf } from '../helpers/outbox-sql.js';

function chunk(n: number, from: number, acks: number[]): ParsedChunk {
  return { batch: { source: 's', lane: LIVE_LANE, readings: readings(n, ['a'], from), deadLetters: [] }, ack: () => acks.push(from) };
}

function setup(whenFull: 'block' | 'drop_oldest', maxBytes: number) {
  const dir = tempDir();
  const outbox = Outbox.inStateDir(dir);
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({}, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const guard = new CapacityGuard(sqlOf(outbox), dir, { maxBytes, minFreeDiskBytes: 0 });
  const writer = new OutboxWriter(outbox, logger, { guard, whenFull, retryMs: 20 });
  return { outbox, writer, logs, guard };
}

describe('outbox bounds', () => {
  it('block: holds the commit and its acknowledgement until there is room, losing nothing', async () => {
    const { outbox, writer, logs, guard } = setup('block', 1);
    const acks: number[] = [];
    const base = guard.usedBytes();
    (guard as unknown as { limits: { maxBytes: number } }).limits.maxBytes = base + 200 * 1024;
    let from = 0;
    while (guard.check().full === false) {
      writer.write([chunk(2000, from, acks)]);
      from += 2000;
    }
    const committed = outbox.counts().appended;
    writer.write([chunk(10, 1_000_000, acks)]);
    expect(writer.blockedReason).toContain('outbox.max_bytes');
    expect(acks).not.toContain(1_000_000); // the source was not told: it keeps the data
    expect(logs.some((l) => l.event === 'outbox_full')).toBe(true);
    // Delivery makes room.
    outbox.ack(outbox.readWaiting(LIVE_LANE, committed).map((r) => r.id));
    await waitFor(() => acks.includes(1_000_000), 'the held chunk to commit');
    expect(writer.blockedReason).toBeNull();
    expect(outbox.counts()).toMatchObject({ appended: committed + 10, dropped: 0 });
    outbox.close();
  });

  it('drop_oldest: makes room by deleting the oldest readings, counted and logged', () => {
    const { outbox, writer, logs, guard } = setup('drop_oldest', 1);
    (guard as unknown as { limits: { maxBytes: number } }).limits.maxBytes = guard.usedBytes() + 100 * 1024;
    const acks: number[] = [];
    for (let i = 0; i < 30; i++) writer.write([chunk(2000, i * 2000, acks)]);
    expect(acks).toHaveLength(30); // nothing held
    const counts = outbox.counts();
    expect(counts.dropped).toBeGreaterThan(0);
    expect(counts.appended).toBe(60_000);
    expect(counts.depth).toBe(60_000 - counts.dropped);
    // The oldest went first: what is left is the newest.
    const left = outbox.readWaiting(LIVE_LANE, 1);
    expect(left[0]!.ts).toBeGreaterThan(readings(1, ['a'], counts.dropped - 1)[0]!.ts);
    expect(logs.filter((l) => l.event === 'outbox_dropped_oldest').length).toBeGreaterThan(0);
    outbox.close();
  });

  it('counts the free-disk watermark as full', () => {
    const dir = tempDir();
    const outbox = Outbox.inStateDir(dir);
    const guard = new CapacityGuard(sqlOf(outbox), dir, { maxBytes: 1e12, minFreeDiskBytes: Number.MAX_SAFE_INTEGER });
    expect(guard.check()).toMatchObject({ full: true, reason: expect.stringContaining('outbox.min_free_disk') });
    outbox.close();
  });
});
