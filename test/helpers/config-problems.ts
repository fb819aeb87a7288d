/** Parses a config whose `sources:` list is given, and returns its problems as `path: message` (none: []). */
import { expect } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';

/** A config with everything but its sources (append the YAML list items). */
export const CONFIG_BASE = `
hub:
  url: http://127.0.0.1:1
state_dir: /tmp/x
sources:
`;

export function sourceProblems(sources: string): string[] {
  try {
    parseConfigText(CONFIG_BASE + sources, 'agent.yaml', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}
