/**
 * The one logger: pino JSON lines on stdout (journald and container friendly), human-readable
 * (pino-pretty) when stdout is a terminal, one child per component. Secrets are redacted by key wherever they appear, as a second line of defence:
 * the token itself only ever lives inside MachineToken, whose serialisation is its fingerprint.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export const REDACT_PATHS = [
  'token',
  'authorization',
  'password',
  '*.token',
  '*.authorization',
  '*.password',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  destination?: pino.DestinationStream;
  base?: Record<string, unknown>;
  /** Human-readable lines instead of JSON (default: when stdout is a terminal). */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? { app: 'senseye-agent' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ??
      ((options.pretty ?? process.stdout.isTTY === true)
        ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app', sync: true })
        : pino.destination({ fd: 1, sync: false })),
  );
}

export type { Logger };
