/**
 * The agent's side of the UDP receiving thread (udp-receiver-worker.ts): starts it, turns its
 * batches back into datagrams (views into one buffer moved over without a copy), returns credit
 * for bytes handed on, and stops it: gracefully (the socket closes, what was read still arrives,
 * then 'closed') or at once (terminate).
 *
 * Under vitest this file runs from src/ as TypeScript, which a worker thread cannot load: it then
 * uses the build in dist/ (`npm test` builds first), like the planner worker.
 */
import { Worker } from 'node:worker_threads';

export interface ReceiverSettings {
  host: string;
  port: number;
  ipv6: boolean;
  /** SO_RCVBUF to ask for; 0: the system default. */
  recvBufferSize: number;
  /** Bytes handed over but not yet credited back, beyond which datagrams are dropped (and counted). */
  maxPendingBytes: number;
  /** How long datagrams gather before a batch goes out. */
  flushMs: number;
}

export type ToReceiver = { t: 'credit'; bytes: number } | { t: 'stop' };

export interface ReceiverListening {
  address: string;
  port: number;
  /** SO_RCVBUF as the kernel reports it, or null when it could not be set or read (bufferError says why). */
  granted: number | null;
  bufferError: string | null;
  /** The socket's inode (for its row in /proc/net/udp), or null where it cannot be found. */
  inode: number | null;
}

export interface ReceivedBatch {
  /** The datagrams back to back; datagram i is data[ends[i-1] .. ends[i]). */
  data: Buffer;
  ends: Uint32Array;
  /** Sender of each datagram, as an index into `origins`. */
  senders: Uint32Array;
  /** Senders by index, as origins ("udp://10.0.0.7:40123"). */
  origins: readonly string[];
  /** Datagrams dropped by the receiving thread (max_pending_bytes) since the previous batch. */
  dropped: number;
  /** Datagrams read since the previous batch, dropped ones included. */
  datagrams: number;
}

type FromReceiver =
  | ({ t: 'listening' } & ReceiverListening)
  | { t: 'error'; code: string | null; message: string }
  | { t: 'socket_error'; message: string }
  | { t: 'batch'; data: ArrayBuffer; used: number; ends: Uint32Array; senders: Uint32Array; newSenders: Array<[number, string]>; dropped: number; datagrams: number }
  | { t: 'closed' };

export class UdpReceiver {
  private worker: Worker | null = null;
  private readonly origins: string[] = [];
  private closed: (() => void) | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly handlers: { batch(b: ReceivedBatch): void; socketError(message: string): void },
  ) {}

  /** Binds; resolves once listening, rejects with the bind error (its `code` kept). */
  start(): Promise<ReceiverListening> {
    const worker = new Worker(workerScript(), { workerData: this.settings });
    this.worker = worker;
    // Watched from the start: a thread that already ended must not leave stop() waiting.
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    return new Promise((resolve, reject) => {
      worker.on('error', (err) => {
        reject(err); // before listening: the source cannot start; after: it stops receiving
        this.handlers.socketError(`the receiving thread failed: ${err.message}`);
      });
      worker.on('message', (m: FromReceiver) => {
        switch (m.t) {
          case 'listening':
            resolve(m);
            break;
          case 'error':
            reject(Object.assign(new Error(m.message), { code: m.code ?? undefined }));
            void worker.terminate();
            break;
          case 'socket_error':
            this.handlers.socketError(m.message);
            break;
          case 'batch': {
            for (const [id, origin] of m.newSenders) this.origins[id] = origin;
            this.handlers.batch({ data: Buffer.from(m.data, 0, m.used), ends: m.ends, senders: m.senders, origins: this.origins, dropped: m.dropped, datagrams: m.datagrams });
            break;
          }
          case 'closed':
            this.closed?.();
            break;
        }
      });
    });
  }

  /** The bytes of handed-on datagrams: the receiving thread may hold that much more. */
  credit(bytes: number): void {
    this.worker?.postMessage({ t: 'credit', bytes } satisfies ToReceiver);
  }

  /** Closes the socket; resolves once every datagram read before arrived (batch handlers ran). */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    const closed = new Promise<void>((resolve) => (this.closed = resolve));
    worker.postMessage({ t: 'stop' } satisfies ToReceiver);
    await Promise.race([closed, this.exited]);
    await worker.terminate();
  }

  /** Stops at once; datagrams not yet handed over are lost. */
  terminate(): void {
    void this.worker?.terminate();
    this.worker = null;
  }
}

function workerScript(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../../dist/sources/socket/udp-receiver-worker.js', here) : new URL('./udp-receiver-worker.js', here);
}
