// `senseye-agent backfill` as a data engineer runs it: real files (plain and gzip), the real
// process, the emulator over HTTP, the same state dir as a running daemon.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, T0, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let hub: HubEmulator;
let dir: string;
let config: string;
const running: AgentProcess[] = [];

beforeEach(async () => {
  hub = await createHubEmulator();
  dir = tempDir();
  mkdirSync(path.join(dir, 'live'));
  config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ name: 'live', type: 'file', path: path.join(dir, 'live', '*.jsonl'), format: 'jsonl' }],
    hub: { batch: { max_points: 1000, max_wait: '20ms' } },
  });
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await hub.close();
});

const env = () => ({ SENSEYE_TOKEN: hub.token });
const backfill = (...args: string[]) => runAgentCommand(['backfill', '--config', config, ...args], env());
const dataRequests = () => hub.store.requests.filter((r) => r.path === '/v1/graphql');

describe('backfill', () => {
  it('delivers files, folders and .gz exactly, says so, and a re-run sends nothing', async () => {
    const history = path.join(dir, 'history');
    mkdirSync(path.join(history, '2026-10'), { recursive: true });
    const a = jsonlReadings(0, 3000);
    const b = jsonlReadings(3000, 2000);
    writeFileSync(path.join(history, '2026-10', 'a.jsonl'), toJsonl(a));
    writeFileSync(path.join(history, '2026-10', 'b.jsonl.gz'), gzipSync(toJsonl(b)));
    const csv = 'DATETIME,rms,running\n' + `${new Date(T0).toISOString()},1.5,true\n` + `${new Date(T0 + 1000).toISOString()},1.75,false`; // no final newline
    writeFileSync(path.join(dir, 'pump.csv'), csv);
    const out = await backfill('--sensor', 'pump-9', history, path.join(dir, '*.csv'));
    expect(out.code, out.stderr).toBe(0);
    const csvKeys = [
      { sensor: 'pump-9', measure: 'rms', ts: T0, value: 1.5 },
      { sensor: 'pump-9', measure: 'running', ts: T0, value: true },
      { sensor: 'pump-9', measure: 'rms', ts: T0 + 1000, value: 1.75 },
      { sensor: 'pump-9', measure: 'running', ts: T0 + 1000, value: false },
    ].map(key);
    expect(sorted(receivedKeys(hub))).toEqual(sorted([...a.map(key), ...b.map(key), ...csvKeys]));
    expect(out.stdout).toMatch(/backfill: 5004 readings delivered from 3 files/);
    expect(out.stderr).toContain('backfill: files 3/3'); // the non-terminal progress line

    const before = dataRequests().length;
    const again = await backfill('--sensor', 'pump-9', history, path.join(dir, '*.csv'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already complete; nothing new to send');
    expect(dataRequests().length).toBe(before);
  });

  it('resumes after SIGKILL: nothing lost, each reading stored once, repeats carry their batch id', async () => {
    const file = path.join(dir, 'big.jsonl');
    const all = jsonlReadings(0, 60_000);
    writeFileSync(file, toJsonl(all));
    const first = spawnAgent(['backfill', '--config', config, file], env());
    running.push(first);
    await waitFor(() => hub.store.dataPoints.length >= 5000, 'part of the backfill');
    first.child.kill('SIGKILL');
    await first.exited;
    expect(hub.store.dataPoints.length).toBeLessThan(all.length);
    const second = await backfill(file);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('resumed');
    expect(new Set(receivedKeys(hub))).toEqual(new Set(all.map(key)));
    const firstId = new Map<string, string | null>();
    receivedKeys(hub).forEach((k, i) => {
      const id = hub.store.dataPoints[i]!.clientMutationId;
      if (!firstId.has(k)) firstId.set(k, id);
      else expect(id).toBe(firstId.get(k));
    });
  });

  it('runs beside the daemon on the same state dir; live data keeps flowing', async () => {
    const daemon = spawnAgent(['run', '--config', config], env());
    running.push(daemon);
    const liveFile = path.join(dir, 'live', 'now.jsonl');
    writeFileSync(liveFile, '');
    const history = path.join(dir, 'old.jsonl');
    const old = jsonlReadings(0, 40_000, ["hist-1", "hist-2"]);
    writeFileSync(history, toJsonl(old));
    hub.faults.setRateLimit({ requestsPerSecond: 4, burst: 2 });
    // --max-rate keeps the backfill busy for ~8 s, long enough to see live data pass it.
    const job = spawnAgent(['backfill', '--config', config, '--max-rate', '5000', history], env());
    running.push(job);
    await waitFor(() => hub.store.dataPoints.length > 1000, 'the backfill to be under way');
    // Live readings written now arrive while the backfill's backlog is still being sent.
    const live = jsonlReadings(500_000, 50, ['live-1']);
    appendFileSync(liveFile, toJsonl(live));
    const liveKeys = new Set(live.map(key));
    await waitFor(() => receivedKeys(hub).filter((k) => liveKeys.has(k)).length === live.length, 'the live readings');
    expect(job.child.exitCode).toBeNull(); // still backfilling
    expect((await job.exited).code, job.stderr()).toBe(0);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(new Set(receivedKeys(hub))).toEqual(new Set([...old.map(key), ...live.map(key)]));
    // Throttled requests were honoured by both processes.
    expect(hub.store.counters.rateLimited).toBeGreaterThan(0);
  });

  it('--dry-run validates and reports per file with every problem, sending nothing', async () => {
    const file = path.join(dir, 'mixed.jsonl');
    writeFileSync(file, toJsonl(jsonlReadings(0, 10)) + 'not json\n' + toJsonl(jsonlReadings(10, 5)));
    const out = await backfill('--dry-run', file);
    expect(out.code).toBe(2);
    expect(out.stdout).toContain(`${file}: 15 readings, 0 spectra, 1 invalid`);
    expect(out.stdout).toContain(`${file}:11: not valid JSON`);
    expect(out.stdout).toContain('nothing was sent');
    expect(hub.store.requests).toEqual([]);
    const json = JSON.parse((await backfill('--dry-run', '--json', file)).stdout);
    expect(json.problems).toEqual([{ file, line: 11, reason: expect.stringContaining('not valid JSON') }]);
  });

  it('--from/--to keep the window; bad records give exit 2 with reasons', async () => {
    const file = path.join(dir, 'w.jsonl');
    const all = jsonlReadings(0, 100); // one reading per second from T0
    writeFileSync(file, toJsonl(all) + '{"sensor":"x","measure":"m","ts":"yesterday","value":1}\n');
    const out = await backfill('--from', new Date(T0 + 10_000).toISOString(), '--to', new Date(T0 + 20_000).toISOString(), file);
    expect(out.code).toBe(2);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(all.slice(10, 20).map(key)));
    expect(out.stdout).toContain('90 readings outside --from/--to were skipped');
    expect(out.stdout).toMatch(/1 × timestamp "yesterday" is not RFC 3339.* \(e\.g\. .*w\.jsonl:101\)/);
    const json = JSON.parse((await backfill('--json', '--from', new Date(T0 + 10_000).toISOString(), '--to', new Date(T0 + 20_000).toISOString(), file)).stdout);
    expect(json).toMatchObject({ outcome: 'nothing_new' });
  });

  it('exit 75 when the hub stays unreachable, keeping the data; 78 for bad arguments', async () => {
    const file = path.join(dir, 'x.jsonl');
    writeFileSync(file, toJsonl(jsonlReadings(0, 10)));
    hub.faults.add({ endpoint: 'any', status: 503, times: Number.POSITIVE_INFINITY });
    const out = await backfill('--timeout', '1s', file);
    expect(out.code).toBe(75);
    expect(out.stdout).toMatch(/stopped before delivery finished .*10 kept in the outbox/);
    hub.faults.clear();
    const resumed = await backfill(file);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(hub.store.dataPoints).toHaveLength(10);

    expect((await backfill(path.join(dir, 'missing.jsonl'))).code).toBe(78);
    expect((await backfill('--from', 'last week', file)).code).toBe(78);
    const unknown = await backfill(path.join(dir, 'agent.yaml'));
    expect(unknown.code).toBe(78);
    expect(unknown.stderr).toContain('cannot tell its format from the extension; pass --format');
  });
});
