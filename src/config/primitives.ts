/** Value types shared by config schemas: durations, sizes, names, UUIDs. */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/** A duration: "2s", "250ms", "5m", or a number of milliseconds. */
export const duration = z.union([
  z.number().int().nonnegative(),
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 250ms, 2s, 5m, 1h, found "${text}"` });
      return z.NEVER;
    }
    return ms;
  }),
]);

/** A size: "512KiB", "1GiB", or a number of bytes. */
export const size = z.union([
  z.number().int().nonnegative(),
  z.string().transform((text, ctx) => {
    const bytes = parseSize(text);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 512KiB or 1GiB, found "${text}"` });
      return z.NEVER;
    }
    return bytes;
  }),
]);

export const name = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only');

export const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected a UUID');
