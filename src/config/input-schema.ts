/**
 * `input:` — what the agent accepts from any source, whatever the format: the longest name and
 * the window of plausible times. Top level, with its defaults; a source may override either key
 * under its own `input:` (load.ts merges the two, so parsers see one complete setting).
 */
import { z } from 'zod';
import { DEFAULT_MAX_NAME_LENGTH } from '../parse/names.js';
import { parseRfc3339 } from '../parse/timestamp.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A date (`2026-01-01`, midnight UTC) or an RFC 3339 time with an offset → epoch ms. */
export const instant = z.string().transform((text, ctx) => {
  const parsed = parseRfc3339(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `expected a date like 1971-01-01 or an RFC 3339 time with an offset, found "${text}"` });
    return z.NEVER;
  }
  return parsed.ms;
});

const maxNameLength = z.number().int().min(1).max(65_536);

export const DEFAULT_TIME_WINDOW_TEXT = { from: '1971-01-01', to: '2200-01-01' } as const;

export const inputSettings = z.strictObject({
  /** Longest sensor or measure name, in characters; longer ones are refused (Senseye documents no limit). */
  max_name_length: maxNameLength.default(DEFAULT_MAX_NAME_LENGTH),
  /** Times outside from..to (both included) are refused, however they are written. */
  time_window: z
    .strictObject({ from: instant.prefault(DEFAULT_TIME_WINDOW_TEXT.from), to: instant.prefault(DEFAULT_TIME_WINDOW_TEXT.to) })
    .prefault({})
    .refine((w) => w.from < w.to, { message: 'time_window.from must be before time_window.to' }),
});

/** A source's own `input:`: any key it gives replaces the top level's. */
export const sourceInputSettings = z.strictObject({
  max_name_length: maxNameLength.optional(),
  time_window: z.strictObject({ from: instant.optional(), to: instant.optional() }).optional(),
});

export type InputSettings = z.output<typeof inputSettings>;
export type SourceInputSettings = z.output<typeof sourceInputSettings>;

/** The top level's settings with a source's overrides applied. */
export function mergeInput(top: InputSettings, own: SourceInputSettings | undefined): InputSettings {
  if (own === undefined) return top;
  return {
    max_name_length: own.max_name_length ?? top.max_name_length,
    time_window: { from: own.time_window?.from ?? top.time_window.from, to: own.time_window?.to ?? top.time_window.to },
  };
}
