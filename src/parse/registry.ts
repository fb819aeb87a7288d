/** Format name → parser factory. Adding a format is one entry here plus its module. */
import { createJsonlParser } from './jsonl.js';
import type { ParserFactory } from './parser.js';
import { createSenseyeCsvParser } from './senseye-csv.js';

export const FORMATS = {
  jsonl: createJsonlParser,
  'senseye-csv': createSenseyeCsvParser,
} as const satisfies Record<string, ParserFactory>;

export type FormatName = keyof typeof FORMATS;
export const FORMAT_NAMES = Object.keys(FORMATS) as FormatName[];
