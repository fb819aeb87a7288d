/** A source's format settings (config keys) → the options its parsers are built with. */
import type { SourceConfig } from '../config/sources-schema.js';
import { DEFAULT_CSV_LAYOUT } from '../parse/csv.js';
import type { ParserOptions } from '../parse/parser.js';
import { timeWindow } from '../parse/timestamp.js';

export function parserOptionsOf(config: SourceConfig, sensorIds?: ReadonlyMap<string, string>): ParserOptions {
  return {
    sensor: config.sensor,
    timezone: config.timezone,
    epochUnit: config.format === 'influx' ? config.precision : config.epoch_unit,
    sensorTag: config.sensor_tag,
    csv:
      config.format === 'csv'
        ? {
            columns: config.columns ?? DEFAULT_CSV_LAYOUT.columns,
            delimiter: config.delimiter ?? DEFAULT_CSV_LAYOUT.delimiter,
            header: config.header ?? DEFAULT_CSV_LAYOUT.header,
          }
        : undefined,
    sensorIds,
    // Set by the config loader for every source (top-level `input:` merged with the source's);
    // absent (tests, hand-built configs): the parsers' defaults.
    maxNameLength: config.input?.max_name_length,
    timeWindow:
      config.input?.time_window?.from !== undefined && config.input.time_window.to !== undefined
        ? timeWindow(config.input.time_window.from, config.input.time_window.to)
        : undefined,
  };
}

/** `sensors.<name>.sensor_id` of the config → hub id (lower case) to local name. */
export function sensorIdsOf(sensors: Record<string, { sensor_id?: string | undefined }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, s] of Object.entries(sensors)) if (s.sensor_id !== undefined) out.set(s.sensor_id.toLowerCase(), name);
  return out;
}
