// The mqtt source's settings (every problem named with its key before the agent runs) and the
// topic → sensor/measure mapping they configure.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { CONFIG_BASE, sourceProblems } from '../helpers/config-problems.js';
import { TopicMap } from '../../src/sources/mqtt/topic-map.js';


describe('mqtt source settings', () => {
  it('takes an mqtt source with its defaults and makes its file paths absolute', () => {
    const c = parseConfigText(
      CONFIG_BASE +
        `
  - {name: m, type: mqtt, url: 'mqtts://b:8883', topics: [plant/#], client_id: a1, format: jsonl, username: u, password_file: pw, tls: {ca: ca.pem}}
  - {name: s, type: mqtt, url: 'mqtt://b', client_id: a2, format: sparkplug-b}
`,
      '/etc/agent/agent.yaml',
      {},
    );
    expect(c.sources[0]).toMatchObject({ qos: 1, clean_session: false, protocol_version: 5, max_inflight: 1000, keepalive: 30_000, password_file: '/etc/agent/pw', tls: { ca: '/etc/agent/ca.pem' }, retained: false });
    const spb = c.sources[1]!;
    expect(spb.type === 'mqtt' ? spb.topics : 'not mqtt').toBe(undefined);
    expect(c.sources[1]).toMatchObject({ sparkplug: { group: '+', rebirth: true, rebirth_interval: 10_000 } });
  });

  it('names every problem with its key', () => {
    expect(
      sourceProblems(`
  - {name: m, type: mqtt, url: 'http://b', topics: [a], client_id: c, format: jsonl, qos: 2}
  - {name: n, type: mqtt, url: 'mqtt://b', topics: [a], client_id: c, format: csv, tls: {ca: ca.pem}}
  - {name: o, type: mqtt, url: 'mqtt://b', topics: ['a/#/b', 'x+'], format: jsonl, sensor_from_topic: '{machine}', password_file: pw}
  - {name: p, type: mqtt, url: 'mqtt://b', client_id: c, format: influx, topic_pattern: 'a/+x/+x', measure_from_topic: 2}
`),
    ).toEqual([
      'sources[0].url: expected a broker URL such as mqtt://broker:1883, mqtts://broker:8883, ws://broker/mqtt or wss://broker/mqtt',
      'sources[0].qos: expected 0 or 1 (QoS 2 is not supported)',
      'sources[1].sensor: set `sensor`, or `columns.sensor` for the column that names it',
      'sources[1].header: MQTT messages are parsed one by one: set header: false and give columns by number',
      'sources[1].tls: applies to mqtts:// and wss:// URLs only, not mqtt://',
      'sources[2].topics[0]: "a/#/b": # must be a whole level and the last one',
      'sources[2].topics[1]: "x+": + must be a whole level',
      'sources[2].client_id: a persistent session (clean_session: false, the default) needs a stable client_id, e.g. senseye-agent-line-3',
      'sources[2].username: password_file needs username',
      'sources[2].sensor_from_topic: {machine} needs topic_pattern naming that level (e.g. plant/+machine/#)',
      'sources[3].topics: set the topic filters to subscribe to, e.g. [plant/#]',
      'sources[3].topic_pattern: "a/+x/+x": the level name "x" is used twice',
      'sources[3].measure_from_topic: applies to format jsonl only',
    ]);
  });
});

describe('topic map', () => {
  it('takes levels by number or by name, and refuses a topic it cannot use with a reason', () => {
    const byName = new TopicMap('plant/+line/+machine/#', '{line}-{machine}', '{4}');
    expect(byName.names('plant/l1/press/temp')).toEqual({ ok: true, sensor: 'l1-press', measure: 'temp' });
    expect(byName.names('plant/l1/press')).toEqual({ ok: false, reason: 'topic "plant/l1/press": measure_from_topic "{4}": no level for {4}' });
    expect(byName.names('other/l1/press/x')).toEqual({ ok: false, reason: 'topic "other/l1/press/x" does not fit topic_pattern "plant/+line/+machine/#"' });
    const byNumber = new TopicMap(undefined, 2, undefined);
    expect(byNumber.names('a/b/c')).toEqual({ ok: true, sensor: 'b', measure: undefined });
    expect(byNumber.names('a')).toMatchObject({ ok: false });
    expect(new TopicMap('a/+x', '{x}', undefined).names('a/b/c')).toMatchObject({ ok: false });
    expect(new TopicMap(undefined, undefined, undefined).empty).toBe(true);
  });
});
