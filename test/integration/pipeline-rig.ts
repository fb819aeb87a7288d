/**
 * A real Source through the real ingest pipeline (parse, group, OutboxWriter) into a real
 * SQLite outbox in a temporary folder: what the daemon wires, without the shipper. Readings are
 * read back from the outbox (claim) and dead letters from its table.
 */
import pino, { type Logger } from 'pino';
import { CapacityGuard } from '../../src/outbox/capacity.js';
import type { DeadLetterRow } from '../../src/outbox/dead-letters.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE, type WaitingReading } from '../../src/outbox/types.js';
import { IngestPipeline } from '../../src/pipeline/pipeline.js';
import { OutboxWriter } from '../../src/pipeline/writer.js';
import type { Source } from '../../src/sources/source.js';
import { tempDir } from '../helpers/tmp.js';

export class PipelineRig {
  readonly outbox: Outbox;
  readonly pipeline: IngestPipeline;
  private stopped = false;

  constructor(
    readonly source: Source,
    logger: Logger = pino({ level: 'silent' }),
  ) {
    const dir = tempDir('senseye-rig-');
    this.outbox = Outbox.inStateDir(dir);
    const guard = CapacityGuard.forOutbox(this.outbox, dir, { maxBytes: 1024 ** 3, minFreeDiskBytes: 0 });
    const writer = new OutboxWriter(this.outbox, logger, { guard, whenFull: 'block' });
    this.pipeline = new IngestPipeline({ sources: [source], writer, batchSize: 1000, maxWaitMs: 10, logger });
    this.pipeline.start();
  }

  /** Every reading committed so far, in order (read without being claimed for good). */
  readings(): WaitingReading[] {
    return this.outbox.readWaiting(LIVE_LANE, 1_000_000);
  }

  deadLetters(): DeadLetterRow[] {
    return this.outbox.deadLetters.list({});
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.pipeline.drain(10_000);
    this.outbox.close();
  }
}
