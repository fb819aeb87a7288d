/**
 * Topic → sensor and measure names. `sensor_from_topic` / `measure_from_topic` are a level number
 * (1-based) or a template of levels (`{line}-{machine}`, `{2}`) named by `topic_pattern`
 * (`plant/+line/+machine/#`). A topic the pattern does not fit, or one without the level asked
 * for, gets a reason instead of a guess: its message is dead-lettered with it.
 */
import { parsePattern, templateNames, type PatternLevel } from '../../config/mqtt-topic-syntax.js';

export type FromTopic = number | string | undefined;

export type TopicNames = { ok: true; sensor: string | undefined; measure: string | undefined } | { ok: false; reason: string };

const NONE: TopicNames = { ok: true, sensor: undefined, measure: undefined };

export class TopicMap {
  private readonly pattern: PatternLevel[] | null;
  /** True when nothing is taken from topics: every topic maps to no names, at no cost. */
  readonly empty: boolean;

  constructor(
    private readonly patternText: string | undefined,
    private readonly sensorFrom: FromTopic,
    private readonly measureFrom: FromTopic,
  ) {
    this.pattern = patternText === undefined ? null : parsePattern(patternText);
    this.empty = sensorFrom === undefined && measureFrom === undefined;
  }

  names(topic: string): TopicNames {
    if (this.empty) return NONE;
    const levels = topic.split('/');
    let captured: Map<string, string> | null = null;
    if (this.pattern !== null) {
      captured = match(this.pattern, levels);
      if (captured === null) return { ok: false, reason: `topic "${topic}" does not fit topic_pattern "${this.patternText}"` };
    }
    const sensor = fill(this.sensorFrom, levels, captured);
    if (typeof sensor === 'object') return { ok: false, reason: `topic "${topic}": sensor_from_topic ${sensor.reason}` };
    const measure = fill(this.measureFrom, levels, captured);
    if (typeof measure === 'object') return { ok: false, reason: `topic "${topic}": measure_from_topic ${measure.reason}` };
    return { ok: true, sensor, measure };
  }
}

/** The named levels of `levels` under `pattern`, or null when the topic does not fit it. */
function match(pattern: readonly PatternLevel[], levels: readonly string[]): Map<string, string> | null {
  const out = new Map<string, string>();
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.kind === 'rest') return out;
    const level = levels[i];
    if (level === undefined) return null;
    if (p.kind === 'literal' && p.text !== level) return null;
    if (p.kind === 'one' && p.name !== undefined) out.set(p.name, level);
  }
  return levels.length === pattern.length ? out : null;
}

function fill(from: FromTopic, levels: readonly string[], captured: Map<string, string> | null): string | undefined | { reason: string } {
  if (from === undefined) return undefined;
  if (typeof from === 'number') {
    const level = levels[from - 1];
    if (level === undefined || level.length === 0) return { reason: `${from}: the topic has no level ${from} (or it is empty)` };
    return level;
  }
  let text = from;
  for (const n of templateNames(from)) {
    const value = /^[1-9][0-9]*$/.test(n) ? levels[Number(n) - 1] : captured?.get(n);
    if (value === undefined || value.length === 0) return { reason: `"${from}": no level for {${n}}` };
    text = text.replace(`{${n}}`, value);
  }
  return text;
}
