// Planning the next round in a worker thread (src/hub/planner.ts): the worker's own connection
// to a real outbox file plans exactly what this thread would, delivery with it keeps order and
// sends each reading once, and a worker that cannot run leaves planning to this thread.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { MachineToken } from '../../src/auth/token.js';
import { createHubEmulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { BatchSender, type ReadingsBatch } from '../../src/hub/batch-sender.js';
import { DEFAULT_ANSWER_RULES } from '../../src/hub/answer-rules.js';
import { HubClient } from '../../src/hub/client.js';
import { BODY_HEAD_ROOM } from '../../src/hub/body-buffers.js';
import { encodeMutation } from '../../src/hub/encode.js';
import { HubGate } from '../../src/hub/gate.js';
import { InlinePlanner, planRoundSync, WorkerPlanner, type PlannedRound, type RoundPlanner, type RoundRequest } from '../../src/hub/planner.js';
import type { RoundSettings } from '../../src/hub/round-plan.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import { createRig, dataRequests, expectEachSensorInOrder, readings, type Rig } from '../helpers/delivery-rig.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const EIGHT = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const SETTINGS: RoundSettings = { lane: LIVE_LANE, maxPoints: 500, maxBytes: 768 * 1024, concurrency: 4 };
const request = (afterId: number, waitingSensors: string[] = [], more: Partial<RoundRequest> = {}): RoundRequest => ({
  from: afterId === 0 ? undefined : { afterId, floor: new Map() },
  probe: false,
  waitingSensors,
  minReadings: 0,
  ...more,
});

let rig: Rig | undefined;
let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await rig?.close();
  rig = undefined;
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function filledOutbox(commits: number): Outbox {
  const outbox = Outbox.inStateDir(tempDir());
  cleanup.push(() => outbox.close());
  for (let k = 0; k < commits; k++) outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(2000, EIGHT, k * 2000), deadLetters: [] }]);
  return outbox;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/**
 * A BatchSender with a real outbox, talking to the emulator (which refuses the points
 * `rejectPoint` names) about its sensor "a".
 */
async function senderOnEmulator(rejectPoint: EmulatorOptions['rejectPoint'], events: Array<Record<string, unknown>>, recycle?: (points: Uint8Array) => void) {
  const hub = await createHubEmulator({ rejectPoint });
  cleanup.push(() => hub.close());
  const client = new HubClient({
    url: hub.url,
    token: () => new MachineToken(hub.token, 'test'),
    timeoutMs: 5000,
    paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' },
    // As behind an idempotency layer whose 409 means "already stored" (the hand-back test uses it).
    answers: { ...DEFAULT_ANSWER_RULES, conflictMeansStored: true },
  });
  cleanup.push(() => client.close());
  const sensor = hub.store.createSensor({ name: 'a', ingest: 'timeseries' });
  const outbox = Outbox.inStateDir(tempDir());
  cleanup.push(() => outbox.close());
  const sender = new BatchSender(outbox, client, new HubGate(null), quietLogger(events), () => undefined, recycle);
  return { hub, sensor, outbox, sender };
}

function quietLogger(events: Array<Record<string, unknown>>) {
  return pino({ level: 'debug' }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
}

describe('planning rounds in a worker thread', () => {
  it('plans the same batches, ids and encoded points as this thread, for any starting id', async () => {
    const outbox = filledOutbox(10);
    const events: Array<Record<string, unknown>> = [];
    const planner = new WorkerPlanner(outbox, SETTINGS, quietLogger(events));
    cleanup.push(() => planner.close());
    for (const req of [request(0), request(1234), request(7000), request(0, [], { probe: true })]) {
      const here = planRoundSync(outbox.reader, SETTINGS, req);
      const there = await planner.plan(req);
      expect(here.batches.length).toBeGreaterThan(0);
      expect(there.readings).toBe(here.readings);
      expect(there.next).toEqual(here.next);
      expect(there.batches.map((j) => j.record)).toEqual(here.batches.map((j) => j.record));
      expect(there.batches.map((j) => j.ids)).toEqual(here.batches.map((j) => j.ids));
      // (compared as a boolean: a mismatch of 500 encoded points would print megabytes)
      expect(there.batches.every((j, k) => sameBytes(j.points!, here.batches[k]!.points!) && j.points!.length > 0)).toBe(true);
      // Only ids and points cross the thread boundary; the rows stay in the worker.
      expect(there.batches.every((j) => j.items === undefined && j.ids.length > 0)).toBe(true);
    }
    // Rows committed after the worker opened its connection are seen (and new streams with them).
    const late = ['late-1', 'late-2', 'late-3', 'late-4'];
    const last = outbox.readWaiting(LIVE_LANE, 1_000_000).at(-1)!.id;
    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(1000, late), deadLetters: [] }]);
    // Fewer than minReadings past the round on the wire: counted on the index, not claimed.
    expect(await planner.plan(request(last, [], { minReadings: 2000 }))).toEqual({ batches: [], readings: 1000, next: null });
    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(4000, late, 1000), deadLetters: [] }]);
    const there = await planner.plan(request(last, ['late-4']));
    const here = planRoundSync(outbox.reader, SETTINGS, request(last, ['late-4']));
    expect(there.batches.map((j) => j.record)).toEqual(here.batches.map((j) => j.record));
    expect(there.batches.length).toBeGreaterThan(1);
    expect(there.batches.some((j) => j.record.sensor === 'late-4')).toBe(false);
    expect(events.filter((e) => e.level === 40)).toEqual([]);
  });

  it('reuses the buffers of accepted batches: handed back, they leave this thread, and come back holding only the new batch', async () => {
    const outbox = filledOutbox(6);
    // Batches cut at ~40 KiB of points: a pooled size (a batch under a quarter of it gets a buffer of its own).
    const settings: RoundSettings = { ...SETTINGS, maxBytes: 40 * 1024 };
    const planner = new WorkerPlanner(outbox, settings, quietLogger([]));
    cleanup.push(() => planner.close());
    const address = { sensorId: 'id-of-every-sensor' };
    // (encodeMutation writes the head into the room before the points: a used buffer's room is not zero)
    const body = (j: ReadingsBatch) => JSON.parse(String(encodeMutation(address, j.record.batchId, j.points!))) as { variables: { input: { dataPoints: unknown[] } } };
    const used = (j: ReadingsBatch) => new Uint8Array(j.points!.buffer, 0, BODY_HEAD_ROOM).some((b) => b !== 0);
    const first = await planner.plan(request(0));
    expect(first.batches.length).toBeGreaterThanOrEqual(2 * settings.concurrency);
    expect(first.batches.some(used)).toBe(false); // fresh, zero-filled
    const firstBodies = first.batches.map(body);
    for (const batch of first.batches) expect(planner.recycle(batch.points!)).toBe(true);
    // Transferred: detached here, so nothing on this thread can still write to or send them.
    expect(first.batches.every((j) => j.points!.length === 0 && j.points!.buffer.byteLength === 0)).toBe(true);
    // The next rounds are encoded into those buffers (the pool keeps 2 × concurrency + 2), over
    // other batches' bytes; each body is still exactly the one planned on this thread.
    for (const req of [request(0), request(1234, ['a', 'b'])]) {
      const there = await planner.plan(req);
      const here = planRoundSync(outbox.reader, settings, req);
      expect(there.batches.filter(used).length).toBeGreaterThan(0);
      expect(there.batches.map((j) => j.record)).toEqual(here.batches.map((j) => j.record));
      expect(there.batches.map(body)).toEqual(here.batches.map(body));
      if (req.from === undefined) expect(there.batches.map(body)).toEqual(firstBodies);
      for (const batch of there.batches) planner.recycle(batch.points!);
    }
  });

  it('leaves out rows in flight of a stream the worker has not seen yet (its registry is refreshed before a plan)', async () => {
    const outbox = Outbox.inStateDir(tempDir());
    cleanup.push(() => outbox.close());
    const row = (sensor: string, measure: string, k: number) => ({ sensor, measure, ts: 1_700_000_000_000 + k, value: k });
    outbox.append([{ source: 'test', lane: LIVE_LANE, deadLetters: [], readings: Array.from({ length: 100 }, (_, k) => row('a', 'm1', k)) }]);
    const planner = new WorkerPlanner(outbox, SETTINGS, quietLogger([]));
    cleanup.push(() => planner.close());
    await planner.plan(request(0)); // the worker has loaded its registry: sensor a has one stream
    // A new measure of a, then other sensors: a's rows up to `floor` are "on the wire".
    outbox.append([{ source: 'test', lane: LIVE_LANE, deadLetters: [], readings: Array.from({ length: 100 }, (_, k) => row('a', 'm2', 100 + k)) }]);
    outbox.append([{ source: 'test', lane: LIVE_LANE, deadLetters: [], readings: Array.from({ length: 3000 }, (_, k) => row(`b${k % 3}`, 'm', 200 + k)) }]);
    const aRows = outbox.readWaiting(LIVE_LANE, 10_000).filter((r) => r.sensor === 'a');
    const floor = aRows.at(-1)!.id;
    const round = await planner.plan({ from: { afterId: 50, floor: new Map([['a', floor]]) }, probe: false, waitingSensors: [], minReadings: 0 });
    const claimedIds = round.batches.flatMap((j) => j.ids);
    expect(claimedIds.length).toBeGreaterThan(0);
    expect(claimedIds.filter((id) => aRows.some((r) => r.id === id))).toEqual([]);
  });

  it('falls back to planning on this thread, once said, when the worker cannot open the outbox', async () => {
    const outbox = filledOutbox(4);
    const events: Array<Record<string, unknown>> = [];
    // The same outbox, but the worker is told a file that does not exist.
    const elsewhere = Object.create(outbox, { file: { value: `${tempDir()}/missing/outbox.db` } }) as Outbox;
    const planner = new WorkerPlanner(elsewhere, SETTINGS, quietLogger(events));
    cleanup.push(() => planner.close());
    await waitFor(() => events.some((e) => e.event === 'planner_stopped'), 'the worker to report its failure');
    const round = await planner.plan(request(0));
    expect(round.batches.map((j) => j.ids)).toEqual(planRoundSync(outbox.reader, SETTINGS, request(0)).batches.map((j) => j.ids));
    expect(events.filter((e) => e.event === 'planner_stopped')).toHaveLength(1);
  });

  it('says when its thread is up (the shipper plans on its own thread until then)', async () => {
    const outbox = filledOutbox(1);
    const planner = new WorkerPlanner(outbox, SETTINGS, quietLogger([]));
    cleanup.push(() => planner.close());
    expect(planner.ready).toBe(false); // its first message cannot have arrived yet
    await waitFor(() => planner.ready, 'the worker to say it is up');
    await planner.close();
    expect(planner.ready).toBe(false);
  });

  it('delivers a backlog with rounds planned in the worker: each sensor in order, each reading once', async () => {
    const planner = workerFor(() => rig!.outbox);
    rig = await createRig({ emulator: { latencyMs: 10 }, planner });
    await planner.up();
    for (let k = 0; k < 20; k++) rig.append(readings(2000, EIGHT, k * 2000));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(rig.shipper.stats().plannedAhead).toBeGreaterThan(3);
    expect(rig.hub.store.counters).toMatchObject({ datapointsAccepted: 40_000, overwrites: 0 });
    expectEachSensorInOrder(rig.hub, 8);
    // Full requests but two: the probe first (the oldest sensor's rows of the first window, not
    // topped up) and, last, the rest of that sensor's rows.
    const sizes = dataRequests(rig.hub).map((r) => (r.status === 200 ? (r.pointCount ?? 0) : -1));
    expect(sizes[0]).toBe(250);
    expect(sizes.slice(1, -1).every((n) => n === 500)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(40_000);
    expect(rig.outbox.ledger.list(0)).toEqual([]);
    expect(rig.logs.filter((e) => e.event === 'planner_failed' || e.event === 'planner_stopped')).toEqual([]);
  });

  it('splits a refused batch planned in the worker (its rows read back) and dead-letters only the refused points', async () => {
    // One refused point per 8,000 readings: some land in rounds planned in the worker.
    const refused = (v: number) => v % 8000 === 7999.5;
    const planner = workerFor(() => rig!.outbox);
    rig = await createRig({ emulator: { latencyMs: 5, rejectPoint: (p) => (refused(p.value as number) ? 'value out of range' : null) }, planner });
    await planner.up();
    for (let k = 0; k < 20; k++) rig.append(readings(2000, EIGHT, k * 2000));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(rig.outbox.counts()).toMatchObject({ delivered: 39_995, rejected: 5 });
    expect(rig.outbox.deadLetters.list().map((d) => d.value).sort((x, y) => Number(x) - Number(y))).toEqual([7999.5, 15999.5, 23999.5, 31999.5, 39999.5]);
    expect(rig.hub.store.counters).toMatchObject({ datapointsAccepted: 39_995, overwrites: 0 });
    expect(rig.logs.some((e) => e.event === 'batch_split' && e.rows_read_back === true)).toBe(true);
  });

  it('hands a planned batch\'s buffer back only after a 200 (not after a failure, a refusal or a 409, which may come before the body is read)', async () => {
    const handedBack: Uint8Array[] = [];
    const { hub, sensor, outbox, sender } = await senderOnEmulator((p) => (p.value === 15.5 ? 'refused' : null), [], (points) => void handedBack.push(points));
    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(40, ['a']), deadLetters: [] }]);
    const [first, second, third, fourth] = planRoundSync(outbox.reader, { ...SETTINGS, maxPoints: 10 }, request(0)).batches;
    outbox.ledger.record([first!.record, second!.record, third!.record, fourth!.record]);
    const to = { sensorId: sensor.id };
    const signal = new AbortController().signal;

    hub.faults.add({ endpoint: 'graphql', status: 503 });
    expect(await sender.send(first!, to, signal)).toMatchObject({ kind: 'retryable', status: 503 });
    expect(handedBack).toEqual([]);
    expect(await sender.send(first!, to, signal)).toBeNull(); // the resend, with the same body
    expect(handedBack).toEqual([first!.points]);
    expect(await sender.send(second!, to, signal)).toBeNull(); // refused (value 15.5): split, one point dead-lettered
    expect(handedBack).toHaveLength(1);
    expect(await sender.send(third!, to, signal)).toBeNull();
    expect(handedBack).toEqual([first!.points, third!.points]);
    hub.faults.add({ endpoint: 'graphql', status: 409, body: { message: 'already stored' } });
    expect(await sender.send(fourth!, to, signal)).toBeNull(); // delivered, as the hub already has it
    expect(handedBack).toHaveLength(2);
    expect(outbox.counts()).toMatchObject({ delivered: 39, rejected: 1, depth: 0 });
  });

  it('a refused batch planned in the worker whose rows were dropped meanwhile is let go, or split over what is left', async () => {
    const events: Array<Record<string, unknown>> = [];
    const { sensor, outbox, sender } = await senderOnEmulator(() => 'refused', events);
    const s: RoundSettings = { ...SETTINGS, maxPoints: 10 };
    /** A batch as the worker hands it over (ids and points, no rows), recorded in the ledger. */
    const plannedJob = (): ReadingsBatch => {
      const batch = planRoundSync(outbox.reader, s, request(0)).batches[0]!;
      batch.items = undefined;
      outbox.ledger.record([batch.record]);
      return batch;
    };
    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(10, ['a']), deadLetters: [] }]);
    const gone = plannedJob();
    expect(outbox.dropOldest(10)).toBe(10); // outbox full under drop_oldest, while the request is out
    expect(await sender.send(gone, { sensorId: sensor.id }, new AbortController().signal)).toBeNull();
    expect(outbox.ledger.list(LIVE_LANE)).toEqual([]);
    expect(outbox.counts()).toMatchObject({ dropped: 10, rejected: 0, depth: 0 });

    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(10, ['a'], 10), deadLetters: [] }]);
    const partly = plannedJob();
    expect(outbox.dropOldest(9)).toBe(9);
    expect(await sender.send(partly, { sensorId: sensor.id }, new AbortController().signal)).toBeNull();
    expect(outbox.counts()).toMatchObject({ dropped: 19, rejected: 1, depth: 0 });
    expect(outbox.ledger.list(LIVE_LANE)).toEqual([]);
  });

  it('drops a round being planned ahead when retryNow releases waiting sensors meanwhile (their rows are older)', async () => {
    let rigRef: Rig | undefined;
    let heldBack = 0;
    // Every plan ahead is held until retryNow has run: the plan left out sensors it released.
    const holding: RoundPlanner = {
      async plan(request: RoundRequest): Promise<PlannedRound> {
        if (request.from !== undefined) {
          heldBack++;
          rigRef!.shipper.retryNow();
        }
        return new InlinePlanner(rigRef!.outbox, { lane: LIVE_LANE, maxPoints: 500, maxBytes: 768 * 1024, concurrency: 4 }).plan(request);
      },
      async close() {},
    };
    rig = await createRig({ emulator: { latencyMs: 5 }, planner: holding });
    rigRef = rig;
    for (let k = 0; k < 10; k++) rig.append(readings(2000, EIGHT, k * 2000));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(heldBack).toBeGreaterThan(2);
    expect(rig.shipper.stats().plannedAhead).toBe(0);
    expect(rig.hub.store.counters).toMatchObject({ datapointsAccepted: 20_000, overwrites: 0 });
  });

  it('plans on its own thread while the worker starts, then in the worker (continuing its chain): each sensor in order, each reading once', async () => {
    // ~1 s of requests (160 of 500 points, 4 at a time, 20 ms each): the worker is up well before the end.
    rig = await createRig({ emulator: { latencyMs: 20 }, shipper: { planInWorker: true } });
    for (let k = 0; k < 40; k++) rig.append(readings(2000, EIGHT, k * 2000));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(rig.logs.some((e) => e.event === 'planner_started')).toBe(true);
    expect(rig.shipper.stats().plannedInWorker).toBeGreaterThan(0);
    expect(rig.shipper.stats().bodiesHandedBack).toBeGreaterThan(0); // the worker's bodies go back to it once accepted
    expect(rig.hub.store.counters).toMatchObject({ datapointsAccepted: 80_000, overwrites: 0 });
    expectEachSensorInOrder(rig.hub, 8);
    expect(rig.logs.filter((e) => e.event === 'planner_failed' || e.event === 'planner_stopped')).toEqual([]);
  });
});

/**
 * A planner worker for tests about rounds planned there, started with `up()` once the rig (and
 * so `outbox`) exists. (The shipper's own worker starts with its first full round, and rounds
 * are planned on the shipper's thread until it is up.)
 */
function workerFor(outbox: () => Outbox): RoundPlanner & { up(): Promise<void> } {
  let worker: WorkerPlanner | null = null;
  const started = () => (worker ??= new WorkerPlanner(outbox(), SETTINGS, quietLogger([])));
  cleanup.push(() => worker?.close());
  return {
    plan: (request) => started().plan(request),
    close: async () => worker?.close(),
    up: () => waitFor(() => started().ready, 'the planner worker to start').then(() => undefined),
  };
}
