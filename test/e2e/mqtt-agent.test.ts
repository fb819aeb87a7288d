// QoS 1 exactly once into the outbox across SIGKILLs: the real agent subscribes to a real
// Mosquitto while a publisher streams readings; the agent is killed at random moments mid-stream
// and started again. The broker sends again what was not acknowledged, the agent recognises what
// it had already committed, and the hub ends with every reading, none ingested twice (a repeat
// at the hub is only a batch sent again under its own batch id, as for every source).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { loadSparkplugCodec } from '../../src/sources/mqtt/sparkplug/codec.js';
import { HAS_MOSQUITTO, MOSQUITTO_MISSING, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { prng } from '../helpers/prng.js';
import { jsonlReadings, key, receivedKeys } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let hub: HubEmulator | undefined;
let broker: Mosquitto | undefined;
let pub: MqttClient | undefined;
const running: AgentProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await pub?.endAsync(true);
  await hub?.close();
  await broker?.stop();
});

/** A hub emulator, a broker, and an agent config with one mqtt source on that broker (closed after each test). */
async function hubBrokerAndAgentConfig(source: Record<string, unknown>): Promise<{ hub: HubEmulator; broker: Mosquitto; config: string }> {
  const started = { hub: await createHubEmulator(), broker: await startMosquitto() };
  [hub, broker] = [started.hub, started.broker];
  const dir = tempDir();
  const config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: started.hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ type: 'mqtt', url: started.broker.url, ...source }],
  });
  return { ...started, config };
}

it('delivers every QoS 1 message once across 3 SIGKILLs of the agent mid-stream', async (ctx) => {
  ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
  const seed = Number(process.env.MQTT_CRASH_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  const { hub, broker, config } = await hubBrokerAndAgentConfig({ name: 'plant', client_id: 'agent-crash-test', topics: ['plant/#'], format: 'jsonl', max_inflight: 200 });
  pub = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'crash-publisher' });
  const total = 6000;
  const readings = jsonlReadings(0, total);
  const expected = new Set(readings.map(key));
  let published = 0;
  // The session and its subscription must exist before anything is published (else the broker keeps nothing for it).
  const first = spawnAgent(['run', '--config', config, '--log-level', 'info'], { SENSEYE_TOKEN: hub.token });
  running.push(first);
  await waitFor(() => first.logs().find((l) => l.event === 'mqtt_subscribed'), 'the first agent subscribed');
  // The publisher streams on its own, whatever the agent is doing (the broker queues for it).
  const publishing = (async () => {
    while (published < total) {
      const batch = readings.slice(published, published + 50);
      await Promise.all(batch.map((r) => pub!.publishAsync(`plant/${r.sensor}`, JSON.stringify({ ...r, ts: new Date(r.ts).toISOString() }), { qos: 1 })));
      published += batch.length;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  const kills = 3;
  for (let k = 0; k < kills; k++) {
    const agent = k === 0 ? first : spawnAgent(['run', '--config', config, '--log-level', 'info'], { SENSEYE_TOKEN: hub.token });
    if (k > 0) running.push(agent);
    const before = hub.store.dataPoints.length;
    const progress = 100 + Math.floor(random() * 800);
    await waitFor(() => hub!.store.dataPoints.length >= before + progress || agent.child.exitCode !== null, `progress before kill ${k + 1} (seed ${seed})`, { timeoutMs: 30_000 });
    expect(agent.child.exitCode, agent.stderr()).toBeNull();
    agent.child.kill('SIGKILL');
    await agent.exited;
  }
  await publishing;
  const last = spawnAgent(['run', '--config', config, '--log-level', 'info'], { SENSEYE_TOKEN: hub.token });
  running.push(last);
  await waitFor(() => new Set(receivedKeys(hub!)).size >= expected.size, `every reading after the last restart (seed ${seed})`, { timeoutMs: 60_000 }).catch((err: Error) => {
    const have = new Set(receivedKeys(hub!));
    const missing = [...expected].filter((k) => !have.has(k));
    throw new Error(`${err.message}: ${missing.length} missing, e.g. ${missing.slice(0, 3).join(', ')}; agent: ${last.logs().filter((l) => String(l.event).startsWith('mqtt')).map((l) => JSON.stringify(l)).join('\n')}`);
  });
  last.child.kill('SIGTERM');
  expect((await last.exited).code).toBe(0);

  const received = receivedKeys(hub);
  expect(new Set(received), `seed ${seed} (repeat with MQTT_CRASH_SEED=${seed})`).toEqual(expected);
  // A repeat at the hub must be a batch sent again under its first batch id (delivery's own
  // at-least-once), never a message ingested twice (which would arrive under another batch id).
  const firstBatch = new Map<string, string | null>();
  let ingestedTwice = 0;
  received.forEach((k, i) => {
    const id = hub!.store.dataPoints[i]!.clientMutationId;
    const seen = firstBatch.get(k);
    if (seen === undefined) firstBatch.set(k, id);
    else if (seen !== id) ingestedTwice++;
  });
  const skipped = last.logs().find((l) => l.event === 'mqtt_source_stopped');
  console.log(`mqtt crash test (seed ${seed}): ${total} messages, ${kills} SIGKILLs, ${received.length - expected.size} repeats at the hub, ${ingestedTwice} ingested twice; last run: ${JSON.stringify(skipped)}`);
  expect(ingestedTwice, `seed ${seed}: messages ingested twice`).toBe(0);
}, 150_000);

it('config check connects to the broker with the source\'s credentials and says what it found', async (ctx) => {
  ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
  hub = await createHubEmulator();
  broker = await startMosquitto({ users: { agent: 'right' } });
  const dir = tempDir();
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, await hub.mintToken({ permissions: ['Internal Hub Write', 'Internal Hub Create'] }), { mode: 0o600 });
  const password = (name: string, text: string) => (writeFileSync(path.join(dir, name), `${text}\n`), path.join(dir, name));
  const mqtt = { type: 'mqtt', url: broker.url, client_id: 'agent-check', topics: ['plant/#'], format: 'jsonl', username: 'agent' };
  const config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    hub: { token_file: tokenFile },
    sources: [
      { ...mqtt, name: 'good', password_file: password('right', 'right') },
      { ...mqtt, name: 'wrong-password', password_file: password('wrong', 'wrong') },
      { ...mqtt, name: 'nobody-there', url: 'mqtt://127.0.0.1:1', password_file: password('right2', 'right') },
    ],
  });
  const r = await runAgentCommand(['config', 'check', '--config', config]);
  expect(r.code, r.stdout + r.stderr).toBe(78);
  expect(r.stdout).toContain(`ok       sources[0] (good): connected to ${broker.url} (MQTT 5`);
  expect(r.stdout).toContain('ok       sources[0] (good): subscribed to plant/#; nothing published there in 1000 ms');
  expect(r.stdout).toMatch(/PROBLEM  sources\[1\] \(wrong-password\): cannot connect to .*Not authorized/);
  expect(r.stdout).toMatch(/PROBLEM  sources\[2\] \(nobody-there\): cannot connect to mqtt:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
  expect(r.stdout).toContain('2 problems');
});

it('delivers Sparkplug B metrics through the built agent, with their own timestamps', async (ctx) => {
  ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
  const { hub, broker, config } = await hubBrokerAndAgentConfig({ name: 'spb', client_id: 'agent-spb-e2e', format: 'sparkplug-b', sparkplug: { group: 'g1' } });
  const agent = spawnAgent(['run', '--config', config, '--log-level', 'info'], { SENSEYE_TOKEN: hub.token });
  running.push(agent);
  await waitFor(() => agent.logs().find((l) => l.event === 'mqtt_subscribed'), 'the agent subscribed');
  const codec = await loadSparkplugCodec();
  pub = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'edge-e2e' });
  const t = Date.UTC(2026, 10, 27, 8);
  await pub.publishAsync('spBv1.0/g1/NBIRTH/edge-7', codec.encode({ timestamp: t, seq: 0, metrics: [{ name: 'temperature', alias: 1, timestamp: t, datatype: 10, doubleValue: 20 }] }), { qos: 1 });
  await pub.publishAsync('spBv1.0/g1/NDATA/edge-7', codec.encode({ timestamp: t + 1000, seq: 1, metrics: [{ alias: 1, timestamp: t + 500, doubleValue: 21.5 }] }), { qos: 1 });
  await waitFor(() => receivedKeys(hub!).length >= 2, 'two readings at the hub');
  expect(receivedKeys(hub).sort()).toEqual([`g1/edge-7|temperature|${new Date(t).toISOString()}|20`, `g1/edge-7|temperature|${new Date(t + 500).toISOString()}|21.5`]);
  agent.child.kill('SIGTERM');
  expect((await agent.exited).code).toBe(0);
});

it('says on /readyz, in its metrics and in status that an mqtt source is down while its broker cannot be reached', async () => {
  const emulator = await createHubEmulator();
  hub = emulator;
  const dir = tempDir();
  const url = 'mqtt://127.0.0.1:1'; // nothing listens there
  const config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: emulator.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ name: 'plant', type: 'mqtt', url, client_id: 'agent-down', topics: ['plant/#'], format: 'jsonl', reconnect: { initial_delay: '100ms', max_delay: '500ms' } }],
    extra: { http: { listen: '127.0.0.1:0' }, supervision: { unready_after: '1s' } },
  });
  const agent = spawnAgent(['run', '--config', config, '--log-level', 'info'], { SENSEYE_TOKEN: emulator.token });
  running.push(agent);
  const listening = await waitFor(() => agent.logs().find((l) => l.event === 'http_listening'), 'the health endpoint');
  const base = String(listening.url);
  const reason = await waitFor(async () => {
    const res = await fetch(`${base}/readyz`);
    const body = (await res.json()) as { reasons: Array<{ check: string; reason: string }> };
    return res.status === 503 ? body.reasons.find((r) => r.check === 'sources')?.reason : undefined;
  }, '/readyz 503 naming the source');
  expect(reason).toMatch(/^source plant down since \S+ \(0 restarts\): not connected to mqtt:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics).toContain('senseye_agent_source_up{source="plant"} 0');
  const status = await runAgentCommand(['status', '--config', config]);
  expect(status.stdout).toMatch(/source down\s+plant since \S+ \(0 restarts, not receiving\): not connected to mqtt:\/\/127\.0\.0\.1:1/);
});
