/**
 * Memory for request bodies, reused. A body is hundreds of kilobytes and ~600 go out per
 * 2,000,000 readings. As strings they lived in V8's large-object space until a full collection;
 * as fresh buffers, their memory waited for the small handles to be collected, which at full speed
 * had often outlived a young collection. Either way the agent's memory grew by tens of megabytes
 * under load (docs/performance.md, item 22). Here the planner worker encodes each batch's points
 * into a buffer of this pool, hands it to the agent's thread (a transfer, no copy), the mutation's
 * head and tail are written around the points in the room left for them (encode.ts,
 * encodeMutation), and once the hub has answered the batch with a 200 (batch-sender.ts) the
 * buffer is handed back for the next one. Buffers not handed back (a failed or abandoned batch,
 * a 409) are simply collected.
 */

/** Room before a batch's points for the mutation's head (~300 bytes with a sensor id). */
export const BODY_HEAD_ROOM = 512;
/** Room after the points for the mutation's tail, `]}}}`. */
export const BODY_TAIL_ROOM = 4;

export class BodyBuffers {
  private readonly free: ArrayBuffer[] = [];

  /**
   * `pointBytes`: the largest points of a batch (hub.max_bytes); `keep`: buffers kept for reuse
   * (about the requests on the wire and planned ahead: more are allocated when needed).
   */
  constructor(
    pointBytes: number,
    private readonly keep: number,
  ) {
    this.size = BODY_HEAD_ROOM + pointBytes + BODY_TAIL_ROOM;
  }

  readonly size: number;

  /** An ArrayBuffer for `pointBytes` of points with the room around them. */
  take(pointBytes: number): ArrayBuffer {
    const needed = BODY_HEAD_ROOM + pointBytes + BODY_TAIL_ROOM;
    // A small batch (a probe, a sensor's last rows) gets a buffer its size, not a pooled one.
    if (needed > this.size || needed < this.size / 4) return new ArrayBuffer(needed);
    return this.free.pop() ?? new ArrayBuffer(this.size);
  }

  /** A buffer back from the agent's thread; only pooled sizes are kept. */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.size && this.free.length < this.keep) this.free.push(buffer);
  }

  /** Lets the kept buffers go (the outbox is drained: an idle agent holds no body memory). */
  clear(): void {
    this.free.length = 0;
  }

  get kept(): number {
    return this.free.length;
  }
}

/** A fresh ArrayBuffer each time (planning on the agent's thread, where nothing is handed back). */
export const freshBuffers = { take: (pointBytes: number) => new ArrayBuffer(BODY_HEAD_ROOM + pointBytes + BODY_TAIL_ROOM) };

export type TakeBuffer = Pick<BodyBuffers, 'take'>;
