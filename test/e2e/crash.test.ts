// Crash safety, proven: the real daemon is killed with SIGKILL at random moments while the hub
// throttles and fails requests; at the end the hub holds every reading that was written, and
// every repeat is a whole batch sent again under its own batch id.
import { appendFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let hub: HubEmulator | undefined;
const running: AgentProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await hub?.close();
});

// A seeded generator, so a failing run can be repeated (the seed is printed).
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

it('loses nothing across 12 SIGKILLs under throttling and faults, fed by files and a socket; repeats are whole batches with their ids', async () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
  const random = lcg(seed);
  hub = await createHubEmulator();
  hub.faults.setRateLimit({ requestsPerSecond: 60, burst: 10 });
  const dir = tempDir();
  const files = [path.join(dir, 'line-a.jsonl'), path.join(dir, 'line-b.jsonl')];
  const config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [
      { name: 'lines', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' },
      { name: 'socket', type: 'tcp', listen: '127.0.0.1:0', format: 'jsonl' },
    ],
    hub: { batch: { max_points: 400, max_wait: '20ms' }, concurrency: 4, retry: { initial_delay: '20ms', max_delay: '300ms' } },
  });
  const written: string[] = [];
  let next = 0;
  const write = (n: number) => {
    const list = jsonlReadings(next, n, ['press-01', 'press-02', 'press-03', 'press-04', 'press-05']);
    next += n;
    appendFileSync(files[next % 2]!, toJsonl(list));
    written.push(...list.map(key));
  };
  for (const f of files) writeFileSync(f, '');
  write(8000);
  // Socket readings: a sender's data is safe once committed (plain TCP has no acknowledgement
  // the agent could give earlier), so each cycle waits for its socket batch to commit, then kills.
  const socketCommitted = () => {
    try {
      const db = new Database(path.join(dir, 'state', 'outbox.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare("SELECT value FROM counters WHERE name = 'received.socket'").pluck().get() as number | undefined) ?? 0;
      } finally {
        db.close();
      }
    } catch {
      return 0;
    }
  };
  let socketSent = 0;
  const sendSocket = async (agent: AgentProcess, n: number) => {
    const started = await waitFor(() => agent.logs().find((l) => l.event === 'source_listening' && l.source === 'socket'), 'the TCP source to listen');
    const port = Number(String(started.address).split(':').pop());
    const list = jsonlReadings(1_000_000 + socketSent, n, ['socket-1', 'socket-2']);
    socketSent += n;
    written.push(...list.map(key));
    await new Promise<void>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => c.end(toJsonl(list)));
      c.on('close', () => resolve());
      c.on('error', reject);
    });
    await waitFor(() => socketCommitted() >= socketSent, 'the socket readings to commit');
  };

  const kills = 12;
  for (let k = 0; k < kills; k++) {
    const faults = [
      { endpoint: 'graphql' as const, status: 503, times: 2 },
      { endpoint: 'graphql' as const, reset: true },
      { endpoint: 'graphql' as const, status: 200, phase: 'after' as const, reset: true }, // stored, answer lost
      { endpoint: 'graphql' as const, status: 429, retryAfter: '0' },
    ];
    hub.faults.add(faults[Math.floor(random() * faults.length)]!);
    const agent = spawnAgent(['run', '--config', config, '--log-level', 'info'], { SENSEYE_TOKEN: hub.token });
    running.push(agent);
    await sendSocket(agent, 200 + Math.floor(random() * 300));
    const before = hub.store.dataPoints.length;
    // Kill at a random point after it has made some progress (bounded by waitFor's timeout).
    const progress = 1 + Math.floor(random() * 1500);
    await waitFor(() => hub!.store.dataPoints.length >= before + progress || agent.child.exitCode !== null, 'progress before the kill');
    agent.child.kill('SIGKILL');
    await agent.exited;
    write(1000 + Math.floor(random() * 2000));
  }

  const last = spawnAgent(['run', '--config', config, '--log-level', 'warn'], { SENSEYE_TOKEN: hub.token });
  running.push(last);
  const expected = new Set(written);
  await waitFor(() => new Set(receivedKeys(hub!)).size >= expected.size, 'every reading after the last restart', { timeoutMs: 90_000 });
  last.child.kill('SIGTERM');
  expect((await last.exited).code).toBe(0);

  const received = receivedKeys(hub);
  expect(new Set(received), `seed ${seed} (repeat with CRASH_SEED=${seed})`).toEqual(expected); // zero lost, nothing invented
  const duplicates = received.length - expected.size;
  // Every repeat of a data point came in a mutation with the same batch id as its first delivery.
  const firstBatch = new Map<string, string | null>();
  const byBatch = new Map<string, number>();
  received.forEach((k, i) => {
    const id = hub!.store.dataPoints[i]!.clientMutationId;
    const seen = firstBatch.get(k);
    if (seen === undefined) firstBatch.set(k, id);
    else expect(id, `seed ${seed}: ${k} repeated under another batch id`).toBe(seen);
    byBatch.set(String(id), (byBatch.get(String(id)) ?? 0) + 1);
  });
  // Report what repeated (visible in the test output).
  console.log(
    `crash test (seed ${seed}): ${expected.size} readings (${socketSent} over TCP), ${kills} SIGKILLs, ${duplicates} duplicates ` +
      `(${((duplicates / expected.size) * 100).toFixed(2)} %), ${hub.store.counters.duplicateMutationIds} repeated batches, ` +
      `${hub.store.counters.rateLimited} rate-limited answers`,
  );
  // At most the batches in flight at each kill (concurrency 4 × 400 points) plus lost answers repeat.
  expect(duplicates).toBeLessThanOrEqual((kills + 4) * 4 * 400);
}, 180_000);
