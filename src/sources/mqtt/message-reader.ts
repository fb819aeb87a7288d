/**
 * One MQTT message of a text format → the lines the pipeline's parser reads, with the parser to
 * read them (its default sensor and measure from the topic), or a refusal with a reason. Nothing
 * is guessed and nothing is dropped: a payload that is not UTF-8, a topic the mapping cannot use,
 * a jsonl list that is not JSON become a dead letter with the topic and the payload's head.
 *
 * Payloads: jsonl one object, several lines of objects, a JSON list of objects, or a bare value
 * (`21.5`, `true`, `"open"`) when the topic names sensor and measure (its time: the arrival);
 * senseye-json one document; influx and csv (no header) one or more lines.
 */
import { isUtf8 } from 'node:buffer';
import type { MqttSourceConfig } from '../../config/mqtt-schema.js';
import { MAX_RAW_CHARS } from '../../outbox/types.js';
import type { LineParser, ParserOptions } from '../../parse/parser.js';
import { FORMATS, type FormatName } from '../../parse/registry.js';
import { invalidUtf8Reason } from '../utf8.js';
import { TopicMap } from './topic-map.js';

export type ReadMessage =
  | { ok: true; parser: LineParser; lines: string[]; whole: boolean; /** Parts of the message refused on their own (a Sparkplug metric). */ rejected?: Array<{ raw: string; reason: string }> }
  | { ok: false; reason: string };

export interface MessageReader {
  /** Loads what reading needs (a codec) before the first message; absent: nothing to load. */
  ready?(): Promise<void>;
  read(topic: string, payload: Buffer, arrivedAt: number): ReadMessage;
}

/** The head of a payload as kept with its dead letter: text, or base64 (marked) when not UTF-8. */
export function payloadHead(payload: Buffer): string {
  if (isUtf8(payload)) {
    const text = payload.toString('utf8', 0, Math.min(payload.length, MAX_RAW_CHARS * 4));
    return text.length > MAX_RAW_CHARS ? text.slice(0, MAX_RAW_CHARS) : text;
  }
  return `base64:${payload.subarray(0, (MAX_RAW_CHARS / 4) * 3 - 6).toString('base64')}`;
}

/** Parsers are cached per sensor and measure; a flood of distinct topics empties the cache instead of growing it. */
const MAX_PARSERS = 10_000;

export class TextMessageReader implements MessageReader {
  private readonly format: FormatName;
  private readonly topics: TopicMap;
  private readonly parsers = new Map<string, LineParser>();

  constructor(
    config: MqttSourceConfig,
    private readonly options: ParserOptions,
  ) {
    if (config.format === 'sparkplug-b') throw new Error('TextMessageReader: sparkplug-b is not a text format');
    this.format = config.format;
    this.topics = new TopicMap(config.topic_pattern, config.sensor_from_topic, config.measure_from_topic);
  }

  read(topic: string, payload: Buffer, arrivedAt: number): ReadMessage {
    if (!isUtf8(payload)) return { ok: false, reason: invalidUtf8Reason(payload, 0, payload.length, undefined, 'document') };
    const names = this.topics.names(topic);
    if (!names.ok) return names;
    const parser = this.parserFor(names.sensor, names.measure);
    const text = payload.toString('utf8');
    if (this.format === 'senseye-json') return { ok: true, parser, lines: [text], whole: true };
    if (this.format !== 'jsonl') return { ok: true, parser, lines: splitLines(text), whole: false };
    const first = firstNonSpace(text);
    if (first === '{' || first === undefined) return { ok: true, parser, lines: splitLines(text), whole: false };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `not valid JSON: ${(err as Error).message}` };
    }
    if (Array.isArray(value)) return { ok: true, parser, lines: value.map((v) => JSON.stringify(v) ?? 'null'), whole: false };
    if (typeof value === 'object' && value !== null) return { ok: true, parser, lines: [text], whole: false };
    // A bare value: its sensor and measure can only come from the topic (or the source's `sensor`).
    if (names.measure === undefined) return { ok: false, reason: 'a bare value needs its measure from the topic (measure_from_topic); else send {"measure", "ts", "value"} objects' };
    return { ok: true, parser, lines: [`{"ts":"${new Date(arrivedAt).toISOString()}","value":${JSON.stringify(value)}}`], whole: false };
  }

  private parserFor(sensor: string | undefined, measure: string | undefined): LineParser {
    const key = `${sensor ?? ''}\u0000${measure ?? ''}`;
    let parser = this.parsers.get(key);
    if (parser === undefined) {
      if (this.parsers.size >= MAX_PARSERS) this.parsers.clear();
      const options = { ...this.options, sensor: sensor ?? this.options.sensor, measure };
      parser = FORMATS[this.format](options, null);
      this.parsers.set(key, parser);
    }
    return parser;
  }
}

function firstNonSpace(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') return c;
  }
  return undefined;
}

/** Lines without their `\r\n` / `\n`; a trailing newline adds no empty line. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) if (lines[i]!.endsWith('\r')) lines[i] = lines[i]!.slice(0, -1);
  return lines;
}
