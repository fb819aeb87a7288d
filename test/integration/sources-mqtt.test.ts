// The mqtt source against a real Mosquitto on 127.0.0.1: topic mapping, bad payloads
// dead-lettered, QoS 1 acknowledged only after commit (a crash before it brings the messages
// back, after it does not), TLS with a password file, a broker restart, ws:// and wss:// (through
// test/helpers/mqtt-ws-bridge.ts: this mosquitto cannot listen on WebSockets itself), and a
// 100,000-message burst.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { mqttSource, type MqttSourceConfig } from '../../src/config/mqtt-schema.js';
import { probeBroker } from '../../src/sources/mqtt/broker-probe.js';
import { MqttSource } from '../../src/sources/mqtt/mqtt-source.js';
import { SupervisedSource, type SourceHealth } from '../../src/sources/supervised-source.js';
import type { FileCheckpoint } from '../../src/outbox/types.js';
import { parseChunk } from '../../src/pipeline/parse-chunk.js';
import { parserOptionsOf } from '../../src/sources/parser-options.js';
import { HAS_MOSQUITTO, makeCertificates, MOSQUITTO_MISSING, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startMqttWsBridge, type MqttWsBridge } from '../helpers/mqtt-ws-bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness, quietLogger } from './sources-harness.js';

const brokers: Mosquitto[] = [];
const clients: MqttClient[] = [];
const harnesses: Harness[] = [];
const bridges: MqttWsBridge[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) h.crash();
  for (const c of clients.splice(0)) await c.endAsync(true);
  for (const w of bridges.splice(0)) await w.stop();
  for (const b of brokers.splice(0)) await b.stop();
});

async function broker(options?: Parameters<typeof startMosquitto>[0]): Promise<Mosquitto> {
  const b = await startMosquitto(options);
  brokers.push(b);
  return b;
}

async function publisher(url: string, extra: Record<string, unknown> = {}): Promise<MqttClient> {
  // MQTT 3.1.1: no Receive Maximum from the broker caps the publisher's own window.
  const c = await connectAsync(url, { protocolVersion: 4, clientId: `pub-${Math.random().toString(16).slice(2)}`, ...extra });
  clients.push(c);
  return c;
}

function configOf(raw: Record<string, unknown>): MqttSourceConfig {
  return mqttSource.parse({ name: 'plant', type: 'mqtt', client_id: 'agent-test', reconnect: { initial_delay: '50ms', max_delay: '200ms' }, ...raw });
}

function startSource(h: Harness, config: MqttSourceConfig): MqttSource {
  const source = new MqttSource(config, { lane: 0, logger: quietLogger, parserOptions: parserOptionsOf(config), checkpoints: h.savedCheckpoints() });
  h.start(source);
  return source;
}

function newHarness(): Harness {
  const h = new Harness();
  harnesses.push(h);
  return h;
}

describe('mqtt source', () => {
  it('maps topic levels to sensor and measure, takes objects, lists and bare values, and dead-letters bad payloads with their topic', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    const source = startSource(h, configOf({ url: b.url, topics: ['plant/#'], format: 'jsonl', topic_pattern: 'plant/+line/+machine/+measure', sensor_from_topic: '{line}-{machine}', measure_from_topic: '{measure}' }));
    await waitFor(() => source.connected, 'the source connected');
    const pub = await publisher(b.url);
    await waitFor(() => source.subscribedOnce, 'the subscription');
    await pub.publishAsync('plant/l1/press/temperature', '21.5', { qos: 1 });
    await pub.publishAsync('plant/l1/press/pressure', '{"ts":"2026-11-01T10:00:00Z","value":3}', { qos: 1 });
    await pub.publishAsync('plant/l2/drill/rpm', '[{"ts":1700000000000,"value":1},{"ts":1700000001000,"value":2}]', { qos: 1 });
    await pub.publishAsync('plant/l2/drill/rpm', 'not json at all', { qos: 1 });
    await pub.publishAsync('plant/too/short', '1', { qos: 1 });
    await pub.publishAsync('plant/l2/drill/rpm', Buffer.from([0xff, 0xfe, 0x00]), { qos: 1 });
    await waitFor(() => h.readings.length === 4 && h.dead.length === 3, `4 readings and 3 dead letters (have ${h.readings.length}, ${h.dead.length})`);
    expect(h.readings.map((r) => `${r.sensor}/${r.measure}=${String(r.value)}`).sort()).toEqual(['l1-press/pressure=3', 'l1-press/temperature=21.5', 'l2-drill/rpm=1', 'l2-drill/rpm=2']);
    expect(h.readings.find((r) => r.measure === 'pressure')!.ts).toBe(Date.parse('2026-11-01T10:00:00Z'));
    // One chunk per topic within a batch: dead letters of different topics may come in either order.
    const dead = [...h.dead].sort((a, b) => String(a.raw).localeCompare(String(b.raw)));
    expect(dead.map((d) => [d.origin, d.raw])).toEqual([
      ['plant/too/short', '1'],
      ['plant/l2/drill/rpm', 'base64://4A'],
      ['plant/l2/drill/rpm', 'not json at all'],
    ]);
    expect(dead[0]!.reason).toMatch(/does not fit topic_pattern/);
    expect(dead[1]!.reason).toMatch(/invalid UTF-8/);
    expect(dead[2]!.reason).toMatch(/not valid JSON/);
  });

  it('dead-letters a message over max_message_bytes with its size and head, unread, and goes on', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    const source = startSource(h, configOf({ url: b.url, topics: ['big/#'], format: 'jsonl', sensor: 'big', max_message_bytes: '2KiB' }));
    await waitFor(() => source.subscribedOnce, 'the subscription');
    const pub = await publisher(b.url);
    const list = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ measure: 'n', ts: 1_700_000_000_000 + i, value: i })));
    const huge = list(3000); // ~150 KB of valid readings
    await pub.publishAsync('big/a', huge, { qos: 1 });
    await pub.publishAsync('big/a', list(3), { qos: 1 });
    await waitFor(() => h.dead.length === 1 && h.readings.length === 3, `1 dead letter and the next message's 3 readings (have ${h.dead.length}, ${h.readings.length})`);
    expect(h.dead[0]!.origin).toBe('big/a');
    expect(h.dead[0]!.reason).toBe(`message of ${Buffer.byteLength(huge)} bytes, over max_message_bytes (2048): not read`);
    expect(huge.startsWith(String(h.dead[0]!.raw))).toBe(true);
    expect(String(h.dead[0]!.raw).length).toBeLessThanOrEqual(2048);
    await h.stop();
  });

  it.for([5, 4] as const)('acknowledges a QoS 1 message only after its commit: a crash before it brings the message back, after it does not (MQTT protocol %i)', async (version, ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    const config = configOf({ url: b.url, topics: ['m/#'], format: 'jsonl', sensor: 'm1', protocol_version: version });
    let source = startSource(h, config);
    await waitFor(() => source.subscribedOnce, 'the subscription');
    const pub = await publisher(b.url);
    const line = (i: number) => JSON.stringify({ measure: 'n', ts: 1_700_000_000_000 + i, value: i });
    for (let i = 0; i < 10; i++) await pub.publishAsync('m/a', line(i), { qos: 1 });
    await waitFor(() => h.readings.length === 10, 'the first 10 committed');
    // Not committed: held, never acknowledged.
    h.autoCommit = false;
    for (let i = 10; i < 20; i++) await pub.publishAsync('m/a', line(i), { qos: 1 });
    await waitFor(() => source.messages === 20 && h.uncommitted > 0, 'messages 10..19 taken, not committed');
    h.crash();
    h.autoCommit = true;
    source = startSource(h, config);
    await waitFor(() => h.readings.length === 20, `the 10 uncommitted ones sent again (have ${h.readings.length})`);
    // Published while the agent was away: kept by the broker for the persistent session.
    await pub.publishAsync('m/a', line(20), { qos: 1 });
    await waitFor(() => h.readings.length === 21, 'the next one');
    await h.stop();
    expect(h.readings.map((r) => r.value)).toEqual([...Array(21).keys()]);
    // A clean stop acknowledged everything: nothing comes again.
    source = startSource(h, config);
    await waitFor(() => source.connected, 'reconnected');
    await pub.publishAsync('m/a', line(21), { qos: 1 });
    await waitFor(() => h.readings.length === 22, 'the last one');
    expect(h.readings.map((r) => r.value)).toEqual([...Array(22).keys()]);
  });

  it('recognises a redelivery of messages committed before the agent died without acknowledging them', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const config = configOf({ url: b.url, topics: ['r/#'], format: 'jsonl', sensor: 'r' });
    // First life: every chunk is committed (readings and the source's position row kept) but the
    // process "dies" before any acknowledgement: ack() is never called.
    const first = new MqttSource(config, { lane: 0, logger: quietLogger, parserOptions: parserOptionsOf(config), checkpoints: [], maxInFlight: 100 });
    const kept: Array<{ value: unknown }> = [];
    let position: FileCheckpoint | undefined;
    const subscription = first.chunks$.subscribe((chunk) => {
      const { batch } = parseChunk(chunk);
      kept.push(...batch.readings);
      position = batch.checkpoint ?? position;
    });
    await waitFor(() => first.subscribedOnce, 'the first subscription');
    const pub = await publisher(b.url);
    for (let i = 0; i < 10; i++) await pub.publishAsync('r/a', `{"measure":"n","ts":${1_700_000_000_000 + i},"value":${i}}`, { qos: 1 });
    await waitFor(() => kept.length === 10, 'the 10 committed, none acknowledged');
    subscription.unsubscribe();
    // Second life, from what was committed: the broker sends the 10 again (DUP); none is ingested twice.
    const h = newHarness();
    h.checkpoints.set(position!.fileKey, position!);
    const second = startSource(h, config);
    await waitFor(() => second.redeliveriesSkipped === 10, `the 10 redeliveries recognised (${second.redeliveriesSkipped})`);
    await pub.publishAsync('r/a', '{"measure":"n","ts":1700000000010,"value":10}', { qos: 1 });
    await waitFor(() => h.readings.length === 1, 'the next message');
    expect(h.readings.map((r) => r.value)).toEqual([10]);
  });

  it('holds at most max_inflight messages unacknowledged while nothing commits: the broker keeps the rest', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    const source = startSource(h, configOf({ url: b.url, topics: ['q/#'], format: 'jsonl', sensor: 'q', max_inflight: 5 }));
    await waitFor(() => source.subscribedOnce, 'the subscription');
    h.autoCommit = false; // an outbox that refuses writes (full, when_full: block)
    const pub = await publisher(b.url);
    for (let i = 0; i < 50; i++) await pub.publishAsync('q/a', `{"measure":"n","ts":${1_700_000_000_000 + i},"value":${i}}`, { qos: 1 });
    // A QoS 0 marker is not held by the inflight window: it overtakes the 45 held QoS 1 messages, so
    // when it arrives the broker has sent all it was going to send, and the source has taken 5 of the 50.
    await pub.publishAsync('q/marker', '{"measure":"m","ts":1700000000000,"value":0}', { qos: 0 });
    await waitFor(() => h.uncommitted > 0 && source.messages >= 6, 'the marker');
    expect(source.messages).toBe(6);
    h.autoCommit = true;
    h.commit();
    await waitFor(() => h.readings.length === 51, `all 50 and the marker once the outbox takes them again (have ${h.readings.length})`);
    expect(h.readings.filter((r) => r.measure === 'n').map((r) => r.value)).toEqual([...Array(50).keys()]);
  });

  it('holds QoS 0 messages up to max_pending_messages while nothing commits, and counts what it drops beyond', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    h.autoCommit = false;
    const config = configOf({ url: b.url, topics: ['z/#'], format: 'jsonl', sensor: 'z', qos: 0, max_pending_messages: 3 });
    const source = new MqttSource(config, { lane: 0, logger: quietLogger, parserOptions: parserOptionsOf(config), checkpoints: [], maxInFlight: 1 });
    h.start(source);
    await waitFor(() => source.subscribedOnce, 'the subscription');
    const pub = await publisher(b.url);
    const line = (i: number) => `{"measure":"n","ts":${1_700_000_000_000 + i},"value":${i}}`;
    await pub.publishAsync('z/a', line(0), { qos: 0 });
    await waitFor(() => h.uncommitted === 1, 'the first message handed on (its one slot taken)');
    for (let i = 1; i < 10; i++) await pub.publishAsync('z/a', line(i), { qos: 0 });
    await waitFor(() => source.messages + source.droppedTotal === 10, `all 10 arrived (${source.messages} taken, ${source.droppedTotal} dropped)`);
    expect(source.drops()).toEqual({ kernel: null, backlog: 6 });
    h.autoCommit = true;
    h.commit();
    await waitFor(() => h.readings.length === 4, 'the 4 held');
    expect(h.readings.map((r) => r.value)).toEqual([0, 1, 2, 3]);
  });

  it('refuses to start when its password file cannot be read, naming the setting', async () => {
    const h = newHarness();
    const source = startSource(h, configOf({ url: 'mqtt://127.0.0.1:1', topics: ['a'], format: 'jsonl', username: 'u', password_file: '/nonexistent/password' }));
    await expect(source.whenStarted()).rejects.toThrow(/cannot read the password file \/nonexistent\/password: ENOENT \(check `password_file`\)/);
  });

  it('connects over TLS with a password file and carries on across a broker restart', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker({ tls: true, users: { agent: 's3cret pass', pub: 'pub' } });
    const dir = tempDir();
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, 's3cret pass\n');
    const h = newHarness();
    const source = startSource(h, configOf({ url: `mqtts://localhost:${b.port}`, topics: ['t/#'], format: 'influx', username: 'agent', password_file: passwordFile, tls: { ca: b.caFile } }));
    await waitFor(() => source.subscribedOnce, 'subscribed over TLS');
    const pub = await publisher(`mqtts://localhost:${b.port}`, { username: 'pub', password: 'pub', ca: readFileSync(b.caFile!), reconnectPeriod: 100 });
    await pub.publishAsync('t/x', 'env,sensor=room temp=21 1700000000000000000', { qos: 1 });
    await waitFor(() => h.readings.length === 1, 'one reading over TLS');
    await b.restart();
    await waitFor(() => source.connected && pub.connected, 'both reconnected after the broker restart', { timeoutMs: 15_000 });
    await pub.publishAsync('t/x', 'env,sensor=room temp=22 1700000001000000000', { qos: 1 });
    await waitFor(() => h.readings.length === 2, 'the reading after the restart');
    expect(h.readings.map((r) => r.value)).toEqual([21, 22]);
    expect(h.dead).toEqual([]);
  });

  it('counts as down while the broker cannot be reached (supervision: source_up, /readyz, status), and up again once it can', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    const config = configOf({ url: b.url, topics: ['d/#'], format: 'jsonl', sensor: 'd' });
    const reported: SourceHealth[] = [];
    const supervised = new SupervisedSource('plant', () => new MqttSource(config, { lane: 0, logger: quietLogger, parserOptions: parserOptionsOf(config), checkpoints: [] }), {
      logger: quietLogger,
      settle: async () => undefined,
      onHealth: (health) => reported.push(health),
      backoff: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    h.start(supervised);
    await waitFor(() => supervised.health().state === 'running', 'connected: running');
    await b.stop();
    await waitFor(() => supervised.health().state === 'not receiving', 'down while the broker is away');
    // The reconnects that follow are refused: the reason says so, and the change is reported.
    await waitFor(() => {
      const last = reported.at(-1);
      return last?.state === 'not receiving' && last.reason.startsWith(`not connected to ${b.url}: `) && last.reason.includes('ECONNREFUSED');
    }, 'the refused reconnect reported as the reason');
    await b.start();
    await waitFor(() => supervised.health().state === 'running', 'up again once the broker is back', { timeoutMs: 15_000 });
    expect(reported.at(-1)?.state).toBe('running');
    expect(supervised.health().restarts, 'a lost broker is not a failure: no restart').toBe(0);
  });

  it('takes a DUP of a message still waiting in its queue (the broker resent it after a reconnect while nothing committed) once', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    h.autoCommit = false; // the outbox holds: the in-flight limit fills and the rest waits in the queue
    const source = startSource(h, configOf({ url: b.url, topics: ['q/#'], format: 'jsonl', sensor: 'q' }));
    await waitFor(() => source.subscribedOnce, 'the subscription');
    const pub = await publisher(b.url);
    const total = 40;
    const send = (i: number) => pub.publishAsync('q/a', JSON.stringify({ measure: 'n', ts: 1_700_000_000_000 + i, value: i }), { qos: 1 });
    // One message per batch until the 4 in-flight slots are taken: then the others wait in the queue.
    for (let i = 0; i < 4; i++) {
      await send(i);
      await waitFor(() => h.uncommitted === i + 1, `batch ${i + 1} handed on`);
    }
    for (let i = 4; i < total; i++) await send(i);
    await waitFor(() => source.messages === total, 'all taken, 36 of them waiting in the queue');
    expect(h.uncommitted, 'nothing more handed on: the slots are full').toBe(4);
    await b.restart(); // the broker keeps the session and sends the unacknowledged ones again, as DUP
    await waitFor(() => source.connected && source.redeliveriesSkipped === total, `every one sent again and recognised (${source.redeliveriesSkipped} of ${total})`, { timeoutMs: 15_000 });
    h.autoCommit = true;
    h.commit();
    await waitFor(() => h.readings.length >= total && source.isCaughtUp(), 'everything committed');
    expect(h.readings.map((r) => r.value)).toEqual([...Array(total).keys()]);
  });

  it.for(['ws', 'wss'] as const)('over %s:// (a WebSocket bridge to the broker): QoS 1 messages arrive once, and those not committed before a crash come back', async (scheme, ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    // wss: the certificate names broker.plant.test only, so the source must check it against
    // tls.server_name, not the URL's host (127.0.0.1).
    const certs = scheme === 'wss' ? makeCertificates(tempDir(), ['DNS:broker.plant.test']) : undefined;
    const bridge = await startMqttWsBridge(b.port, { tls: certs });
    bridges.push(bridge);
    expect(bridge.url).toMatch(new RegExp(`^${scheme}://127\\.0\\.0\\.1:\\d+/mqtt$`));
    const tls = certs && { ca: certs.ca, server_name: 'broker.plant.test' };
    const config = configOf({ url: bridge.url, topics: ['w/#'], format: 'jsonl', sensor: 'w', tls });
    if (tls !== undefined) {
      const refused = await probeBroker({ ...config, tls: { ca: tls.ca } }, 0);
      expect(refused.lines.join('\n'), 'without the server name the certificate is refused').toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
    }
    const h = newHarness();
    let source = startSource(h, config);
    await waitFor(() => source.subscribedOnce, `subscribed over ${scheme}://`);
    expect(bridge.open).toBe(1);
    const pub = await publisher(b.url); // plain TCP, straight to the broker
    const line = (i: number) => `{"measure":"n","ts":${1_700_000_000_000 + i},"value":${i}}`;
    for (let i = 0; i < 5; i++) await pub.publishAsync('w/a', line(i), { qos: 1 });
    await waitFor(() => h.readings.length === 5, 'the first 5 committed');
    h.autoCommit = false;
    for (let i = 5; i < 10; i++) await pub.publishAsync('w/a', line(i), { qos: 1 });
    await waitFor(() => source.messages === 10 && h.uncommitted > 0, 'messages 5..9 taken, not committed');
    h.crash();
    await waitFor(() => bridge.open === 0, 'the crashed source disconnected through the bridge');
    h.autoCommit = true;
    source = startSource(h, config);
    await waitFor(() => h.readings.length === 10, `the 5 uncommitted ones sent again (have ${h.readings.length})`);
    expect(h.readings.map((r) => r.value)).toEqual([...Array(10).keys()]);
    // The PUBACKs of the first 5 went through the bridge: the broker did not send them again.
    expect(source.redeliveriesSkipped).toBe(0);
    expect(bridge.connections).toBe(2);
  });

  it('takes a burst of 100,000 QoS 1 messages, each once', async (ctx) => {
    ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
    const b = await broker();
    const h = newHarness();
    const source = startSource(h, configOf({ url: b.url, topics: ['burst/#'], format: 'jsonl', sensor: 'b' }));
    await waitFor(() => source.subscribedOnce, 'the subscription');
    const pub = await publisher(b.url);
    const n = 100_000;
    const started = Date.now();
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      sends.push(pub.publishAsync(`burst/${i % 10}`, `{"measure":"n","ts":${1_700_000_000_000 + i},"value":${i}}`, { qos: 1 }));
      if (sends.length >= 2000) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
    await waitFor(() => h.readings.length >= n, `all ${n} readings (have ${h.readings.length})`, { timeoutMs: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`mqtt burst: ${n} messages in ${seconds.toFixed(1)} s (${Math.round(n / seconds)} msg/s)`);
    expect(h.readings.length).toBe(n);
    expect(new Set(h.readings.map((r) => r.value)).size).toBe(n);
  }, 90_000);
});
