/**
 * Recognises a QoS 1 message the broker sends again although its readings are already committed.
 *
 * The PUBACK for a message goes out right after its commit; if the agent dies (or the connection
 * drops) in between, the broker keeps the message and sends it again, marked DUP, under the same
 * packet id. The broker holds at most its inflight window of unacknowledged messages, and the
 * agent acknowledges in commit order, so such a message is among the last `window` committed
 * ones. Their keys (packet id + a hash of topic and payload: packet ids are reused once acked)
 * are kept in a ring that is saved with every commit (the source's checkpoint, in the same
 * transaction as the readings), so after a SIGKILL too a DUP redelivery whose key is in the
 * ring is acknowledged without being ingested twice.
 */
import { createHash } from 'node:crypto';

export function messageKey(messageId: number, topic: string, payload: Buffer): string {
  const h = createHash('sha1').update(topic).update('\u0000').update(payload).digest('base64url').slice(0, 16);
  return `${messageId}:${h}`;
}

export class Redeliveries {
  private readonly ring: string[] = [];
  private readonly committed = new Set<string>();
  /** Keys handed to the pipeline and not yet committed. */
  private readonly pending = new Set<string>();
  /** Keys of messages taken and still waiting in the source's queue (not yet handed on). */
  private readonly waiting = new Set<string>();
  private snapshot: string | null = null;

  constructor(
    private readonly window: number,
    saved: string | null,
  ) {
    if (saved !== null) {
      try {
        const keys = (JSON.parse(saved) as { keys?: unknown }).keys;
        if (Array.isArray(keys)) for (const k of keys.slice(-window)) if (typeof k === 'string') this.remember(k);
      } catch {
        // A state this version cannot read: no redelivery is recognised (duplicates, never a loss).
      }
    }
  }

  /** committed: its readings are durable; pending: handed on, commit to come; new: ingest it. */
  status(key: string): 'committed' | 'pending' | 'new' {
    // Waiting in the queue counts as pending: a DUP of it (sent again after a reconnect while the
    // outbox held the queue) must be acknowledged with it, not queued a second time.
    if (this.pending.has(key) || this.waiting.has(key)) return 'pending';
    if (this.committed.has(key)) return 'committed';
    return 'new';
  }

  /** A message taken into the source's queue. */
  taken(key: string): void {
    this.waiting.add(key);
  }

  /** A taken message dropped unread (the source stops): the broker sends it again next session. */
  forget(key: string): void {
    this.waiting.delete(key);
  }

  /** A message handed to the pipeline: its key is saved with the chunk that carries it. */
  handedOn(key: string): void {
    this.waiting.delete(key);
    this.pending.add(key);
    this.remember(key);
  }

  /** Its commit happened. */
  committedNow(key: string): void {
    this.pending.delete(key);
  }

  /** The state saved with a chunk: every key handed on so far, within the window. */
  state(): string {
    this.snapshot ??= JSON.stringify({ keys: this.ring });
    return this.snapshot;
  }

  private remember(key: string): void {
    this.ring.push(key);
    this.committed.add(key);
    if (this.ring.length > this.window) this.committed.delete(this.ring.shift()!);
    this.snapshot = null;
  }
}
