/**
 * Schemas of `sources[]`, one per source type (discriminated by `type`). Strict like the rest:
 * an unknown key is an error.
 */
import { z } from 'zod';
import { FORMAT_NAMES } from '../parse/registry.js';
import { duration, name } from './primitives.js';

export const fileSource = z.strictObject({
  name,
  type: z.literal('file'),
  /** One glob or several; all matching files are tailed. */
  path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'expected a glob (a string) or a list of globs',
  }),
  format: z.enum(FORMAT_NAMES),
  sensor: z.string().min(1).optional(),
  /** Where to start in a file seen for the first time. */
  start_at: z.enum(['beginning', 'end']).default('beginning'),
  /** How often the globs are re-evaluated for new files. */
  refresh_interval: duration.default(1000),
  /** How often an idle file is checked for growth (file change events also wake it). */
  poll_interval: duration.default(250),
});

export const sourceSchema = z.discriminatedUnion('type', [fileSource]);

export type SourceConfig = z.output<typeof sourceSchema>;

/** Makes every path of a source absolute (relative paths are relative to the config file). */
export function resolveSourcePaths(source: SourceConfig, abs: (p: string) => string): SourceConfig {
  switch (source.type) {
    case 'file':
      return { ...source, path: Array.isArray(source.path) ? source.path.map(abs) : abs(source.path) };
  }
}
