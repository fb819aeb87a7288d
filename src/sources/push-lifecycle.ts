/**
 * The start and end of a source that data is pushed to (a socket, a broker): its `chunks$` starts
 * the source when subscribed and stops it when unsubscribed; `started` settles once the start is
 * known (rejected with a SourceStartError that says why it cannot start); `finish()` completes
 * the stream once the source has stopped. One place for what every push source did by hand.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { LineChunk } from './source.js';

export class PushLifecycle {
  readonly chunks$: Observable<LineChunk>;
  /** Settles once start() knows: resolved when listening/connected, rejected with why not. */
  readonly started: Promise<void>;
  /** The pipeline's subscriber while subscribed (chunks go to it through `deliver`). */
  subscriber: Subscriber<LineChunk> | null = null;
  private resolveStart!: () => void;
  private rejectStart!: (err: unknown) => void;
  private done!: () => void;
  private readonly completed = new Promise<void>((resolve) => (this.done = resolve));

  constructor(hooks: { start: () => Promise<void>; stop: () => Promise<void> }) {
    this.started = new Promise<void>((resolve, reject) => {
      this.resolveStart = resolve;
      this.rejectStart = reject;
    });
    this.started.catch(() => undefined); // read by whenStarted(); never an unhandled rejection
    this.chunks$ = new Observable<LineChunk>((subscriber) => {
      this.subscriber = subscriber;
      void hooks.start();
      void this.completed.then(() => subscriber.complete());
      return () => void hooks.stop();
    });
  }

  startedOk(): void {
    this.resolveStart();
  }

  startFailed(err: unknown): void {
    this.rejectStart(err);
  }

  /** The source has stopped: the stream completes. */
  finish(): void {
    this.done();
  }

  /** Subscribed and not yet unsubscribed. */
  get open(): boolean {
    return this.subscriber !== null && !this.subscriber.closed;
  }
}
