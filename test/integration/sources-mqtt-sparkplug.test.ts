// Sparkplug B through a real Mosquitto: births define names and aliases, data by name or alias
// with the metrics' own timestamps, deaths logged, and data before a birth dead-lettered with a
// rebirth request (NCMD Node Control/Rebirth) that the edge node receives.
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { mqttSource } from '../../src/config/mqtt-schema.js';
import { MqttSource } from '../../src/sources/mqtt/mqtt-source.js';
import { loadSparkplugCodec } from '../../src/sources/mqtt/sparkplug/codec.js';
import { parserOptionsOf } from '../../src/sources/parser-options.js';
import { HAS_MOSQUITTO, MOSQUITTO_MISSING, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { Harness, quietLogger } from './sources-harness.js';

let broker: Mosquitto | undefined;
let edge: MqttClient | undefined;
const harness = new Harness();
afterEach(async () => {
  harness.crash();
  await edge?.endAsync(true);
  await broker?.stop();
});

it('reads births, data by name and alias, deaths, and asks for a rebirth when data comes first', async (ctx) => {
  ctx.skip(!HAS_MOSQUITTO, MOSQUITTO_MISSING);
  broker = await startMosquitto();
  const config = mqttSource.parse({ name: 'spb', type: 'mqtt', url: broker.url, client_id: 'agent-spb', format: 'sparkplug-b', sparkplug: { group: 'plant1' } });
  const source = new MqttSource(config, { lane: 0, logger: quietLogger, parserOptions: parserOptionsOf(config), checkpoints: [] });
  harness.start(source);
  await waitFor(() => source.subscribedOnce, 'the subscription');
  edge = await connectAsync(broker.url, { clientId: 'edge-1', protocolVersion: 4 });
  const commands: Array<{ topic: string; metrics: unknown }> = [];
  const codec = await loadSparkplugCodec();
  edge.on('message', (topic, payload) => {
    const d = codec.decode(payload);
    if (d.ok) commands.push({ topic, metrics: d.payload.metrics.map((m) => ({ name: m.name, value: m.booleanValue })) });
  });
  await edge.subscribeAsync('spBv1.0/plant1/NCMD/edge-1', { qos: 0 });
  const t = 1_764_000_000_000;
  const pub = (type: string, metrics: Array<Record<string, unknown>>, device?: string) =>
    edge!.publishAsync(`spBv1.0/plant1/${type}/edge-1${device === undefined ? '' : `/${device}`}`, codec.encode({ timestamp: t, seq: 0, metrics }), { qos: 1 });

  // Data before any birth: dead-lettered, and the node is asked to rebirth.
  await pub('NDATA', [{ alias: 1, timestamp: t, doubleValue: 1.5 }]);
  await waitFor(() => harness.dead.length === 1 && commands.length === 1, 'the dead letter and the rebirth request');
  expect(harness.dead[0]!.reason).toMatch(/NDATA from plant1\/edge-1 before its NBIRTH.*rebirth requested/);
  expect(harness.dead[0]!.origin).toBe('spBv1.0/plant1/NDATA/edge-1');
  expect(commands[0]).toEqual({ topic: 'spBv1.0/plant1/NCMD/edge-1', metrics: [{ name: 'Node Control/Rebirth', value: true }] });

  // The rebirth: names, aliases, datatypes and current values.
  await pub('NBIRTH', [
    { name: 'temperature', alias: 1, timestamp: t + 1, datatype: 10, doubleValue: 20.5 },
    { name: 'count', alias: 2, timestamp: t + 1, datatype: 4, longValue: -3 },
  ]);
  await pub('DBIRTH', [{ name: 'rpm', alias: 7, timestamp: t + 2, datatype: 3, intValue: 1200 }], 'spindle');
  await pub('NDATA', [{ alias: 1, timestamp: t + 3, doubleValue: 21.25 }, { name: 'count', timestamp: t + 4, longValue: 5 }]);
  await pub('DDATA', [{ alias: 7, timestamp: t + 5, intValue: 4294967295 }, { alias: 99, timestamp: t + 5, intValue: 1 }], 'spindle');
  await pub('DDEATH', [], 'spindle');
  await pub('DDATA', [{ alias: 7, timestamp: t + 6, intValue: 1 }], 'spindle');
  await pub('NDEATH', []);
  await waitFor(() => harness.readings.length === 6 && harness.dead.length === 3, `6 readings and 3 dead letters (have ${JSON.stringify(harness.readings)}, ${JSON.stringify(harness.dead)}, chunks ${harness.chunks}, uncommitted ${harness.uncommitted}, messages ${source.messages})`);
  expect(harness.readings.map((r) => `${r.sensor} ${r.measure} ${r.ts - t} ${String(r.value)}`)).toEqual([
    'plant1/edge-1 temperature 1 20.5',
    'plant1/edge-1 count 1 -3',
    'plant1/edge-1/spindle rpm 2 1200',
    'plant1/edge-1 temperature 3 21.25',
    'plant1/edge-1 count 4 5',
    'plant1/edge-1/spindle rpm 5 -1',
  ]);
  expect(harness.dead[1]!.reason).toMatch(/unknown alias 99/);
  expect(harness.dead[2]!.reason).toMatch(/DDATA from plant1\/edge-1\/spindle before its DBIRTH/);
});
