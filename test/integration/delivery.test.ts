// The delivery engine against the hub emulator over HTTP: batching, order, throttling
// discipline, faults, bisection, auth pauses, rate cap. Assertions read the emulator's
// request log and store, and the real SQLite outbox.
import { afterEach, describe, expect, it } from 'vitest';
import { MachineToken } from '../../src/auth/token.js';
import { createRig, dataRequests, expectEachSensorInOrder, readings, type Rig } from '../helpers/delivery-rig.js';
import { waitFor } from '../helpers/wait.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Requests sent before a throttling answer reached the agent can arrive this much after it. */
const ON_THE_WIRE_MS = 100;

const delivered = (r: Rig) => r.hub.store.dataPoints.length;

describe('delivery engine', () => {
  it('batches per sensor within max_points, keeps each sensor in commit order, and ids every request', async () => {
    rig = await createRig({ emulator: { latencyMs: 20 } });
    rig.append(readings(3000, ['a', 'b', 'c', 'd', 'e', 'f']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(delivered(rig)).toBe(3000);
    const reqs = dataRequests(rig.hub);
    expect(reqs.every((r) => r.status === 200 && r.pointCount! <= 500)).toBe(true);
    expect(reqs.every((r) => r.clientMutationId !== null && r.clientMutationId === r.idempotencyKey)).toBe(true);
    // Per sensor, the timestamps arrive in the order they were committed.
    expectEachSensorInOrder(rig.hub);
    // Never more than `concurrency` requests in flight at once.
    // (At each request's arrival, count the requests the hub holds at that instant.)
    const maxOverlap = Math.max(...reqs.map((r) => reqs.filter((o) => o.receivedAt <= r.receivedAt && o.finishedAt > r.receivedAt).length));
    expect(maxOverlap).toBeLessThanOrEqual(4);
    expect(maxOverlap).toBeGreaterThan(1);
    expect(rig.outbox.counts()).toMatchObject({ appended: 3000, delivered: 3000, depth: 0 });
    expect(rig.outbox.ledger.list(0)).toEqual([]);
  });

  it('fills each sensor\'s request to max_points when many sensors share the claim window', async () => {
    const eight = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    rig = await createRig();
    rig.append(readings(8000, eight)); // 1,000 per sensor, interleaved; max_points 500, concurrency 4
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    const reqs = dataRequests(rig.hub);
    // A shared window of 2,000 rows would have sent 32 requests of 250.
    expect(reqs.map((r) => r.pointCount)).toEqual(Array.from({ length: 16 }, () => 500));
    expect(delivered(rig)).toBe(8000);
    expectEachSensorInOrder(rig.hub);
  });

  it('plans the next round while a full one is on the wire, keeping each sensor in order, each reading once', async () => {
    const eight = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    rig = await createRig({ emulator: { latencyMs: 10 } });
    // Committed in groups, as the pipeline does: a sensor's rows of one commit have consecutive ids.
    for (let k = 0; k < 20; k++) rig.append(readings(2000, eight, k * 2000));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(rig.shipper.stats().plannedAhead).toBeGreaterThan(3);
    expect(rig.hub.store.counters).toMatchObject({ datapointsAccepted: 40_000, overwrites: 0 });
    expectEachSensorInOrder(rig.hub, 8);
    expect(rig.outbox.ledger.list(0)).toEqual([]);
  });

  it('after a failure, probes with one recorded batch before sending the rest of the round', async () => {
    rig = await createRig({ emulator: { latencyMs: 50 }, shipper: { random: () => 0.5, retry: { initialDelayMs: 30, maxDelayMs: 100 } } });
    // The sensors exist first, so the failing round's four requests start together.
    rig.append(readings(4, ['a', 'b', 'c', 'd']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().delivered === 4, 'the sensors created');
    const before = dataRequests(rig.hub).length;
    rig.hub.faults.add({ endpoint: 'graphql', status: 503, times: Number.POSITIVE_INFINITY });
    rig.append(readings(2000, ['a', 'b', 'c', 'd'], 4));
    await waitFor(() => dataRequests(rig!.hub).length >= before + 8, 'a few failed rounds');
    rig.hub.faults.clear();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    const reqs = dataRequests(rig.hub).slice(before);
    expect(reqs.slice(0, 4).every((r) => r.status === 503 && r.receivedAt < reqs[0]!.finishedAt)).toBe(true); // one round of four
    const firstOk = reqs.findIndex((r) => r.status === 200);
    // Every retry after that round is one request on its own until the hub answers again.
    const retries = reqs.slice(4, firstOk + 1);
    expect(retries.length).toBeGreaterThan(3);
    for (let i = 1; i < retries.length; i++) expect(retries[i]!.receivedAt).toBeGreaterThanOrEqual(retries[i - 1]!.finishedAt);
    expect(delivered(rig)).toBe(2004);
  });

  it('starts with one request alone: a hub that is down costs one batch per retry, not a round', async () => {
    rig = await createRig({ emulator: { latencyMs: 20 }, shipper: { random: () => 0.5, retry: { initialDelayMs: 30, maxDelayMs: 60 } } });
    rig.hub.faults.add({ endpoint: 'graphql', status: 503, times: 4 });
    rig.append(readings(4000, ['a', 'b', 'c', 'd']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    const reqs = dataRequests(rig.hub);
    const firstOk = reqs.findIndex((r) => r.status === 200);
    expect(firstOk).toBe(4);
    // Up to and including the first accepted one, each request went out after the previous answer.
    for (let i = 1; i <= firstOk; i++) expect(reqs[i]!.receivedAt).toBeGreaterThanOrEqual(reqs[i - 1]!.finishedAt);
    // Once the hub answered, sensors go in parallel again.
    const after = reqs.slice(firstOk + 1);
    expect(after.some((r) => after.some((o) => o !== r && o.receivedAt < r.finishedAt && r.receivedAt < o.finishedAt))).toBe(true);
    expect(delivered(rig)).toBe(4000);
  });

  it('honours Retry-After in seconds for the whole sink: no data request inside the window', async () => {
    rig = await createRig({ emulator: { latencyMs: 5 } });
    rig.hub.faults.add({ endpoint: 'graphql', status: 429, retryAfter: '1' });
    rig.append(readings(4000, ['a', 'b', 'c', 'd']));
    rig.shipper.start();
    await waitFor(() => delivered(rig!) >= 4000, 'all readings after the throttle');
    const reqs = dataRequests(rig.hub);
    const throttled = reqs.find((r) => r.status === 429)!;
    // Requests already on the wire when the 429 came back (other sensors, sent concurrently) may
    // still arrive just after it; nothing may start later inside the window.
    const inside = reqs.filter((r) => r.receivedAt > throttled.finishedAt + ON_THE_WIRE_MS && r.receivedAt < throttled.finishedAt + 1000);
    expect(reqs.filter((r) => r.receivedAt > throttled.finishedAt + ON_THE_WIRE_MS).length).toBeGreaterThan(0);
    expect(inside).toEqual([]);
    expect(rig.logs.some((l) => l.event === 'hub_throttled' && l.retry_after_ms === 1000)).toBe(true);
    expect(rig.shipper.stats().throttled).toBe(1);
  });

  it('honours Retry-After as an HTTP date, and 503 the same way', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 50, maxDelayMs: 10_000 } } });
    const until = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
    rig.hub.faults.add({ endpoint: 'graphql', status: 503, retryAfter: until.toUTCString() });
    rig.append(readings(600));
    rig.shipper.start();
    await waitFor(() => delivered(rig!) >= 600, 'all readings');
    const reqs = dataRequests(rig.hub);
    const unavailable = reqs.find((r) => r.status === 503)!;
    // Requests already in flight when the 503 came back may finish; none may start before the date.
    const later = reqs.filter((r) => r.receivedAt > unavailable.finishedAt + ON_THE_WIRE_MS);
    expect(later.length).toBeGreaterThan(0);
    expect(Math.min(...later.map((r) => r.receivedAt))).toBeGreaterThanOrEqual(until.getTime() - 5);
  });

  it('backs off exponentially without Retry-After, and resets after a success', async () => {
    rig = await createRig({ shipper: { random: () => 0.999, retry: { initialDelayMs: 100, maxDelayMs: 5000 } } });
    rig.hub.faults.add({ endpoint: 'graphql', status: 500, times: 3 });
    rig.append(readings(10, ['a']));
    rig.shipper.start();
    await waitFor(() => delivered(rig!) >= 10, 'the readings after three failures');
    const reqs = dataRequests(rig.hub);
    const gaps = reqs.slice(1).map((r, i) => r.receivedAt - reqs[i]!.finishedAt);
    // 100, 200, 400 ms (× 0.999), each at least that long.
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(395);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
    // A later failure starts from the first step again.
    rig.hub.faults.add({ endpoint: 'graphql', status: 502 });
    rig.append(readings(10, ['a'], 10));
    await waitFor(() => delivered(rig!) >= 20, 'the second readings');
    // Read from the decision, not the wall clock: the later failure's retry is attempt 1 again.
    const retries = rig.logs.filter((e) => e.event === 'hub_retry');
    expect(retries.at(-1)).toMatchObject({ attempt: 1 });
    expect(retries.at(-1)!.delay_ms as number).toBeLessThanOrEqual(100);
  });

  it('retries a connection reset and a response slower than the timeout; repeats carry the same batch id', async () => {
    rig = await createRig({ timeoutMs: 300 });
    rig.hub.faults.add({ endpoint: 'graphql', reset: true });
    rig.hub.faults.add({ endpoint: 'graphql', delayMs: 800 });
    rig.append(readings(1200));
    rig.shipper.start();
    await waitFor(() => new Set(rig!.hub.store.dataPoints.map((p) => p.timestamp)).size >= 1200, 'every reading');
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    const reqs = dataRequests(rig.hub);
    expect(reqs.some((r) => r.status === 0)).toBe(true); // the reset
    const firstId = new Map<string, string | null>();
    for (const p of rig.hub.store.dataPoints) {
      const seen = firstId.get(p.timestamp);
      if (seen === undefined) firstId.set(p.timestamp, p.clientMutationId);
      else expect(p.clientMutationId).toBe(seen);
    }
  });

  it('retries a GraphQL error it cannot classify, answered inside an HTTP 200', async () => {
    rig = await createRig();
    rig.hub.faults.add({ endpoint: 'graphql', status: 200, times: 2 }); // {errors:[{extensions:{code:INTERNAL_SERVER_ERROR}}]}
    rig.append(readings(300));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'delivery after the errors');
    expect(dataRequests(rig.hub).filter((r) => r.errorCode === 'INTERNAL_SERVER_ERROR')).toHaveLength(2);
    expect(rig.outbox.counts()).toMatchObject({ delivered: 300, rejected: 0 });
    expect(rig.logs.some((l) => l.event === 'hub_retry' && String(l.reason).includes('GraphQL error'))).toBe(true);
  });

  it('splits a batch the hub finds too large (413) until it fits', async () => {
    rig = await createRig({ emulator: { maxBodyBytes: 20_000 } });
    rig.append(readings(1000, ['a']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    const reqs = dataRequests(rig.hub);
    expect(reqs.some((r) => r.status === 413)).toBe(true);
    expect(delivered(rig)).toBe(1000);
    expect(rig.outbox.counts()).toMatchObject({ delivered: 1000, rejected: 0 });
  });

  it('bisects a batch the hub refuses and dead-letters only the refused points with its message', async () => {
    const bad = new Set([17.5, 333.5, 334.5]);
    rig = await createRig({ emulator: { rejectPoint: (p) => (bad.has(p.value as number) ? 'value out of range' : null) } });
    rig.append(readings(1000, ['a']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'the outbox to empty');
    expect(delivered(rig)).toBe(997);
    const dead = rig.outbox.deadLetters.list();
    expect(dead.map((d) => d.value).sort((x, y) => Number(x) - Number(y))).toEqual([17.5, 333.5, 334.5]);
    expect(dead.every((d) => d.stage === 'hub' && d.reason.includes('value out of range'))).toBe(true);
    expect(rig.outbox.counts()).toMatchObject({ delivered: 997, rejected: 3 });
    expect(dataRequests(rig.hub).length).toBeLessThan(60);
  });

  it('pauses on 401 mid-run without losing data, and resumes with a new token', async () => {
    rig = await createRig();
    rig.append(readings(300));
    rig.shipper.start();
    // The hub stores a batch before its answer reaches the agent: wait for the acknowledgements.
    await waitFor(() => rig!.outbox.counts().delivered >= 300, 'the first readings acknowledged');
    rig.hub.revoke(rig.hub.token);
    rig.append(readings(300, ['a', 'b', 'c'], 300));
    await waitFor(() => rig!.shipper.state.state === 'paused', 'the pause');
    expect(rig.outbox.counts().depth).toBe(300);
    expect(rig.logs.some((l) => l.event === 'delivery_paused')).toBe(true);
    rig.token.current = new MachineToken(await rig.hub.mintToken({ permissions: ['Internal Hub Write', 'Internal Hub Create'] }), 'test');
    rig.shipper.retryNow();
    await waitFor(() => rig!.outbox.counts().delivered >= 600, 'the rest acknowledged after the new token');
    expect(delivered(rig)).toBe(600);
    expect(rig.outbox.counts()).toMatchObject({ delivered: 600, depth: 0, rejected: 0 });
  });

  it('sends no data request at all with a token that lacks Internal Hub Write', async () => {
    rig = await createRig();
    rig.token.current = new MachineToken(await rig.hub.mintToken({ permissions: ['Internal Hub Create'] }), 'test');
    rig.append(readings(50));
    rig.shipper.start();
    await waitFor(() => rig!.shipper.state.state === 'paused', 'the pause');
    expect(rig.shipper.state).toMatchObject({ reason: expect.stringContaining('lacks the Internal Hub Write permission') });
    expect(dataRequests(rig.hub)).toEqual([]);
    expect(rig.outbox.counts().depth).toBe(50);
  });

  it('after a 429, spaces its requests to the rate the hub accepted, so throttling stays rare', async () => {
    rig = await createRig({ shipper: { maxPoints: 100, retry: { initialDelayMs: 50, maxDelayMs: 2000 } } });
    rig.hub.faults.setRateLimit({ requestsPerSecond: 10, retryAfterSeconds: 1, status: 429 });
    rig.append(readings(10_000, ['a', 'b', 'c', 'd']));
    rig.shipper.start();
    // The first 429 comes after the start-up burst, which teaches little; by the second the
    // pacer has measured what the hub sustains. Then fifteen requests in a row are accepted.
    const acceptedSinceLastThrottle = () => {
      const reqs = dataRequests(rig!.hub);
      const last = reqs.map((r) => r.status).lastIndexOf(429);
      return last < 0 ? [] : reqs.slice(last + 1).filter((r) => r.status === 200);
    };
    await waitFor(() => acceptedSinceLastThrottle().length >= 15, 'fifteen accepted requests in a row after a throttle', { timeoutMs: 15_000 });
    const paced = acceptedSinceLastThrottle().slice(1, 15);
    const gaps = paced.slice(1).map((r, i) => r.receivedAt - paced[i]!.receivedAt);
    // About the hub's 10 requests/s: starts ~100 ms apart (unpaced, a round of four leaves together).
    expect(gaps.filter((g) => g >= 60).length).toBeGreaterThanOrEqual(gaps.length - 1);
    expect(rig.shipper.gate.pacer!.spacingMs).toBeGreaterThan(60);
  });

  it('caps the drain at hub.max_rate points per second', async () => {
    rig = await createRig({ shipper: { maxRate: 1000, maxPoints: 250 } });
    rig.append(readings(5000, ['a', 'b']));
    const started = Date.now();
    rig.shipper.start();
    await waitFor(() => delivered(rig!) >= 5000, 'all readings');
    // 2000 of burst, then 2000/s: at least 1.5 s for 5000 points.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    const reqs = dataRequests(rig.hub);
    const t0 = reqs[0]!.receivedAt;
    for (const r of reqs) {
      const sent = reqs.filter((o) => o.receivedAt <= r.receivedAt).reduce((n, o) => n + o.pointCount!, 0);
      expect(sent).toBeLessThanOrEqual(2000 + 2000 * ((r.receivedAt - t0) / 1000) + 250);
    }
  });

  it('caps a Retry-After longer than hub.retry.max_delay', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 50, maxDelayMs: 300 } } });
    rig.hub.faults.add({ endpoint: 'graphql', status: 429, retryAfter: '3600' });
    rig.append(readings(10, ['a']));
    rig.shipper.start();
    await waitFor(() => delivered(rig!) >= 10, 'delivery after the capped wait', { timeoutMs: 5000 });
    expect(rig.logs.find((l) => l.event === 'hub_throttled')).toMatchObject({ retry_after_ms: 3_600_000, delay_ms: 300 });
  });

  it('moves readings older than hub.retry.max_age to dead letters while delivery fails', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 50, maxDelayMs: 100, maxAgeMs: 60_000 } } });
    rig.hub.faults.add({ endpoint: 'graphql', status: 500, times: Number.POSITIVE_INFINITY });
    rig.append(readings(20)); // timestamps in 2026-11-27 08:00: far older than a minute
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().expired === 20, 'expiry');
    // Given up on here, not refused by the hub: their own stage and counter.
    expect(rig.outbox.deadLetters.list()[0]).toMatchObject({ stage: 'expired', reason: expect.stringContaining('hub.retry.max_age') });
    expect(rig.outbox.counts()).toMatchObject({ rejected: 0, expired: 20, depth: 0 });
    expect(delivered(rig)).toBe(0);
  });

  it('delivers spectra to frequency sensors through the spectra endpoint', async () => {
    rig = await createRig();
    const spectrum = { amplitudeUnit: 'mm/s' as const, measurementType: 'velocity' as const, spacing: 0.5, end: 1.5, number: 4, speed: 24.5, data: [0.1, 0.2, 0.3, 0.4] };
    rig.outbox.append([
      {
        source: 'test',
        lane: 0,
        readings: [],
        deadLetters: [],
        spectra: Array.from({ length: 120 }, (_, i) => ({ ...spectrum, sensor: 'fan-1', ts: Date.UTC(2026, 10, 27, 8, 0, i) })),
      },
    ]);
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().spectra.depth === 0, 'the spectra acknowledged');
    expect(rig.hub.store.spectra).toHaveLength(120);
    expect(rig.hub.store.sensors).toEqual([expect.objectContaining({ mappingId: 'fan-1', ingest: 'frequency' })]);
    expect(dataRequests(rig.hub).every((r) => r.path === '/v1/hub/spectra' && r.pointCount! <= 50)).toBe(true);
    expect(rig.outbox.counts().spectra).toMatchObject({ appended: 120, delivered: 120, depth: 0 });
  });
});
