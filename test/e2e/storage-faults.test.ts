// Storage faults, made to happen for real under the real agent process: a full disk (a small
// tmpfs), the state directory or outbox.db deleted or replaced while running, a file size limit
// (prlimit --fsize). Each must be a fault with a log event, a metric and a /readyz reason, never
// an uncaught exception; the agent heals when the cause goes away, or stops in order and exits 75.
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { canMountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait.js';

const MOUNT = canMountTmpfs();
if (!MOUNT) console.warn('storage-faults: full-disk tests skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)');
const PRLIMIT = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!PRLIMIT) console.warn('storage-faults: the file size limit test is skipped: prlimit (util-linux) is not installed');

let hub: HubEmulator;
let dir: string;
const running: AgentProcess[] = [];
const mounts: string[] = [];

beforeEach(async () => {
  hub = await createHubEmulator();
  dir = tempDir();
});
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  await hub.close();
});

function mountTmpfs(at: string, size = '8m'): void {
  mkdirSync(at, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]);
  mounts.push(at);
}

function start(config: string): AgentProcess {
  const p = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub.token });
  running.push(p);
  return p;
}

function configFor(stateDir: string, file: string, extra: Record<string, unknown> = {}, hubSettings: Record<string, unknown> = {}): string {
  return writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir,
    sources: [{ name: 'press', type: 'file', path: file, format: 'jsonl' }],
    hub: { batch: { max_points: 1000, max_wait: '50ms' }, ...hubSettings },
    extra: { http: { listen: '127.0.0.1:0' }, ...extra },
  });
}

const event = (p: AgentProcess, name: string) => p.logs().find((l) => l.event === name);
const events = (p: AgentProcess, name: string) => p.logs().filter((l) => l.event === name);

async function httpUrl(p: AgentProcess): Promise<string> {
  const line = await waitFor(() => event(p, 'http_listening'), 'the health endpoint to listen');
  return line.url as string;
}

async function readyz(base: string): Promise<{ status: number; body: { ready: boolean; reasons: Array<{ check: string; reason: string }> } }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

async function metric(base: string, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/** No JavaScript stack trace anywhere in what the process printed. */
function expectNoStackTrace(p: AgentProcess): void {
  expect(p.stderr()).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  expect(p.logs().filter((l) => l.event === 'shipper_crashed')).toEqual([]);
}

describe('full disk', () => {
  it.skipIf(!MOUNT)(
    'is backpressure, not a crash: not ready with the reason while full, every reading delivered once space and the hub return, ready again without a restart',
    async () => {
      const mnt = path.join(dir, 'mnt');
      mountTmpfs(mnt);
      const stateDir = path.join(mnt, 'state');
      // Ballast the operator deletes later: "space returns".
      const ballast = path.join(mnt, 'ballast');
      writeFileSync(ballast, Buffer.alloc(5 * 1024 * 1024));
      const file = path.join(dir, 'in.jsonl');
      const all = jsonlReadings(0, 100_000);
      writeFileSync(file, toJsonl(all));
      hub.faults.add({ endpoint: 'any', status: 503, times: Number.POSITIVE_INFINITY });
      const agent = start(configFor(stateDir, file, { outbox: { min_free_disk: 0 } }));
      const base = await httpUrl(agent);

      const fault = await waitFor(() => event(agent, 'storage_fault'), 'a storage fault as the disk fills', { timeoutMs: 20_000 });
      expect(fault.kind).toBe('disk_full');
      expect((await waitFor(() => event(agent, 'outbox_write_failed'), 'the failed commit logged')).code).toBe('SQLITE_FULL');
      // Seen together in one look. The reason is the failed commit's, or, once the agent keeps room
      // for its WAL checkpoint after the disk filled, the capacity guard's "0 bytes free".
      let seen = '';
      await waitFor(async () => {
        const r = await readyz(base);
        const reason = r.body.reasons.find((x) => x.check === 'outbox')?.reason ?? '';
        const blocked = await metric(base, 'senseye_agent_outbox_blocked');
        const fault = await metric(base, 'senseye_agent_storage_fault{reason="disk_full"}');
        seen = `${r.status} ${JSON.stringify(reason)}, outbox_blocked ${blocked}, storage_fault ${fault}`;
        return r.status === 503 && /SQLITE_FULL|disk_full| 0 bytes free/.test(reason) && blocked === 1 && fault === 1;
      }, '/readyz 503 with the disk-full reason, outbox_blocked 1, storage_fault{reason="disk_full"} 1').catch((err: Error) => {
        throw new Error(`${err.message}; last seen: ${seen}`);
      });
      expect(await metric(base, 'senseye_agent_outbox_write_failures_total{operation="commit"}')).toBeGreaterThan(0);

      // A probe write that fits while the held readings do not never ends the fault (it did, every
      // 2 s, until the held commit failed again: /readyz and the metric flapped).
      expect(events(agent, 'storage_fault_cleared')).toEqual([]);
      expect(await metric(base, 'senseye_agent_storage_fault{reason="disk_full"}')).toBe(1);

      // The hub comes back while the disk is still full: deleting delivered rows may fail; the
      // agent must live on (a failed ack is a retry, not shipper_crashed).
      hub.faults.clear();
      await waitFor(() => hub.store.dataPoints.length > 0, 'deliveries while the disk is full');
      expect(agent.child.exitCode).toBeNull();
      // Space returns.
      rmSync(ballast);
      // The cheap count first: the emulator runs in this process, and keying 100,000 points every poll slows it.
      await waitFor(() => hub.store.dataPoints.length >= all.length && new Set(receivedKeys(hub)).size >= all.length, 'every reading at the hub', {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      await waitFor(async () => (await readyz(base)).status === 200, 'ready again without a restart', { timeoutMs: 10_000 });
      expect(await metric(base, 'senseye_agent_outbox_blocked')).toBe(0);
      expect(await metric(base, 'senseye_agent_storage_fault{reason="disk_full"}')).toBeUndefined();
      expect(event(agent, 'storage_fault_cleared')?.kind).toBe('disk_full');

      agent.child.kill('SIGTERM');
      expect((await agent.exited).code, agent.stderr()).toBe(0);
      expectNoStackTrace(agent);
      // Nothing lost; a reading arrives twice only from a batch whose rows could not be deleted.
      const received = receivedKeys(hub);
      expect(sorted([...new Set(received)])).toEqual(sorted(all.map(key)));
      const ackFailures = events(agent, 'outbox_ack_failed').length;
      expect(received.length - all.length).toBeLessThanOrEqual(ackFailures * 1000);
      console.log(
        `full disk: ${events(agent, 'outbox_write_failed').length} failed commits, ${ackFailures} failed acks, ` +
          `${received.length - all.length} duplicate readings at the hub`,
      );
    },
    30_000,
  );
});

/** Fills the filesystem at `dir` to the last byte (a file written until ENOSPC). */
function fillDisk(at: string): void {
  const fd = openSync(path.join(at, 'filler'), 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, block);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  }
  // The last bytes a whole block did not fit in.
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, block.subarray(0, 512));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('start on a full disk', () => {
  it.skipIf(!MOUNT)('exits 75 with one line saying why and what to do; status and outbox doctor still work, read-only', async () => {
    const mnt = path.join(dir, 'mnt');
    mountTmpfs(mnt);
    const stateDir = path.join(mnt, 'state');
    const file = path.join(dir, 'in.jsonl');
    const readings = jsonlReadings(0, 2000);
    writeFileSync(file, toJsonl(readings));
    // The hub refuses, so readings wait in the outbox: status has something to show.
    hub.faults.add({ endpoint: 'any', status: 503, times: Number.POSITIVE_INFINITY });
    const config = configFor(stateDir, file, { outbox: { min_free_disk: 0 }, http: { listen: null } });
    const first = start(config);
    await waitFor(() => first.logs().some((l) => l.event === 'hub_retry' || l.event === 'hub_throttled'), 'the outbox to hold readings');
    await waitFor(() => {
      const db = new Database(path.join(stateDir, 'outbox.db'), { readonly: true });
      try {
        return (db.prepare("SELECT value FROM counters WHERE name = 'received.press'").pluck().get() as number | undefined) === readings.length;
      } finally {
        db.close();
      }
    }, 'every reading committed');
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    fillDisk(mnt);
    expect(statfsSync(mnt).bavail).toBe(0);

    const second = start(config);
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(75);
    const lines = second.stderr().trim().split('\n');
    expect(lines, second.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^senseye-agent: cannot start: the filesystem of .* is full \((SQLITE_FULL|SQLITE_IOERR_SHMSIZE): .*\): free space there/);
    expectNoStackTrace(second);
    expect(second.logs().find((l) => l.event === 'startup_failed')?.code).toBe('SENSEYE_STORAGE_FAULT');

    const status = await runAgentCommand(['status', '--config', config, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { counts: { depth: number }; sources: Array<{ offset: number }> };
    expect(report.counts.depth).toBe(readings.length * 1);
    expect(report.sources[0]!.offset).toBe(statSync(file).size);

    const doctor = await runAgentCommand(['outbox', 'doctor', '--config', config]);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain('integrity ok');
    expect(doctor.stderr).toBe('');
  }, 30_000);
});

describe('state_dir or outbox.db taken away while running', () => {
  /**
   * Runs the agent on `count` readings with a slow hub, does `harm` to its state once some are
   * delivered, and expects an ordered stop: the open outbox written back, exit 75, one line.
   * Then a restart on the written-back outbox with more input must deliver everything, each
   * reading once: the file goes on from its committed position.
   */
  async function takenAway(harm: (stateDir: string) => void, kind: string) {
    const stateDir = path.join(dir, 'state');
    const file = path.join(dir, 'in.jsonl');
    const first = jsonlReadings(0, 9000);
    writeFileSync(file, toJsonl(first));
    hub.faults.setRateLimit({ requestsPerSecond: 4, burst: 1 });
    const config = configFor(stateDir, file, { http: { listen: null } }, { batch: { max_points: 500, max_wait: '50ms' } });
    const agent = start(config);
    await waitFor(() => hub.store.dataPoints.length >= 1000, 'the first deliveries');
    harm(stateDir);
    const { code } = await agent.exited;
    expect(code, agent.stderr()).toBe(75);
    expectNoStackTrace(agent);
    const lines = agent.stderr().trim().split('\n');
    expect(lines, agent.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^senseye-agent: .* while the agent had (it|its outbox) open; the outbox was written back to its path: restart the agent \(exit 75\)$/);
    expect(event(agent, 'storage_fault')?.kind).toBe(kind);
    expect(event(agent, 'outbox_lost')?.kind).toBe(kind);
    expect(event(agent, 'outbox_written_back')).toBeDefined();
    if (kind === 'state_dir_missing') expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    const deliveredBefore = hub.store.dataPoints.length;
    expect(deliveredBefore).toBeLessThan(first.length); // stopped mid-way: the restart has work left

    hub.faults.setRateLimit(null);
    const more = jsonlReadings(9000, 1000);
    appendFileSync(file, toJsonl(more));
    const all = [...first, ...more];
    const again = start(config);
    await waitFor(() => hub.store.dataPoints.length >= all.length, 'every reading after the restart', { timeoutMs: 15_000 });
    again.child.kill('SIGTERM');
    expect((await again.exited).code, again.stderr()).toBe(0);
    expect(again.logs().some((l) => l.event === 'outbox_damaged')).toBe(false);
    const received = receivedKeys(hub);
    expect(sorted([...new Set(received)])).toEqual(sorted(all.map(key)));
    const duplicates = received.length - all.length;
    console.log(`${kind}: ${deliveredBefore} delivered before, ${duplicates} duplicate readings at the hub after the restart`);
    // Requests in flight finish during the ordered stop: nothing is sent twice.
    expect(duplicates).toBe(0);
    return { agent, again };
  }

  it('state_dir deleted: noticed, stopped in order, outbox written back (dir made again, 0700), exit 75; the restart reads nothing twice', async () => {
    await takenAway((stateDir) => rmSync(stateDir, { recursive: true, force: true }), 'state_dir_missing');
  }, 30_000);

  it('outbox.db deleted: noticed, stopped in order, outbox written back, exit 75; the restart reads nothing twice', async () => {
    await takenAway((stateDir) => rmSync(path.join(stateDir, 'outbox.db')), 'outbox_replaced');
  }, 30_000);

  it('outbox.db replaced by another file: noticed, that file moved aside, the outbox written back, exit 75; the restart reads nothing twice', async () => {
    const { agent } = await takenAway((stateDir) => {
      const other = path.join(stateDir, 'other.db');
      writeFileSync(other, 'not the outbox\n');
      renameSync(other, path.join(stateDir, 'outbox.db'));
    }, 'outbox_replaced');
    // The file found at the path (its -wal and -shm, if any, moved with it).
    const aside = readdirSync(path.join(dir, 'state')).filter((f) => f.startsWith('outbox.db.replaced-') && !/-(wal|shm)$/.test(f));
    expect(aside).toHaveLength(1);
    expect(event(agent, 'outbox_written_back')?.moved_aside).toBe(path.join(dir, 'state', aside[0]!));
    expect(readFileSync(path.join(dir, 'state', aside[0]!), 'utf8')).toBe('not the outbox\n');
  }, 30_000);
});

describe('file size limit', () => {
  it.skipIf(!PRLIMIT)(
    'prlimit --fsize: an I/O fault (log event, metric, /readyz reason), SIGTERM still ends in order; a restart without the limit delivers everything',
    async () => {
      const stateDir = path.join(dir, 'state');
      const file = path.join(dir, 'in.jsonl');
      const all = jsonlReadings(0, 60_000);
      writeFileSync(file, toJsonl(all));
      hub.faults.add({ endpoint: 'any', status: 503, times: Number.POSITIVE_INFINITY });
      const config = configFor(stateDir, file);
      const agent = start(config);
      const base = await httpUrl(agent);
      // Files the agent writes may not grow past 512 KiB from now on (Node ignores SIGXFSZ: writes fail with EFBIG).
      execFileSync('prlimit', ['--pid', String(agent.child.pid), '--fsize=524288:524288']);

      const fault = await waitFor(() => event(agent, 'storage_fault'), 'a storage fault at the size limit');
      expect(['io_error', 'disk_full']).toContain(fault.kind);
      expect(String((await waitFor(() => event(agent, 'outbox_write_failed'), 'the failed commit logged')).code)).toMatch(/^SQLITE_(IOERR|FULL)/);
      const r = await readyz(base);
      expect(r.status).toBe(503);
      expect(r.body.reasons.find((x) => x.check === 'outbox')?.reason).toMatch(/outbox writes fail: SQLITE_(IOERR|FULL)/);
      expect(await metric(base, `senseye_agent_storage_fault{reason="${String(fault.kind)}"}`)).toBe(1);
      expect(await metric(base, 'senseye_agent_outbox_blocked')).toBe(1);

      agent.child.kill('SIGTERM');
      const { code } = await agent.exited;
      expect([0, 75], agent.stderr()).toContain(code);
      expectNoStackTrace(agent);
      expect(event(agent, 'agent_stopped')).toBeDefined();

      // What committed before the limit is intact; what was not is read again from its position.
      hub.faults.clear();
      const again = start(config);
      await waitFor(() => hub.store.dataPoints.length >= all.length, 'every reading after a restart without the limit', { timeoutMs: 20_000, intervalMs: 100 });
      again.child.kill('SIGTERM');
      expect((await again.exited).code, again.stderr()).toBe(0);
      expect(again.logs().some((l) => l.event === 'outbox_damaged')).toBe(false);
      const received = receivedKeys(hub);
      expect(sorted([...new Set(received)])).toEqual(sorted(all.map(key)));
      expect(received.length).toBe(all.length);
    },
    30_000,
  );

  it.skipIf(!PRLIMIT)('the limit lifted while running: writes succeed again, ready again and everything delivered, without a restart', async () => {
    const stateDir = path.join(dir, 'state');
    const file = path.join(dir, 'in.jsonl');
    const all = jsonlReadings(0, 60_000);
    writeFileSync(file, toJsonl(all));
    hub.faults.add({ endpoint: 'any', status: 503, times: Number.POSITIVE_INFINITY });
    const agent = start(configFor(stateDir, file));
    const base = await httpUrl(agent);
    // The soft limit only: raising a hard limit again needs CAP_SYS_RESOURCE, which a container may lack.
    execFileSync('prlimit', ['--pid', String(agent.child.pid), '--fsize=524288:']);
    await waitFor(() => event(agent, 'storage_fault'), 'a storage fault at the size limit');
    await waitFor(async () => (await readyz(base)).status === 503, 'not ready while writes fail');

    execFileSync('prlimit', ['--pid', String(agent.child.pid), '--fsize=unlimited:']);
    await waitFor(() => event(agent, 'outbox_write_recovered'), 'a commit to succeed again', { timeoutMs: 15_000 });
    await waitFor(() => event(agent, 'storage_fault_cleared'), 'the fault cleared');
    hub.faults.clear();
    await waitFor(() => hub.store.dataPoints.length >= all.length, 'every reading', { timeoutMs: 20_000, intervalMs: 100 });
    await waitFor(async () => (await readyz(base)).status === 200, 'ready again');
    expect(await metric(base, 'senseye_agent_storage_fault{reason="io_error"}')).toBeUndefined();
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code, agent.stderr()).toBe(0);
    expectNoStackTrace(agent);
    const received = receivedKeys(hub);
    expect(sorted([...new Set(received)])).toEqual(sorted(all.map(key)));
    expect(received.length).toBe(all.length);
  }, 30_000);
});
