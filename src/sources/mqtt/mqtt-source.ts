/**
 * `mqtt` source: messages from a broker's subscription, acknowledged only once their readings are
 * committed.
 *
 * QoS 1 acknowledgement after commit: the `mqtt` package sends a PUBACK when `handleMessage`'s
 * callback is called without an error, and takes the next packet off the socket only after that
 * callback. Holding the callback until the commit would process one message per commit and hold
 * up PINGRESPs too (a long commit would look like a dead connection). So the callback is called at
 * once *with an error* (the package then sends no PUBACK and goes on with the next packet), and
 * the PUBACK is written by us (connection.ts) once the chunk holding the message is committed. Messages
 * acknowledged in commit order, the broker's inflight window (Receive Maximum = `max_inflight`
 * under MQTT 5; mosquitto's max_inflight_messages under 3.1.1) bounds what is held: when the
 * outbox refuses writes (full, `when_full: block`) no PUBACK goes out and the broker stops sending.
 *
 * A connection lost with PUBACKs owed: the broker sends those messages again (DUP) under the same
 * packet ids; redeliveries.ts recognises the ones already committed, also after a SIGKILL.
 * A message that cannot be read is dead-lettered (topic, payload head, reason) and acknowledged
 * with its chunk, so one bad message never blocks the session. QoS 0 messages are held up to
 * `max_pending_messages` while the outbox does not take more; beyond it they are dropped, counted
 * and logged (QoS 0 is at most once by contract).
 */
import { Subject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { IPublishPacket } from 'mqtt';
import type { MqttSourceConfig } from '../../config/mqtt-schema.js';
import { LogEvery } from '../../observability/log-every.js';
import type { FileCheckpoint } from '../../outbox/types.js';
import type { LineParser, ParserOptions } from '../../parse/parser.js';
import { PushLifecycle } from '../push-lifecycle.js';
import { InFlightLimit, type LineChunk, type RefusedLine, type Source } from '../source.js';
import { SourceStartError } from '../start-error.js';
import { ClientOptionsError } from './client-options.js';
import { BrokerConnection } from './connection.js';
import { payloadHead, TextMessageReader, type MessageReader, type ReadMessage } from './message-reader.js';
import { messageKey, Redeliveries } from './redeliveries.js';
import { SparkplugReader } from './sparkplug/reader.js';

/** The checkpoint row an mqtt source keeps (its redelivery ring), one per source. */
export const MQTT_SESSION_KEY = 'mqtt-session';
/** Messages taken into one batch of chunks at most. */
const MAX_BATCH = 5000;
const DROP_LOG_EVERY_MS = 10_000;
/** Bytes of an oversize payload kept for its dead letter (payloadHead keeps at most this much). */
const OVERSIZE_HEAD_BYTES = 16 * 1024;
/** Passed to handleMessage's callback: the package then sends no PUBACK (we send it after the commit). */
const ACK_LATER = new Error('acknowledged after commit');

interface Received {
  topic: string;
  /** The payload; for one over max_message_bytes, only its head (it is dead-lettered, not read). */
  payload: Buffer;
  /** Set when the payload was over max_message_bytes: its size in bytes. */
  oversize?: number;
  /** QoS 1: its redelivery key (and the PUBACK it is owed); QoS 0: null. */
  key: string | null;
  arrivedAt: number;
}

interface Group {
  topic: string;
  parser: LineParser | null;
  whole: boolean;
  lines: string[];
  refused: RefusedLine[];
  /** Redelivery keys of its QoS 1 messages. */
  keys: string[];
}

export interface MqttSourceContext {
  lane: number;
  logger: Logger;
  parserOptions: ParserOptions;
  checkpoints: FileCheckpoint[];
  maxInFlight?: number;
}

export class MqttSource implements Source {
  readonly name: string;
  readonly chunks$: Observable<LineChunk>;
  private readonly connectionChanged = new Subject<void>();
  readonly connectionChanges$: Observable<void> = this.connectionChanged.asObservable();
  private readonly life = new PushLifecycle({ start: () => this.start(), stop: () => this.stop(false) });
  private readonly limit: InFlightLimit;
  get stalls$(): Observable<void> {
    return this.limit.waits$;
  }
  private readonly log: Logger;
  private readonly reader: MessageReader;
  private readonly redeliveries: Redeliveries;
  private readonly connection: BrokerConnection;
  private queue: Received[] = [];
  /** PUBACKs owed on the current connection: redelivery key → packet id. */
  private readonly owed = new Map<string, number>();
  private pumping: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  /** QoS 0 messages dropped: counted, logged at most every DROP_LOG_EVERY_MS. */
  private readonly qos0Drops: LogEvery;
  /** Counts since start: messages taken, redeliveries recognised, retained skipped (QoS 0 drops: droppedTotal). */
  messages = 0;
  redeliveriesSkipped = 0;
  retainedSkipped = 0;
  get connected(): boolean {
    return this.connection.connected;
  }
  /** The subscription stands (made since start, or kept by the broker with the session). */
  get subscribedOnce(): boolean {
    return this.connection.subscribedOnce;
  }

  constructor(
    private readonly config: MqttSourceConfig,
    private readonly ctx: MqttSourceContext,
  ) {
    this.name = config.name;
    this.limit = new InFlightLimit(ctx.maxInFlight ?? 4);
    this.log = ctx.logger.child({ source: this.name });
    this.qos0Drops = new LogEvery(this.log, 'mqtt_qos0_dropped', 'outbox not keeping up: QoS 0 messages dropped (use qos: 1 to have the broker hold them instead)', DROP_LOG_EVERY_MS);
    this.connection = new BrokerConnection(config, this.log, {
      publish: (packet, callback) => this.onPublish(packet, callback),
      // PUBACKs owed on a lost connection cannot be sent: the broker sends those messages again.
      lost: () => this.owed.clear(),
      changed: () => this.connectionChanged.next(),
    });
    const saved = ctx.checkpoints.find((c) => c.fileKey === MQTT_SESSION_KEY && c.headHash === (config.client_id ?? ''));
    this.redeliveries = new Redeliveries(config.max_inflight, saved?.parserState ?? null);
    this.reader =
      config.format === 'sparkplug-b'
        ? new SparkplugReader(config, ctx.parserOptions, this.log, (topic, payload) => this.connection.publish(topic, payload))
        : new TextMessageReader(config, ctx.parserOptions);
    this.chunks$ = this.life.chunks$;
  }

  /** Cut off: not connected to the broker (not yet, or lost); null while connected or stopping. */
  notReceiving(): { since: number; reason: string } | null {
    const { downSince, lastError, url } = this.connection;
    if (downSince === null || this.stopping !== null) return null;
    return { since: downSince, reason: `not connected to ${url}${lastError === null ? '' : `: ${lastError}`}` };
  }

  /** Resolves once the client is made (a broker not reachable yet is retried, not a start error). */
  whenStarted(): Promise<void> {
    return this.life.started;
  }

  isCaughtUp(): boolean {
    return this.queue.length === 0 && this.limit.count === 0 && this.pumping === null;
  }

  drain(): Promise<void> {
    return this.stop(true);
  }

  /** QoS 0 messages lost to max_pending_messages (the `backlog` count; metric mqtt_qos0_messages_dropped_total). */
  drops(): { kernel: number | null; backlog: number } {
    return { kernel: null, backlog: this.droppedTotal };
  }

  private async start(): Promise<void> {
    try {
      await this.reader.ready?.();
      await this.connection.open();
    } catch (err) {
      const setting = err instanceof ClientOptionsError ? err.setting : 'url';
      this.life.startFailed(new SourceStartError(this.name, (err as Error).message, `check \`${setting}\``));
      this.life.finish();
      return;
    }
    this.life.startedOk();
  }

  private onPublish(packet: IPublishPacket, callback: (err?: Error) => void): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const topic = packet.topic;
    if (packet.retain && this.config.retained === false) {
      // Retained: the broker's last value, sent because of our subscription, not a new reading.
      this.retainedSkipped++;
      if (this.retainedSkipped === 1) this.log.info({ event: 'mqtt_retained_skipped', topic }, 'retained messages are skipped (retained: false)');
      return callback();
    }
    if (packet.qos === 0) {
      if (this.stopping !== null || this.queue.length >= this.config.max_pending_messages) this.countDropped();
      else this.take({ topic, payload, key: null, arrivedAt: Date.now() });
      return callback();
    }
    if (this.stopping !== null) return callback(ACK_LATER); // never acknowledged: sent again next session
    const key = messageKey(packet.messageId!, topic, payload);
    if (packet.dup) {
      const status = this.redeliveries.status(key);
      if (status === 'committed') {
        this.redeliveriesSkipped++;
        return callback();
      }
      if (status === 'pending') {
        this.redeliveriesSkipped++;
        this.owed.set(key, packet.messageId!);
        return callback(ACK_LATER);
      }
    }
    this.owed.set(key, packet.messageId!);
    this.redeliveries.taken(key);
    this.take({ topic, payload, key, arrivedAt: Date.now() });
    callback(ACK_LATER);
  }

  private take(message: Received): void {
    const max = this.config.max_message_bytes;
    if (message.payload.length > max) {
      // Held until its dead letter commits: only the head is kept, so a queue of huge messages stays small.
      message.oversize = message.payload.length;
      message.payload = Buffer.from(message.payload.subarray(0, Math.min(max, OVERSIZE_HEAD_BYTES)));
    }
    this.messages++;
    this.queue.push(message);
    this.pump();
  }

  private countDropped(): void {
    this.qos0Drops.hit({ max_pending_messages: this.config.max_pending_messages });
  }

  /** QoS 0 messages dropped beyond `max_pending_messages` since start. */
  get droppedTotal(): number {
    return this.qos0Drops.count;
  }

  private pump(): void {
    if (this.pumping !== null) return;
    this.pumping = this.pumpLoop().finally(() => {
      this.pumping = null;
      if (this.queue.length > 0 && this.life.open) this.pump();
    });
  }

  private async pumpLoop(): Promise<void> {
    while (this.queue.length > 0) {
      await this.limit.acquire();
      const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
      this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
      this.emit(batch);
    }
  }

  /**
   * One batch of messages → one chunk per topic. Each chunk carries the redelivery ring as it stands
   * with its own messages (saved in the transaction that commits them) and, once committed, sends
   * their PUBACKs; the batch's slot is freed with its last chunk.
   */
  private emit(batch: Received[]): void {
    const subscriber = this.life.subscriber;
    if (subscriber === null || subscriber.closed) {
      // Nobody commits any more (an abort): nothing is acknowledged, the broker sends them again.
      for (const m of batch) if (m.key !== null) this.redeliveries.forget(m.key);
      this.limit.release();
      return;
    }
    const groups = new Map<string, Group>();
    for (const m of batch) {
      let g = groups.get(m.topic);
      if (g === undefined) groups.set(m.topic, (g = { topic: m.topic, parser: null, whole: false, lines: [], refused: [], keys: [] }));
      let read: ReadMessage;
      try {
        read =
          m.oversize !== undefined
            ? { ok: false, reason: `message of ${m.oversize} bytes, over max_message_bytes (${this.config.max_message_bytes}): not read` }
            : this.reader.read(m.topic, m.payload, m.arrivedAt);
      } catch (err) {
        // A reader bug must not lose the message or stop the source: it becomes a dead letter.
        read = { ok: false, reason: `reader failed: ${(err as Error).message}` };
      }
      if (read.ok) {
        g.parser = read.parser;
        g.whole = read.whole;
        for (const line of read.lines) g.lines.push(line);
        for (const r of read.rejected ?? []) g.refused.push({ line: g.lines.length + g.refused.length + 1, raw: r.raw, reason: r.reason });
      } else {
        g.refused.push({ line: g.lines.length + g.refused.length + 1, raw: payloadHead(m.payload), reason: read.reason });
      }
      if (m.key !== null) g.keys.push(m.key);
    }
    const list = [...groups.values()];
    const sent = this.messages;
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      const last = i === list.length - 1;
      const parser = g.parser ?? NO_LINES;
      // Parsed (and its state taken) inside next(): the ring then holds exactly the keys up to this chunk.
      for (const key of g.keys) this.redeliveries.handedOn(key);
      const qos1 = g.keys.length > 0;
      subscriber.next({
        source: this.name,
        lane: this.ctx.lane,
        origin: g.topic,
        lines: g.lines,
        firstLine: g.refused.length + 1,
        parser: qos1 ? this.withSessionState(parser) : parser,
        refused: g.refused.length > 0 ? g.refused : undefined,
        whole: g.whole,
        checkpoint: qos1 ? { source: this.name, fileKey: MQTT_SESSION_KEY, path: this.connection.url, offset: sent, line: sent, headLen: 0, headHash: this.config.client_id ?? '' } : undefined,
        ack: () => this.committed(g.keys, last),
      });
    }
  }

  /** The chunk's parser, saving the redelivery ring as its state (stored with the commit). */
  private withSessionState(parser: LineParser): LineParser {
    return {
      parseLine: (line) => parser.parseLine(line),
      parseWhole: parser.parseWhole === undefined ? undefined : (text) => parser.parseWhole!(text),
      saveState: () => this.redeliveries.state(),
    };
  }

  private committed(keys: readonly string[], lastOfBatch: boolean): void {
    for (const key of keys) {
      this.redeliveries.committedNow(key);
      const messageId = this.owed.get(key);
      if (messageId === undefined) continue;
      this.owed.delete(key);
      this.connection.puback(messageId);
    }
    if (lastOfBatch) this.limit.release();
  }

  private stop(graceful: boolean): Promise<void> {
    this.stopping ??= (async () => {
      if (graceful) {
        this.pump();
        while (this.pumping !== null) await this.pumping;
        await this.limit.idle();
      }
      await this.connection.close(!graceful);
      this.log.info(
        { event: 'mqtt_source_stopped', messages: this.messages, redeliveries_skipped: this.redeliveriesSkipped, qos0_dropped: this.droppedTotal, retained_skipped: this.retainedSkipped },
        `took ${this.messages} messages from ${this.connection.url}`,
      );
      this.life.finish();
    })();
    return this.stopping;
  }
}

/** The parser of a chunk whose messages were all refused: it is never asked to parse. */
const NO_LINES: LineParser = { parseLine: () => ({ ok: true, readings: [] }), saveState: () => null };
