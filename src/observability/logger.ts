/**
 * The one logger: pino JSON lines on stdout (journald and container friendly), one child per
 * component. Secrets are redacted by key wherever they appear, as a second line of defence:
 * the token itself only ever lives inside MachineToken, whose serialisation is its fingerprint.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';

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
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

export type { Logger };
