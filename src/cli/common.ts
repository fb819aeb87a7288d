/** Helpers shared by commands that read the config. */
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { LOG_LEVELS, type Config } from '../config/schema.js';
import { EXIT } from './exit-codes.js';

/** The validated config, or null after printing every problem and setting exit code 78. */
export function loadConfigOrReport(file: string, env: NodeJS.ProcessEnv = process.env): Config | null {
  try {
    return loadConfig(file, env).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = EXIT.config;
      return null;
    }
    throw err;
  }
}

export const configOption = {
  alias: 'c',
  type: 'string',
  demandOption: true,
  describe: 'Path of the YAML configuration file',
} as const;

/** --log-level, validated the same way by every command that has it (a wrong value exits 78). */
export const logLevelOption = { choices: LOG_LEVELS, describe: 'Overrides log.level from the config' } as const;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
