/**
 * One mqtt source's connection to its broker: connect, subscribe, reconnect with jittered capped
 * backoff, and the two packets the source sends itself (a deferred PUBACK, a Sparkplug command).
 *
 * The `mqtt` package's own reconnecting is off (a fixed period): here a lost connection is tried
 * again after random(0, min(max_delay, initial_delay·2^(n−1))) (full jitter, net/retry-policy.ts),
 * so agents that lost the same broker do not come back at the same moment. Subscriptions are made
 * at the first connect of each start (topics added to the config since the session began) and on
 * a reconnect into a session the broker did not keep; a kept session keeps them (subscribing
 * again would bring its retained messages again).
 */
import type { Logger } from 'pino';
import type { IConnackPacket, IPublishPacket, MqttClient } from 'mqtt';
import type { MqttSourceConfig } from '../../config/mqtt-schema.js';
import { backoffDelay } from '../../net/retry-policy.js';
import { clientOptionsOf, safeUrl } from './client-options.js';
import { loadMqtt } from './mqtt-package.js';

/** The package's private send, used for the one packet it must not send by itself: a deferred PUBACK. */
type PacketSender = { _sendPacket(packet: object, cb?: () => void, cbStorePut?: () => void, noStore?: boolean): void };

export interface ConnectionEvents {
  /** A PUBLISH from the broker; `callback()` lets the package acknowledge it, `callback(err)` leaves that to us. */
  publish(packet: IPublishPacket, callback: (err?: Error) => void): void;
  /** The connection is gone: PUBACKs owed on it can no longer be sent. */
  lost(): void;
  /** Connected, or not any more (downSince changed). */
  changed(): void;
}

export class BrokerConnection {
  readonly url: string;
  private client: MqttClient | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private closing = false;
  connected = false;
  /** Since when there has been no connection (from the start until the first connect), or null while connected. */
  downSince: number | null = Date.now();
  /** The last error the client reported (a refused connection, bad credentials), for the down reason. */
  lastError: string | null = null;
  /** The subscription stands (made since start, or kept by the broker with the session). */
  subscribedOnce = false;

  constructor(
    private readonly config: MqttSourceConfig,
    private readonly log: Logger,
    private readonly events: ConnectionEvents,
  ) {
    this.url = safeUrl(config.url);
  }

  /**
   * Starts connecting (and retrying); rejects with a ClientOptionsError when a file of the settings
   * cannot be read. The `mqtt` package is loaded here, not with the agent: agents without an mqtt
   * source do not pay for it at start (docs/performance.md, bundle start-up).
   */
  async open(): Promise<void> {
    const options = clientOptionsOf(this.config);
    const { connect } = await loadMqtt();
    if (this.closing) return;
    const client = connect(this.config.url, options);
    this.client = client;
    client.handleMessage = (packet, callback) => this.events.publish(packet, callback);
    client.on('connect', (connack) => this.onConnect(connack));
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.lastError = err.message;
      this.log.warn({ event: 'mqtt_error', url: this.url, err: err.message }, `MQTT: ${err.message}`);
      if (!this.connected) this.events.changed(); // the down reason now names the error
    });
  }

  topicFilters(): string[] {
    return this.config.topics ?? [`spBv1.0/${this.config.sparkplug.group}/#`];
  }

  /** The PUBACK of a message whose readings are committed; nothing when the connection it came on is gone. */
  puback(messageId: number): void {
    if (this.connected && this.client !== null) (this.client as unknown as PacketSender)._sendPacket({ cmd: 'puback', messageId, reasonCode: 0 }, noop, noop, true);
  }

  /** A QoS 0 publish (a Sparkplug rebirth request); nothing while disconnected. */
  publish(topic: string, payload: Buffer): void {
    if (!this.connected || this.client === null) return;
    this.client.publish(topic, payload, { qos: 0 }, (err) => {
      if (err) this.log.warn({ event: 'mqtt_publish_failed', topic, err: err.message }, `cannot publish to ${topic}: ${err.message}`);
    });
  }

  /** Ends the connection (force: at once, without waiting for packets in flight). */
  async close(force: boolean): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (client !== null) await client.endAsync(force).catch(() => undefined);
  }

  private onConnect(connack: IConnackPacket): void {
    this.connected = true;
    this.downSince = null;
    this.lastError = null;
    this.attempt = 0;
    this.events.changed();
    this.log.info({ event: 'mqtt_connected', url: this.url, session_present: connack.sessionPresent }, `connected to ${this.url}`);
    if (connack.sessionPresent && this.subscribedOnce) return;
    const topics = this.topicFilters();
    this.client?.subscribe(topics, { qos: this.config.qos }, (err, granted) => {
      if (err) return void this.log.error({ event: 'mqtt_subscribe_failed', topics, err: err.message }, `cannot subscribe: ${err.message}`);
      const refused = (granted ?? []).filter((g) => g.qos === 128);
      this.subscribedOnce = true;
      if (refused.length > 0) this.log.error({ event: 'mqtt_subscribe_refused', topics: refused.map((g) => g.topic) }, 'the broker refused subscriptions (its ACL?)');
      else this.log.info({ event: 'mqtt_subscribed', topics, qos: this.config.qos }, `subscribed to ${topics.join(', ')}`);
    });
  }

  private onClose(): void {
    this.events.lost();
    if (this.connected) this.log.warn({ event: 'mqtt_disconnected', url: this.url }, `disconnected from ${this.url}`);
    this.connected = false;
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.events.changed();
    }
    if (this.closing || this.reconnectTimer !== null) return;
    const delay = backoffDelay(++this.attempt, { initialDelayMs: this.config.reconnect.initial_delay, maxDelayMs: this.config.reconnect.max_delay });
    this.log.info({ event: 'mqtt_reconnect', attempt: this.attempt, delay_ms: delay }, `reconnecting to ${this.url} in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closing) this.client?.reconnect();
    }, delay);
  }
}

function noop(): void {}
