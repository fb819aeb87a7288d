/**
 * Tells one batch the hub keeps failing from a hub that fails everything. A batch is
 * "poisoned" when the hub answered `after` of its sends without success (5xx, an answer outside
 * the contract, a timeout), at least one of them in a round in which the hub accepted other
 * batches, or after it accepted one since the batch's previous failure (evidence), and no other
 * batch has failed since the hub last accepted one. It is then
 * split like a refused batch, and what still fails alone is dead-lettered (stage hub, with the
 * last error; `dlq replay` sends it again).
 *
 * An outage never causes a dead letter: the hub accepts nothing, so no round gives evidence,
 * and the other batches tried meanwhile fail too. Throttling, lost connections and an outbox
 * that cannot record an acknowledgement say nothing about a batch and are not counted.
 *
 * Without this, one such batch (a payload a proxy or the hub chokes on) would be resent forever
 * and, resent first after every failure, hold up every sensor of its lane (head-of-line blocking).
 */
import type { InflightBatch } from '../outbox/inflight.js';
import type { HubFailure } from './outcome.js';

export class PoisonRule {
  private lastAcceptedAt = 0;
  /** Batches that failed (counted) since the hub last accepted one. */
  private readonly failedSinceAccepted = new Set<string>();
  /** This round's counted failures and acceptances (shipper.ts opens and closes rounds). */
  private round = { failed: new Set<string>(), accepted: 0 };

  constructor(
    /** hub.retry.poison_after: failed sends of one batch before it may be split. */
    readonly after: number,
  ) {}

  beginRound(): void {
    this.round = { failed: new Set(), accepted: 0 };
  }

  /** The batches that failed in a round in which the hub accepted others: evidence against them. */
  endRound(): string[] {
    return this.round.accepted > 0 ? [...this.round.failed] : [];
  }

  /** The hub accepted a batch (any). */
  accepted(now = Date.now()): void {
    this.lastAcceptedAt = Math.max(this.lastAcceptedAt, now);
    this.failedSinceAccepted.clear();
    this.round.accepted++;
  }

  /** Whether this failure says something about the batch: the hub answered (or timed out) without success. */
  counts(failure: HubFailure): boolean {
    return failure.kind === 'retryable' && (failure.cause === 'server' || failure.cause === 'unexpected' || failure.cause === 'timeout');
  }

  /**
   * A counted failure of `batch` (its `attempts` already include it; `previousFailureAt` is the
   * failure before it): is it poisoned? A failure after the hub accepted another batch since
   * the previous one is evidence too (`batch.evidence` is raised; the caller persists it).
   */
  failed(batch: InflightBatch, previousFailureAt: number | null): boolean {
    if (previousFailureAt !== null && this.lastAcceptedAt > previousFailureAt) batch.evidence = (batch.evidence ?? 0) + 1;
    this.failedSinceAccepted.add(batch.batchId);
    this.round.failed.add(batch.batchId);
    const othersFailing = [...this.failedSinceAccepted].some((id) => id !== batch.batchId);
    return (batch.attempts ?? 0) >= this.after && (batch.evidence ?? 0) >= 1 && !othersFailing;
  }

  /**
   * A batch that would fail once more to no purpose: it failed `after - 1` times and nothing was
   * accepted since. A probe goes to another batch first, so the hub can show it is up.
   */
  suspect(batch: InflightBatch): boolean {
    return (batch.attempts ?? 0) >= this.after - 1 && (batch.lastFailedAt ?? 0) >= this.lastAcceptedAt;
  }
}
