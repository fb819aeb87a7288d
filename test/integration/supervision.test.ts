// Source supervision through the real pipeline, writer and outbox: a source that fails is
// restarted alone from its committed position, the others go on, and its health tells the truth.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Observable, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../src/config/sources-schema.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import { IngestPipeline } from '../../src/pipeline/pipeline.js';
import { OutboxWriter } from '../../src/pipeline/writer.js';
import { createSource } from '../../src/sources/registry.js';
import type { LineChunk, Source } from '../../src/sources/source.js';
import { SupervisedSource, type SourceHealth } from '../../src/sources/supervised-source.js';
import { jsonlReadings, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/**
 * A real file source whose stream fails after its `failAfter`-th chunk (0: at once), as a bug in
 * its loop would (the seam: a Source). The chunk that preceded the failure is still handed over.
 */
function failing(inner: Source, failAfter: number): Source {
  return {
    name: inner.name,
    chunks$: new Observable<LineChunk>((subscriber) => {
      if (failAfter === 0) {
        subscriber.error(new Error('simulated failure in the source loop'));
        return;
      }
      let n = 0;
      const sub: Subscription = inner.chunks$.subscribe({
        next: (chunk) => {
          subscriber.next(chunk);
          if (++n === failAfter) {
            sub?.unsubscribe();
            subscriber.error(new Error('simulated failure in the source loop'));
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      return () => sub.unsubscribe();
    }),
    drain: () => inner.drain(),
    isCaughtUp: () => inner.isCaughtUp(),
    stalls$: inner.stalls$,
  };
}

function rig() {
  const dir = tempDir();
  const outbox = Outbox.inStateDir(path.join(dir, 'state'));
  cleanup.push(() => outbox.close());
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const writer = new OutboxWriter(outbox, logger);
  const fileConfig = (name: string) =>
    sourceSchema.parse({ name, type: 'file', path: path.join(dir, `${name}.jsonl`), format: 'jsonl', poll_interval: '20ms', refresh_interval: '50ms', start_at: 'beginning' });
  const build = (name: string) => () =>
    createSource(fileConfig(name), { lane: LIVE_LANE, checkpoints: outbox.checkpoints(name), logger });
  return { dir, outbox, writer, logger, logs, build };
}

describe('supervised sources', () => {
  it('restarts a failed source alone, from its committed position: every reading once, the other source untouched', async () => {
    const { dir, outbox, writer, logger, logs, build } = rig();
    writeFileSync(path.join(dir, 'good.jsonl'), toJsonl(jsonlReadings(0, 500, ['good'])));
    writeFileSync(path.join(dir, 'flaky.jsonl'), toJsonl(jsonlReadings(0, 500, ['flaky'])));
    // The flaky source fails after its first chunk, twice (two instances); the third runs.
    let instances = 0;
    const healths: SourceHealth[] = [];
    const flaky = new SupervisedSource(
      'flaky',
      () => {
        instances++;
        const real = build('flaky')();
        return instances <= 2 ? failing(real, 1) : real;
      },
      { logger, settle: () => writer.flushed(), backoff: { initialDelayMs: 50, maxDelayMs: 200 }, settledAfterMs: 100, onHealth: (h) => void healths.push(h) },
    );
    const good = new SupervisedSource('good', build('good'), { logger, settle: () => writer.flushed(), backoff: { initialDelayMs: 50, maxDelayMs: 200 } });
    const pipeline = new IngestPipeline({ sources: [flaky, good], writer, batchSize: 100, maxWaitMs: 10, logger });
    pipeline.start();
    cleanup.push(() => pipeline.drain(2000));

    await waitFor(() => outbox.counts().appended >= 1000, 'both files committed');
    appendFileSync(path.join(dir, 'flaky.jsonl'), toJsonl(jsonlReadings(500, 100, ['flaky'])));
    await waitFor(() => outbox.counts().appended >= 1100, 'the appended lines of the restarted source');
    await waitFor(() => flaky.health().state === 'running', 'the restarted source counted as up again');

    // Exactly once: what the failed instances had committed was not read again.
    const rows = sqlOf(outbox).prepare(`SELECT se.name AS sensor, COUNT(*) AS n, COUNT(DISTINCT r.stream || '/' || r.ts) AS distinct_ts
       FROM readings r JOIN streams st ON st.id = r.stream JOIN sensors se ON se.id = st.sensor_id GROUP BY se.name`).all();
    expect(rows).toEqual(
      expect.arrayContaining([
        { sensor: 'flaky', n: 600, distinct_ts: 600 },
        { sensor: 'good', n: 500, distinct_ts: 500 },
      ]),
    );
    expect(outbox.counts().appended).toBe(1100);
    expect(instances).toBe(3);
    expect(flaky.health()).toEqual({ state: 'running', restarts: 2 });
    expect(good.health()).toEqual({ state: 'running', restarts: 0 });
    expect(healths.map((h) => h.state)).toEqual(expect.arrayContaining(['restarting', 'recovering', 'running']));
    const failed = logs.filter((l) => l.event === 'source_failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ source: 'flaky', reason: 'simulated failure in the source loop' });
    expect(logs.filter((l) => l.event === 'pipeline_failed')).toEqual([]);
  });

  it('reports a source that keeps failing as down since its first failure, with growing backoff', async () => {
    const { dir, writer, logger, logs, build } = rig();
    writeFileSync(path.join(dir, 'broken.jsonl'), toJsonl(jsonlReadings(0, 50, ['broken'])));
    const broken = new SupervisedSource('broken', () => failing(build('broken')(), 0), {
      logger,
      settle: () => writer.flushed(),
      backoff: { initialDelayMs: 40, maxDelayMs: 400 },
      settledAfterMs: 10_000,
      random: () => 1,
    });
    const pipeline = new IngestPipeline({ sources: [broken], writer, batchSize: 100, maxWaitMs: 10, logger });
    pipeline.start();
    cleanup.push(() => pipeline.drain(2000));
    await waitFor(() => logs.filter((l) => l.event === 'source_failed').length >= 4, 'four failures');
    const health = broken.health();
    expect(health.state).not.toBe('running');
    const first = Date.parse(String(logs.find((l) => l.event === 'source_failed')!.down_since));
    expect(health.state !== 'running' && health.downSince).toBe(first);
    const delays = logs.filter((l) => l.event === 'source_failed').map((l) => l.restart_in_ms as number);
    expect(delays.slice(0, 4)).toEqual([40, 80, 160, 320]);
  });

  it('a drain while a restart is pending completes the source instead of restarting it', async () => {
    const { dir, writer, logger, build } = rig();
    writeFileSync(path.join(dir, 'once.jsonl'), toJsonl(jsonlReadings(0, 10, ['once'])));
    let instances = 0;
    const once = new SupervisedSource(
      'once',
      () => {
        instances++;
        return failing(build('once')(), 1);
      },
      { logger, settle: () => writer.flushed(), backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 } },
    );
    const pipeline = new IngestPipeline({ sources: [once], writer, batchSize: 100, maxWaitMs: 10, logger });
    pipeline.start();
    await waitFor(() => once.health().state === 'restarting', 'the first failure');
    expect(await pipeline.drain(2000)).toBe(true);
    expect(instances).toBe(1);
  });

  it('a stop that begins while a restart waits for the writer to settle ends the source instead of starting a new one', async () => {
    const { dir, writer, logger, build } = rig();
    writeFileSync(path.join(dir, 'late.jsonl'), toJsonl(jsonlReadings(0, 10, ['late'])));
    let instances = 0;
    let release: () => void = () => undefined;
    let settleAsked = false;
    const late = new SupervisedSource(
      'late',
      () => {
        instances++;
        return failing(build('late')(), 1);
      },
      {
        logger,
        settle: () => {
          settleAsked = true;
          return new Promise<void>((resolve) => (release = resolve));
        },
        backoff: { initialDelayMs: 20, maxDelayMs: 20 },
      },
    );
    const pipeline = new IngestPipeline({ sources: [late], writer, batchSize: 100, maxWaitMs: 10, logger });
    pipeline.start();
    await waitFor(() => settleAsked, 'the restart waiting for the writer');
    const drained = pipeline.drain(5000);
    release();
    expect(await drained).toBe(true);
    expect(instances).toBe(1);
  });
});
