// End to end with the real agent process and the hub emulator: file rotation with restarts
// (graceful and SIGKILL) at random points, socket sources (TCP with Telegraf's line protocol,
// UDP, Unix), backpressure through a full outbox, a spool folder, spectra, and a source that
// cannot run (exit 78, named).
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { receivedKeys, sorted } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { random } from '../integration/sources-harness.js';

const T0 = Date.UTC(2026, 10, 27, 8);
let hub: HubEmulator;
let dir: string;
const running: AgentProcess[] = [];

beforeEach(async () => {
  hub = await createHubEmulator();
  dir = tempDir('senseye-e2e-sources-');
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await hub.close();
});

function config(sources: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): string {
  const file = writeConfig(path.join(dir, 'agent.yaml'), { hubUrl: hub.url, stateDir: path.join(dir, 'state'), sources, hub: { retry: { initial_delay: '50ms', max_delay: '1s' } }, extra });
  return file;
}

function start(file: string): AgentProcess {
  const p = spawnAgent(['run', '--config', file], { SENSEYE_TOKEN: hub.token });
  running.push(p);
  return p;
}

async function stop(p: AgentProcess): Promise<void> {
  // Right after `agent_started` is logged the signal handlers may not be set yet (SIGTERM would
  // kill the process outright): wait for a sign of the running agent's first own steps.
  const SIGNS = new Set(['file_opened', 'source_listening', 'source_waiting', 'delivered', 'sensor_created']);
  await waitFor(() => p.logs().some((l) => SIGNS.has(String(l.event))), 'the agent running');
  p.child.kill('SIGTERM');
  const { code, signal } = await p.exited;
  expect(code, `signal ${signal}; ${p.stderr()}; ${p.stdout().slice(-3000)}`).toBe(0);
}

async function listening(p: AgentProcess, source: string): Promise<string> {
  const event = await waitFor(() => p.logs().find((l) => l.event === 'source_listening' && l.source === source), `${source} listening`);
  return String(event.address);
}

function key(sensor: string, measure: string, i: number, value: unknown = i): string {
  return `${sensor}|${measure}|${new Date(T0 + i * 1000).toISOString()}|${JSON.stringify(value)}`;
}

function jsonLine(i: number, sensor = 'rot'): string {
  return JSON.stringify({ sensor, measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
}

describe('file rotation end to end', () => {
  it('rename, copytruncate, gzip and rotations while stopped, with restarts at random points: every line exactly once', async () => {
    const log = path.join(dir, 'app.log');
    const file = config([{ name: 'rot', type: 'file', path: `${log}*`, format: 'jsonl', poll_interval: '20ms', refresh_interval: '50ms', rotate_wait: '200ms' }]);
    const rnd = random(Number(process.env.ROTATION_SEED ?? 7));
    let written = 0;
    const write = (n: number) => {
      let t = '';
      for (let k = 0; k < n; k++) t += jsonLine(written++);
      appendFileSync(log, t);
    };
    // Keeps every rotated file: deleting one with unread lines would lose them (for any reader).
    const shift = () => {
      for (let i = 20; i >= 1; i--) {
        for (const ext of ['', '.gz']) {
          const from = i === 1 ? (ext === '' ? log : null) : `${log}.${i - 1}${ext}`;
          if (from !== null && existsSync(from)) renameSync(from, `${log}.${i}${ext}`);
        }
      }
    };
    const rotations: Array<() => void> = [
      () => shift(), // rename and create
      () => {
        copyFileSync(log, `${log}.tmp`); // copytruncate
        shift();
        renameSync(`${log}.1`, log);
        renameSync(`${log}.tmp`, `${log}.1`);
        truncateSync(log, 0);
      },
      () => {
        shift(); // rename, then compress the rotated file
        writeFileSync(`${log}.1.gz`, gzipSync(readFileSync(`${log}.1`)));
        unlinkSync(`${log}.1`);
      },
    ];
    let agent: AgentProcess | null = start(file);
    for (let round = 0; round < 9; round++) {
      write(30 + Math.floor(rnd() * 50));
      await new Promise((r) => setTimeout(r, rnd() * 150));
      if (rnd() < 0.5 && agent !== null) {
        await stop(agent);
        agent = null;
      }
      write(Math.floor(rnd() * 20));
      rotations[round % rotations.length]!();
      write(10 + Math.floor(rnd() * 30));
      if (agent === null && rnd() < 0.6) agent = start(file);
    }
    agent ??= start(file);
    const all = Array.from({ length: written }, (_, i) => key('rot', 'm', i));
    await waitFor(() => new Set(receivedKeys(hub)).size >= written, `all ${written} lines at the hub`, { timeoutMs: 40_000 }).catch((err: Error) => {
      const got = new Set(receivedKeys(hub));
      const db = new Database(path.join(dir, 'state', 'outbox.db'), { readonly: true });
      const dead = db.prepare('SELECT origin, line, reason, raw FROM dead_letters').all();
      const cps = db.prepare('SELECT file_key, path, offset, line, head_hash FROM checkpoints').all();
      db.close();
      throw new Error(`${err.message}; missing lines ${all.flatMap((k, i) => (got.has(k) ? [] : [i])).join(',')}; dead letters ${JSON.stringify(dead)}; checkpoints ${JSON.stringify(cps)}`);
    });
    await stop(agent);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(all));
  });

  it('SIGKILLed at random points while files rotate: nothing lost, and any repeat is a resent batch (same batch id), never a line read twice', async () => {
    const log = path.join(dir, 'app.log');
    const file = config([{ name: 'rot', type: 'file', path: `${log}*`, format: 'jsonl', poll_interval: '20ms', refresh_interval: '50ms', rotate_wait: '200ms' }], {
      hub: { url: hub.url, batch: { max_wait: '50ms', max_points: 200 }, retry: { initial_delay: '50ms', max_delay: '1s' } },
    });
    const rnd = random(Number(process.env.ROTATION_SEED ?? 11));
    let written = 0;
    const write = (n: number) => {
      let t = '';
      for (let k = 0; k < n; k++) t += jsonLine(written++);
      appendFileSync(log, t);
    };
    let agent = start(file);
    for (let round = 0; round < 4; round++) {
      write(2000);
      await waitFor(() => hub.store.dataPoints.length > 0 || round > 0, 'delivery under way');
      await new Promise((r) => setTimeout(r, 100 + rnd() * 300));
      agent.child.kill('SIGKILL');
      await agent.exited;
      write(300);
      renameSync(log, `${log}.${round + 1}`);
      write(100);
      agent = start(file);
    }
    await waitFor(() => new Set(receivedKeys(hub)).size >= written, `all ${written} lines`, { timeoutMs: 60_000 });
    await stop(agent);
    expect(new Set(receivedKeys(hub))).toEqual(new Set(Array.from({ length: written }, (_, i) => key('rot', 'm', i))));
    const firstBatch = new Map<string, string | null>();
    for (const p of hub.store.dataPoints) {
      const k = `${p.measureName}|${p.timestamp}`;
      const seen = firstBatch.get(k);
      if (seen === undefined) firstBatch.set(k, p.clientMutationId);
      else expect(p.clientMutationId, `repeat of ${k}`).toBe(seen);
    }
  });
});

describe('socket sources end to end', () => {
  it('TCP with Telegraf line protocol, UDP and a Unix socket reach the hub', async () => {
    const sock = path.join(dir, 'agent.sock');
    const file = config([
      { name: 'telegraf', type: 'tcp', listen: '127.0.0.1:0', format: 'influx', sensor_tag: 'host' },
      { name: 'plc', type: 'udp', listen: '127.0.0.1:0', format: 'jsonl' },
      { name: 'nodered', type: 'unix', path: sock, format: 'csv', header: false, columns: { ts: 0, sensor: 1, measure: 2, value: 3 } },
    ]);
    const agent = start(file);
    const tcpPort = Number((await listening(agent, 'telegraf')).split(':').pop());
    const udpPort = Number((await listening(agent, 'plc')).split(':').pop());
    await listening(agent, 'nodered');

    const ns = (i: number) => `${BigInt(T0 + i * 1000) * 1_000_000n}`;
    const tcp = net.connect(tcpPort, '127.0.0.1');
    tcp.write(`press,host=edge-01,line=a temperature=42.5,state="running",alarm=false,count=7i ${ns(0)}\n`);
    tcp.end(`press,host=edge-01 temperature=43 ${ns(1)}\n`);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.send(jsonLine(0, 'plc-7') + jsonLine(1, 'plc-7').trimEnd(), udpPort, '127.0.0.1', () => r()));
    udp.close();
    const unix = net.connect(sock);
    unix.end(`${new Date(T0).toISOString()},nr-1,flow,3.5\n`);

    const expected = [
      key('edge-01', 'temperature', 0, 42.5),
      key('edge-01', 'state', 0, 'running'),
      key('edge-01', 'alarm', 0, false),
      key('edge-01', 'count', 0, 7),
      key('edge-01', 'temperature', 1, 43),
      key('plc-7', 'm', 0),
      key('plc-7', 'm', 1),
      key('nr-1', 'flow', 0, 3.5),
    ];
    await waitFor(() => hub.store.dataPoints.length >= expected.length, 'every record');
    await stop(agent);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(expected));
  });

  it('while the outbox is full and blocking, a TCP sender is slowed; once space returns nothing is lost', async () => {
    hub.faults.add({ endpoint: 'graphql', status: 503, times: Number.POSITIVE_INFINITY });
    const file = config([{ name: 'bulk', type: 'tcp', listen: '127.0.0.1:0', format: 'jsonl' }], {
      outbox: { max_bytes: '2MiB', min_free_disk: 0 },
    });
    const agent = start(file);
    const port = Number((await listening(agent, 'bulk')).split(':').pop());
    // ~12 MB: more than the socket buffers, the source's own buffers and the outbox limit hold.
    const total = 150_000;
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    let i = 0;
    let finished = false;
    const pump = () => {
      while (i < total) {
        let batch = '';
        for (let k = 0; k < 500 && i < total; k++) batch += jsonLine(i++, 'bulk');
        if (!c.write(batch)) {
          c.once('drain', pump);
          return;
        }
      }
      c.end(() => (finished = true));
    };
    pump();
    await waitFor(() => agent.logs().some((l) => l.event === 'outbox_full'), 'the outbox full', { timeoutMs: 30_000 });
    // Then the sender stalls: for half a second it can hand the kernel nothing more…
    await waitFor(
      async () => {
        const before = i;
        await new Promise((r) => setTimeout(r, 500));
        return i === before;
      },
      'the sender stalled',
      { timeoutMs: 20_000, intervalMs: 0 },
    );
    // …far from done, while the hub has taken nothing.
    expect(i).toBeLessThan(total);
    expect(finished).toBe(false);
    expect(hub.store.dataPoints).toHaveLength(0);
    hub.faults.clear();
    await waitFor(() => new Set(receivedKeys(hub)).size >= total, 'every line once the hub takes data again', { timeoutMs: 60_000 });
    await stop(agent);
    expect(new Set(receivedKeys(hub)).size).toBe(total);
  });

  it('reports a source that cannot run by name and exits 78', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const agent = start(config([{ name: 'telegraf', type: 'tcp', listen: `127.0.0.1:${port}`, format: 'influx' }]));
    const { code } = await agent.exited;
    blocker.close();
    expect(code).toBe(78);
    expect(agent.stderr()).toMatch(/source "telegraf": cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE \(another process listens there/);
  });
});

describe('spool and spectra end to end', () => {
  it('ingests a spool folder that appears after start, moving files to done/', async () => {
    const folder = path.join(dir, 'drop');
    const file = config([{ name: 'gw', type: 'spool', path: folder, format: 'senseye-json', after: 'move', poll_interval: '50ms' }]);
    const agent = start(file);
    await waitFor(() => agent.logs().some((l) => l.event === 'source_waiting'), 'the source waiting for its folder');
    mkdirSync(folder);
    const doc = [{ assetId: 'gw-1', dataPoints: [0, 1, 2].map((i) => ({ timestamp: new Date(T0 + i * 1000).toISOString(), measures: [{ name: 'm', value: i }] })) }];
    writeFileSync(path.join(dir, 'tmp.json'), JSON.stringify(doc));
    renameSync(path.join(dir, 'tmp.json'), path.join(folder, 'batch-1.json'));
    await waitFor(() => existsSync(path.join(folder, 'done', 'batch-1.json')) && hub.store.dataPoints.length >= 3, 'the file delivered and moved', { timeoutMs: 15_000 });
    // More files: each one's position is deleted once it is moved, so the outbox keeps none.
    for (let k = 2; k <= 4; k++) {
      const more = [{ assetId: 'gw-1', dataPoints: [{ timestamp: new Date(T0 + k * 1000 + 1000).toISOString(), measures: [{ name: 'm', value: k + 1 }] }] }];
      writeFileSync(path.join(dir, 'tmp.json'), JSON.stringify(more));
      renameSync(path.join(dir, 'tmp.json'), path.join(folder, `batch-${k}.json`));
    }
    await waitFor(() => existsSync(path.join(folder, 'done', 'batch-4.json')) && hub.store.dataPoints.length >= 6, 'the other files delivered and moved', { timeoutMs: 15_000 });
    await stop(agent);
    expect(sorted(receivedKeys(hub))).toEqual(sorted([0, 1, 2, 3, 4, 5].map((i) => key('gw-1', 'm', i))));
    const db = new Database(path.join(dir, 'state', 'outbox.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT COUNT(*) FROM checkpoints WHERE source = 'gw'").pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('delivers spectra from jsonl and spectrum-csv to frequency sensors', async () => {
    const spectrum = { amplitudeUnit: 'mm/s', measurementType: 'velocity', spacing: 2.5, end: 7.5, number: 4, speed: 24.5, data: [0.1, 0.2, 0.3, 0.4] };
    writeFileSync(path.join(dir, 'vib.jsonl'), JSON.stringify({ sensor: 'vib-01', ts: new Date(T0).toISOString(), spectrum }) + '\n');
    writeFileSync(
      path.join(dir, 'vib.csv'),
      'timestamp,amplitudeUnit,measurementType,spacing,end,number,speed,data\n' + `${new Date(T0 + 60_000).toISOString()},m/s^2,acceleration,0.5,1.5,4,24.5,"1,2,3,4"\n`,
    );
    const file = config([
      { name: 'vj', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' },
      { name: 'vc', type: 'file', path: path.join(dir, '*.csv'), format: 'spectrum-csv', sensor: 'vib-02' },
    ]);
    const agent = start(file);
    await waitFor(() => hub.store.spectra.length >= 2, 'both spectra', { timeoutMs: 15_000 });
    await stop(agent);
    const names = new Map(hub.store.sensors.map((s) => [s.id, s.mappingId]));
    expect(hub.store.spectra.map((s) => [names.get(s.sensorId), s.timestamp, s.amplitudeUnit, s.data]).sort()).toEqual([
      ['vib-01', new Date(T0).toISOString(), 'mm/s', [0.1, 0.2, 0.3, 0.4]],
      ['vib-02', new Date(T0 + 60_000).toISOString(), 'm/s^2', [1, 2, 3, 4]],
    ]);
    expect(hub.store.sensors.every((s) => s.ingest === 'frequency')).toBe(true);
  });
});
