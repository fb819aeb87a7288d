// End to end: the real agent process, real files, a real SQLite outbox, the hub emulator over HTTP.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { type HubEmulator } from '../../src/emulator/index.js';
import { spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, T0, toJsonl, type Expected } from '../helpers/readings.js';
import { waitFor } from '../helpers/wait.js';
import { freshHubEachTest } from '../helpers/e2e-hooks.js';

let hub: HubEmulator;
let dir: string;
const running = freshHubEachTest((h, d) => {
  hub = h;
  dir = d;
});

function start(config: string): AgentProcess {
  const p = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub.token });
  running.push(p);
  return p;
}

async function stop(p: AgentProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const { code } = await p.exited;
  expect(code, p.stderr()).toBe(0);
}

function configFor(sources: Array<Record<string, unknown>>, hubSettings: Record<string, unknown> = {}): string {
  return writeConfig(path.join(dir, 'agent.yaml'), { hubUrl: hub.url, stateDir: path.join(dir, 'state'), sources, hub: hubSettings });
}

describe('agent end to end', () => {
  it('delivers jsonl and senseye-csv files exactly, holding a partial last line until it is complete', async () => {
    const jsonl = path.join(dir, 'press.jsonl');
    const csv = path.join(dir, 'pump.csv');
    const config = configFor([
      { name: 'press', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' },
      { name: 'pump', type: 'file', path: path.join(dir, '*.csv'), format: 'senseye-csv', sensor: 'pump-7' },
    ]);
    const first = jsonlReadings(0, 300);
    const text = toJsonl(first);
    // Written in three chunks, the first ending mid-line.
    const cut = text.indexOf('\n', 1000) + 20;
    writeFileSync(jsonl, text.slice(0, cut));
    writeFileSync(csv, 'DATETIME,rms,running,mode\n' + `${new Date(T0).toISOString()},1.5,true,"auto"\n` + `${new Date(T0 + 60_000).toISOString()},,false,\n`);
    const agent = start(config);

    const completeLines = text.slice(0, cut).split('\n').length - 1;
    await waitFor(() => hub.store.dataPoints.length >= completeLines + 4, 'the complete lines of the first chunk and the CSV');
    // The partial line must not have been sent as a reading of its own.
    expect(hub.store.dataPoints.length).toBe(completeLines + 4);

    appendFileSync(jsonl, text.slice(cut, cut + 5000));
    appendFileSync(jsonl, text.slice(cut + 5000));
    await waitFor(() => hub.store.dataPoints.length >= first.length + 4, 'all readings');

    const csvExpected: Expected[] = [
      { sensor: 'pump-7', measure: 'rms', ts: T0, value: 1.5 },
      { sensor: 'pump-7', measure: 'running', ts: T0, value: true },
      { sensor: 'pump-7', measure: 'mode', ts: T0, value: 'auto' },
      { sensor: 'pump-7', measure: 'running', ts: T0 + 60_000, value: false },
    ];
    // One more CSV row arrives while running.
    appendFileSync(csv, `${new Date(T0 + 120_000).toISOString()},2.25,true,"eco"\n`);
    csvExpected.push(
      { sensor: 'pump-7', measure: 'rms', ts: T0 + 120_000, value: 2.25 },
      { sensor: 'pump-7', measure: 'running', ts: T0 + 120_000, value: true },
      { sensor: 'pump-7', measure: 'mode', ts: T0 + 120_000, value: 'eco' },
    );
    const expected = sorted([...first, ...csvExpected].map(key));
    await waitFor(() => hub.store.dataPoints.length >= expected.length, 'the appended CSV row');
    await stop(agent);

    expect(sorted(receivedKeys(hub))).toEqual(expected);
    // Sensors were created once each, by POST /v1/hub/sensors, with mappingId = local name.
    expect(hub.store.sensors.map((s) => s.mappingId).sort()).toEqual(['press-01', 'press-02', 'press-03', 'pump-7']);
    expect(hub.store.sensors.every((s) => !s.autoProvisioned && s.ingest === 'timeseries')).toBe(true);
    // The token never appears in what the agent printed.
    expect(agent.stdout() + agent.stderr()).not.toContain(hub.token);
    expect(agent.logs().some((l) => l.event === 'delivered')).toBe(true);
  });

  it('restarts where it stopped: stopped mid-file, appended to, started again, every reading arrives once', async () => {
    const file = path.join(dir, 'big.jsonl');
    const config = configFor([{ name: 'press', type: 'file', path: file, format: 'jsonl' }], { batch: { max_points: 500, max_wait: '50ms' } });
    const part1 = jsonlReadings(0, 40_000);
    writeFileSync(file, toJsonl(part1));
    const first = start(config);
    await waitFor(() => hub.store.dataPoints.length > 0, 'the first readings');
    await stop(first);
    const afterFirst = hub.store.dataPoints.length;
    expect(afterFirst).toBeGreaterThan(0);
    expect(afterFirst).toBeLessThan(part1.length); // stopped with work left in the outbox

    const part2 = jsonlReadings(40_000, 2000);
    appendFileSync(file, toJsonl(part2));
    const second = start(config);
    const all = [...part1, ...part2];
    await waitFor(() => hub.store.dataPoints.length >= all.length, 'every reading after the restart', { timeoutMs: 60_000 });
    await stop(second);

    expect(hub.store.dataPoints.length).toBe(all.length);
    expect(hub.store.counters.overwrites).toBe(0);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(all.map(key)));
    // No sensor was created twice across the restart.
    expect(hub.store.sensors).toHaveLength(3);
  });

  it('survives SIGKILL: restarted, nothing lost, and only batches in flight at the kill repeat (same batch id)', async () => {
    const file = path.join(dir, 'crash.jsonl');
    const maxPoints = 500;
    const concurrency = 4;
    const config = configFor([{ name: 'press', type: 'file', path: file, format: 'jsonl' }], {
      batch: { max_points: maxPoints, max_wait: '50ms' },
      concurrency,
    });
    const all = jsonlReadings(0, 60_000);
    writeFileSync(file, toJsonl(all));
    const first = start(config);
    await waitFor(() => hub.store.dataPoints.length >= 2000, 'some readings before the kill');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(hub.store.dataPoints.length).toBeLessThan(all.length);

    const second = start(config);
    await waitFor(() => new Set(receivedKeys(hub)).size >= all.length, 'every reading after the crash', { timeoutMs: 60_000 });
    await stop(second);

    const received = receivedKeys(hub);
    expect(new Set(received)).toEqual(new Set(all.map(key)));
    const duplicates = received.length - all.length;
    expect(duplicates).toBeLessThanOrEqual(maxPoints * concurrency);
    // Each repeated point came again in a mutation with the same batch id as the first time.
    const firstBatch = new Map<string, string | null>();
    const names = new Map(hub.store.sensors.map((s) => [s.id, s.mappingId]));
    for (const p of hub.store.dataPoints) {
      const k = `${names.get(p.sensorId)}|${p.measureName}|${p.timestamp}`;
      const seen = firstBatch.get(k);
      if (seen === undefined) firstBatch.set(k, p.clientMutationId);
      else expect(p.clientMutationId).toBe(seen);
    }
  });

  it('dead-letters bad lines with file, line and reason while the good lines around them are delivered', async () => {
    const file = path.join(dir, 'mixed.jsonl');
    const good = jsonlReadings(0, 4);
    const lines = [
      toJsonl([good[0]!]).trim(),
      '{"sensor":"press-01","measure":"temperature","ts":"2026-11-27T08:00:00Z","value":1', // broken JSON
      toJsonl([good[1]!]).trim(),
      '{"sensor":"press-01","ts":"2026-11-27T08:00:00Z","value":1}', // missing measure
      '{"sensor":"press-01","measure":"t","ts":"2026-11-27T08:00:00Z","value":NaN}', // NaN
      '{"sensor":"press-01","measure":"t","ts":"27/11/2026 08:00","value":1}', // unknown timestamp format
      toJsonl([good[2]!]).trim(),
      toJsonl([good[3]!]).trim(),
    ];
    writeFileSync(file, lines.join('\n') + '\n');
    const config = configFor([{ name: 'mixed', type: 'file', path: file, format: 'jsonl' }]);
    const agent = start(config);
    await waitFor(() => hub.store.dataPoints.length >= 4, 'the good lines');
    await stop(agent);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(good.map(key)));

    const db = new Database(path.join(dir, 'state', 'outbox.db'), { readonly: true });
    const dead = db.prepare('SELECT source, origin, line, reason, raw FROM dead_letters ORDER BY line').all() as Array<Record<string, unknown>>;
    db.close();
    expect(dead.map((d) => [d.source, d.origin, d.line])).toEqual([
      ['mixed', file, 2],
      ['mixed', file, 4],
      ['mixed', file, 5],
      ['mixed', file, 6],
    ]);
    expect(dead.map((d) => d.reason)).toEqual([
      expect.stringContaining('not valid JSON'),
      expect.stringContaining('missing "measure"'),
      expect.stringContaining('not valid JSON'),
      expect.stringContaining('RFC 3339'),
    ]);
    expect(dead[0]!.raw).toBe(lines[1]);
  });
});
