/**
 * Benchmark 10: MQTT ingest through Mosquitto. A publisher (MQTT 3.1.1, QoS 1, up to 1,000
 * publishes outstanding) sends N messages to a real broker; the agent's `mqtt` source takes them
 * at QoS 1 (each acknowledged after its commit) and delivers to the emulator. Two payloads: one
 * reading per message (messages/s) and a JSON list of 10 readings per message (readings/s).
 * Fluent Bit has no MQTT input and Telegraf is not packaged here, so the yardstick is the broker
 * itself: the same messages published to a plain mqtt.js subscriber at QoS 1 that acknowledges
 * at once (what the broker and the client library manage without any storage).
 * Timed from the first publish to the end of the last accepted hub request; CPU per reading is
 * the agent's own CPU time (its rusage) over the readings.
 */
import { connectAsync } from 'mqtt';
import { jsonlLine } from './lib/data.js';
import { startEmulator } from './lib/emulator.js';
import { acceptedWindow, agentConfig, agentUsage, cpuSeconds, E2E_SHAPE, spawnAgentRun, waitAccepted } from './lib/hub-run.js';
import { MOSQUITTO, startMosquitto } from './lib/mosquitto.js';
import { withScope } from './lib/scope.js';
import { waitFor } from './lib/timing.js';

export const name = 'mqtt';
export const title = '10. MQTT ingest: publisher → Mosquitto → agent (QoS 1, acknowledged after commit) → emulator';
export const bounds =
  'The agent\'s main thread (MQTT packet handling, parse, commit, PUBACKs after the commit) and the broker, ' +
  'which share 2 cores with the publisher and the emulator.';

const WINDOW = 1000;

/** Publishes `payloads` (topic, text) at QoS 1 with up to WINDOW outstanding; resolves when all are acknowledged by the broker. */
async function publishAll(url, payloads) {
  const pub = await connectAsync(url, { protocolVersion: 4, clientId: `bench-pub-${process.pid}-${Date.now()}` });
  try {
    let next = 0;
    const worker = async () => {
      while (next < payloads.length) {
        const [topic, text] = payloads[next++];
        await pub.publishAsync(topic, text, { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
  } finally {
    await pub.endAsync();
  }
}

function buildPayloads(messages, perMessage) {
  const out = new Array(messages);
  for (let m = 0; m < messages; m++) {
    const lines = [];
    for (let k = 0; k < perMessage; k++) lines.push(jsonlLine(m * perMessage + k, E2E_SHAPE));
    out[m] = [`bench/line-${m % 8}`, perMessage === 1 ? lines[0] : `[${lines.join(',')}]`];
  }
  return out;
}

/** The broker alone: a subscriber that acknowledges at once. */
async function brokerOnly(payloads, log) {
  return withScope(async (scope) => {
    const broker = await startMosquitto(scope);
    const sub = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-sub', clean: true });
    let got = 0;
    sub.on('message', () => got++);
    await sub.subscribeAsync('bench/#', { qos: 1 });
    const t0 = Date.now();
    await publishAll(broker.url, payloads);
    await waitFor(() => got >= payloads.length, { what: 'the plain subscriber to receive every message', timeoutMs: 120_000, intervalMs: 20 });
    const seconds = (Date.now() - t0) / 1000;
    await sub.endAsync();
    log(`    broker alone: ${Math.round(payloads.length / seconds).toLocaleString('en-US')} messages/s`);
    return payloads.length / seconds;
  });
}

async function throughAgent(payloads, readings, log) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const broker = await startMosquitto(scope);
    const emu = await startEmulator(scope);
    const emuCpu0 = cpuSeconds(emu.pid);
    const brokerCpu0 = cpuSeconds(broker.pid);
    const source = { name: 'bench-mqtt', type: 'mqtt', url: broker.url, client_id: 'bench-agent', topics: ['bench/#'], format: 'jsonl' };
    const config = agentConfig(dir, emu, [source], { hub: { batch: { max_wait: '100ms' } } });
    const agent = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false });
    await agent.waitEvent('mqtt_subscribed', 30_000);
    const t0 = Date.now();
    await publishAll(broker.url, payloads);
    const publishedAt = Date.now();
    await waitAccepted(emu, readings, agent);
    const snap = await emu.snapshot();
    const emuCpu = cpuSeconds(emu.pid) - emuCpu0;
    const brokerCpu = cpuSeconds(broker.pid) - brokerCpu0;
    const exit = await agent.stop(20_000);
    if (exit.code !== 0) throw new Error(`the agent did not stop cleanly (${agent.diagnosis()})`);
    const c = snap.counters;
    if (c.datapointsAccepted - c.overwrites !== readings) throw new Error(`the hub holds ${c.datapointsAccepted - c.overwrites} distinct readings, expected ${readings}`);
    const w = acceptedWindow(snap.requests);
    const seconds = (w.lastFinishedAt - t0) / 1000;
    const usage = agentUsage(agent);
    const r = { messages: payloads.length / seconds, readings: readings / seconds, seconds, published: (publishedAt - t0) / 1000, agentCpu: usage.cpuSeconds, cpuUsPerReading: (usage.cpuSeconds * 1e6) / readings, emuCpu, brokerCpu, peakRssMiB: usage.peakRssKiB / 1024 };
    log(`    ${Math.round(r.messages).toLocaleString('en-US')} messages/s, ${Math.round(r.readings).toLocaleString('en-US')} readings/s (${seconds.toFixed(1)} s); agent CPU ${r.agentCpu.toFixed(1)} s (${r.cpuUsPerReading.toFixed(1)} µs/reading); broker CPU ${brokerCpu.toFixed(1)} s; peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
    return r;
  });
}

export async function run(ctx) {
  if (MOSQUITTO === null) return { figures: [], notes: ['mosquitto is not installed (Debian package "mosquitto"): skipped'], method: 'needs mosquitto' };
  const messages = ctx.smoke ? 2_000 : ctx.quick ? 20_000 : 200_000;
  const runs = ctx.smoke ? 1 : 3;
  const single = buildPayloads(messages, 1);
  const lists = buildPayloads(messages / 10, 10);
  ctx.log(`  ${messages.toLocaleString('en-US')} messages of 1 reading, and ${(messages / 10).toLocaleString('en-US')} messages of 10; ${runs} runs each`);
  const broker = [];
  const one = [];
  const ten = [];
  for (let i = 0; i < runs; i++) {
    broker.push(await brokerOnly(single, ctx.log));
    one.push(await throughAgent(single, messages, ctx.log));
    ten.push(await throughAgent(lists, messages, ctx.log));
  }
  const med = (list, k) => list.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return {
    figures: [
      { key: 'broker', label: 'Mosquitto alone (publisher → plain QoS 1 subscriber)', unit: 'messages/s', values: broker, target: null },
      {
        key: 'messages',
        label: 'MQTT → agent → hub, 1 reading per message',
        unit: 'messages/s',
        values: one.map((r) => r.messages),
        target: null,
        extra: `agent CPU ${med(one, 'cpuUsPerReading').toFixed(1)} µs per reading; broker CPU ${med(one, 'brokerCpu').toFixed(1)} s; emulator CPU ${med(one, 'emuCpu').toFixed(1)} s; peak agent RSS ${med(one, 'peakRssMiB').toFixed(0)} MiB`,
      },
      {
        key: 'readings',
        label: 'MQTT → agent → hub, 10 readings per message (JSON list)',
        unit: 'readings/s',
        values: ten.map((r) => r.readings),
        target: null,
        extra: `${Math.round(med(ten, 'messages')).toLocaleString('en-US')} messages/s; agent CPU ${med(ten, 'cpuUsPerReading').toFixed(1)} µs per reading; peak agent RSS ${med(ten, 'peakRssMiB').toFixed(0)} MiB`,
      },
    ],
    method:
      `${messages.toLocaleString('en-US')} messages published at QoS 1 by one MQTT 3.1.1 client (up to ${WINDOW} unacknowledged) to Mosquitto on 127.0.0.1; ` +
      'the agent subscribes at QoS 1 with defaults (max_inflight 1000, persistent session) except hub.batch.max_wait 100ms; fresh broker, emulator and state per run; ' +
      'timed from the first publish to the end of the last accepted hub request; the baseline is the same publisher into a plain mqtt.js subscriber acknowledging at once. ' +
      `Median of ${runs} runs. Fluent Bit has no MQTT input and Telegraf is not packaged for this machine, so the broker's own rate is the yardstick.`,
  };
}
