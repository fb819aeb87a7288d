import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig, parseConfigText } from '../../src/config/load.js';

const minimal = `
hub:
  url: http://127.0.0.1:1
state_dir: /tmp/x
sources:
  - name: a
    type: file
    path: /data/*.jsonl
    format: jsonl
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'agent.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.line ?? '-'} ${p.path}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills defaults', () => {
    const c = parseConfigText(minimal, 'agent.yaml', {});
    expect(c.hub.addressing).toBe('sensor_id');
    expect(c.hub.batch).toEqual({ max_points: 5000, max_bytes: 768 * 1024, max_wait: 2000, max_spectra: 100 });
    expect(c.hub.max_rate).toBeNull();
    expect(c.hub.pace_after_throttling).toBe(true);
    expect(c.hub.retry.max_delay).toBe(300_000);
    expect(c.sources[0]).toMatchObject({ start_at: 'beginning', refresh_interval: 1000 });
    expect(c.shutdown_timeout).toBe(10_000);
  });

  it('reads durations and sizes written for people', () => {
    const c = parseConfigText(minimal.replace('url: http://127.0.0.1:1', 'url: http://127.0.0.1:1\n  timeout: 1.5s\n  batch: {max_bytes: 1MiB, max_wait: 250ms}'), 'a.yaml', {});
    expect(c.hub.timeout).toBe(1500);
    expect(c.hub.batch.max_bytes).toBe(1024 * 1024);
    expect(c.hub.batch.max_wait).toBe(250);
  });

  it('substitutes ${VAR} and ${VAR:-default} from the environment', () => {
    const text = minimal.replace('http://127.0.0.1:1', '${HUB_URL}').replace('/tmp/x', '${STATE:-/var/lib/x}');
    const c = parseConfigText(text, 'a.yaml', { HUB_URL: 'http://127.0.0.1:9' });
    expect(c.hub.url).toBe('http://127.0.0.1:9');
    expect(c.state_dir).toBe('/var/lib/x');
    expect(problems(text, {})).toEqual([expect.stringMatching(/^3 hub\.url: environment variable HUB_URL is not set/)]);
  });

  it('reports every problem at once, with line and path', () => {
    const text = `
hub:
  url: not a url
  colour: blue
state_dir: 5
sources:
  - name: a
    type: file
    path: /x
    format: jsonl
  - name: a
    type: file
    path: 7
    format: xml
`;
    const found = problems(text);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^3 hub\.url: /),
        expect.stringMatching(/^4 hub: unknown key "colour"/),
        expect.stringMatching(/^5 state_dir: expected string/),
        expect.stringMatching(/^13 sources\[1\]\.path: /),
        expect.stringMatching(/^14 sources\[1\]\.format: /),
        expect.stringMatching(/^11 sources\[1\]\.name: duplicate source name "a"/),
      ]),
    );
    expect(found.length).toBeGreaterThanOrEqual(6);
  });

  it('asks for a sensor on senseye-csv sources', () => {
    expect(problems(minimal.replace('format: jsonl', 'format: senseye-csv'))).toEqual([
      expect.stringContaining('sources[0].sensor: senseye-csv rows do not name their sensor'),
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('hub:\n  url: [unclosed\n')[0]).toMatch(/YAML/);
  });

  it('resolves relative paths against the config file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'agent.yaml');
    writeFileSync(file, minimal.replace('/tmp/x', 'state').replace('/data/*.jsonl', 'in/*.jsonl'));
    const { config } = loadConfig(file, {});
    expect(config.state_dir).toBe(path.join(dir, 'state'));
    expect((config.sources[0] as { path?: unknown }).path).toBe(path.join(dir, 'in/*.jsonl'));
  });

  it('says so when the file is missing', () => {
    expect(() => loadConfig('/nonexistent/agent.yaml', {})).toThrow(/file not found/);
  });

  it('accepts config.example.yaml as shipped', () => {
    const { config } = loadConfig(new URL('../../config.example.yaml', import.meta.url).pathname, {});
    expect(config.hub.url).toBe('https://api.senseye.io');
    expect(config.sources.map((s) => s.name)).toEqual(['press-line', 'pump-7']);
  });
});
