/**
 * `type: mqtt` sources: a subscription to a broker (MQTT 3.1.1 or 5). Strict like every source
 * schema; what can be checked before connecting is checked here (topic filter syntax, the named
 * levels a sensor/measure template refers to, a client id for a persistent session), so the
 * operator learns it from `config check` instead of from a broker that refuses.
 * docs/sources.md ("MQTT") documents every key; defaults live here.
 */
import { z } from 'zod';
import { checkFormat, formatSettings } from './format-settings.js';
import { duration, name, size } from './primitives.js';
import { topicPatternProblem, templateProblem, topicFilterProblem } from './mqtt-topic-syntax.js';

export const MQTT_FORMATS = ['jsonl', 'senseye-json', 'influx', 'csv', 'sparkplug-b'] as const;
export type MqttFormat = (typeof MQTT_FORMATS)[number];

const URL_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

const url = z.string().refine(
  (text) => {
    try {
      return URL_SCHEMES.includes(new URL(text).protocol);
    } catch {
      return false;
    }
  },
  { message: 'expected a broker URL such as mqtt://broker:1883, mqtts://broker:8883, ws://broker/mqtt or wss://broker/mqtt' },
);

/** A level number (1 = the first level of the topic) or a template naming levels: "{line}-{machine}". */
const fromTopic = z.union([z.number().int().min(1).max(64), z.string().min(1)]);

export const mqttSource = z
  .strictObject({
    name,
    type: z.literal('mqtt'),
    url,
    /** Topic filters to subscribe to (`+` one level, `#` the rest). Sparkplug B: default spBv1.0/<group>/#. */
    topics: z.array(z.string().min(1)).min(1).optional(),
    /** 1: at least once, acknowledged after commit (default). 0: at most once. */
    qos: z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1 (QoS 2 is not supported)' }).default(1),
    /** Stable client id: the broker keeps the session (and the unacknowledged messages) under it. */
    client_id: z.string().min(1).max(256).optional(),
    /** false (default): a persistent session, messages published while the agent is down are kept for it. */
    clean_session: z.boolean().default(false),
    /** MQTT 5: how long the broker keeps a persistent session (and its messages) while the agent is away. */
    session_expiry: duration.default(7 * 24 * 3600 * 1000),
    /** 4 (MQTT 3.1.1) or 5 (default). */
    protocol_version: z.union([z.literal(4), z.literal(5)], { error: 'expected 4 (MQTT 3.1.1) or 5' }).default(5),
    username: z.string().min(1).optional(),
    /** File holding the password (its first line); never the password itself in the config. */
    password_file: z.string().min(1).optional(),
    tls: z
      .strictObject({
        /** CA bundle the broker's certificate must chain to (default: the system's). */
        ca: z.string().min(1).optional(),
        /** Client certificate and key, for brokers that require one. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** Name the broker's certificate must carry, when it differs from the URL's host. */
        server_name: z.string().min(1).optional(),
      })
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'set both cert and key, or neither' })
      .optional(),
    keepalive: duration.default(30_000),
    connect_timeout: duration.default(10_000),
    /** Reconnect delays: doubling from initial_delay, capped at max_delay, each drawn at random (full jitter). */
    reconnect: z.strictObject({ initial_delay: duration.default(500), max_delay: duration.default(30_000) }).prefault({}),
    /**
     * QoS 1 messages held unacknowledged at once (MQTT 5 Receive Maximum; with 3.1.1 the broker's own
     * limit, mosquitto's max_inflight_messages). Also the number of committed messages remembered to
     * recognise a redelivery after a crash.
     */
    max_inflight: z.number().int().min(1).max(65_535).default(1000),
    /** A message larger than this is dead-lettered (topic, head, size) and acknowledged, never parsed. */
    max_message_bytes: size.pipe(z.number().int().min(1024, 'at least 1KiB')).default(16 * 1024 * 1024),
    /** QoS 0 messages held while the outbox is not taking more; beyond this they are dropped and counted. */
    max_pending_messages: z.number().int().min(1).max(10_000_000).default(100_000),
    /** Ingest retained messages (the broker's last value, sent on subscribing); default: skipped and counted. */
    retained: z.boolean().default(false),
    /** Names topic levels: `plant/+line/+machine/#` (a `+name` level is captured as `name`). */
    topic_pattern: z.string().min(1).optional(),
    /** The sensor from the topic: a level number (1-based) or a template of named levels. */
    sensor_from_topic: fromTopic.optional(),
    /** The measure from the topic (jsonl): a level number or a template. */
    measure_from_topic: fromTopic.optional(),
    /** Sparkplug B only. */
    sparkplug: z
      .strictObject({
        /** Sparkplug group to follow (default every group: +). */
        group: z.string().min(1).default('+'),
        /** Ask an edge node to rebirth (NCMD Node Control/Rebirth) when its data comes before its birth. */
        rebirth: z.boolean().default(true),
        /** At most one rebirth request per edge node this often. */
        rebirth_interval: duration.default(10_000),
      })
      .prefault({}),
    ...formatSettings,
    format: z.enum(MQTT_FORMATS),
  })
  .superRefine((s, ctx) => {
    if (s.format !== 'sparkplug-b') checkFormat({ ...s, format: s.format }, ctx);
    if (s.format === 'csv' && s.header !== false) {
      // Each message is parsed on its own: a header row would have to open every message.
      ctx.addIssue({ code: 'custom', path: ['header'], message: 'MQTT messages are parsed one by one: set header: false and give columns by number' });
    }
    if (s.topics === undefined && s.format !== 'sparkplug-b') ctx.addIssue({ code: 'custom', path: ['topics'], message: 'set the topic filters to subscribe to, e.g. [plant/#]' });
    for (const [i, t] of (s.topics ?? []).entries()) {
      const problem = topicFilterProblem(t);
      if (problem !== null) ctx.addIssue({ code: 'custom', path: ['topics', i], message: problem });
    }
    if (!s.clean_session && s.client_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'a persistent session (clean_session: false, the default) needs a stable client_id, e.g. senseye-agent-line-3' });
    }
    if (s.password_file !== undefined && s.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'password_file needs username' });
    }
    if (s.tls !== undefined && !/^(mqtts|wss):/i.test(s.url)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: `applies to mqtts:// and wss:// URLs only, not ${s.url.split(':')[0]}://` });
    }
    if (s.topic_pattern !== undefined) {
      const problem = topicPatternProblem(s.topic_pattern);
      if (problem !== null) ctx.addIssue({ code: 'custom', path: ['topic_pattern'], message: problem });
    }
    for (const key of ['sensor_from_topic', 'measure_from_topic'] as const) {
      const v = s[key];
      if (v === undefined) continue;
      if (s.format === 'sparkplug-b') ctx.addIssue({ code: 'custom', path: [key], message: 'Sparkplug B names sensors by edge node and device' });
      else if (key === 'measure_from_topic' && s.format !== 'jsonl') ctx.addIssue({ code: 'custom', path: [key], message: 'applies to format jsonl only' });
      else if (typeof v === 'string') {
        const problem = templateProblem(v, s.topic_pattern);
        if (problem !== null) ctx.addIssue({ code: 'custom', path: [key], message: problem });
      }
    }
    if (s.sensor_from_topic !== undefined && s.format === 'influx') ctx.addIssue({ code: 'custom', path: ['sensor_from_topic'], message: 'influx lines name their sensor (sensor_tag or the measurement)' });
  });

export type MqttSourceConfig = z.output<typeof mqttSource>;
