import { describe, expect, it } from 'vitest';
import { FaultPlan, parseFaultSpec, parseRateLimitSpec } from '../../src/emulator/faults.js';
import { EmulatorStore, pointKey } from '../../src/emulator/store.js';

describe('FaultPlan queue', () => {
  it('takes faults in order, per endpoint, counting down times', () => {
    const plan = new FaultPlan();
    plan.add({ endpoint: 'spectra', status: 500 });
    plan.add({ status: 429, retryAfter: '2', times: 2 });
    expect(plan.take('graphql')).toMatchObject({ status: 429, retryAfter: '2', endpoint: 'any' });
    expect(plan.take('spectra')).toMatchObject({ status: 500, endpoint: 'spectra' });
    expect(plan.take('sensors')).toMatchObject({ status: 429 });
    expect(plan.take('graphql')).toBeUndefined();
    expect(plan.pending).toEqual([]);
  });

  it('keeps a times: Infinity fault until cleared', () => {
    const plan = new FaultPlan().add({ status: 503, times: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 5; i += 1) expect(plan.take('graphql')?.status).toBe(503);
    plan.clear();
    expect(plan.take('graphql')).toBeUndefined();
  });

  it('refuses specs that would do nothing or are malformed', () => {
    expect(() => new FaultPlan().add({})).toThrow(/at least one of/);
    expect(parseFaultSpec({ status: 99 }).ok).toBe(false);
    expect(parseFaultSpec({ status: 503, times: 0 }).ok).toBe(false);
    expect(parseFaultSpec({ status: 503, endpoint: 'metrics' }).ok).toBe(false);
    expect(parseFaultSpec({ status: 429, endpoint: 'oauth' }).ok).toBe(true);
    expect(parseFaultSpec({ status: 503, colour: 1 }).ok).toBe(false);
    expect(parseFaultSpec({ reset: true, phase: 'after' }).ok).toBe(true);
    expect(parseRateLimitSpec({ requestsPerSecond: 0 }).ok).toBe(false);
    expect(parseRateLimitSpec({ requestsPerSecond: 5, status: 500 }).ok).toBe(false);
  });

  it('clear() drops faults and the rate limit', () => {
    const plan = new FaultPlan().add({ status: 500 }).setRateLimit({ requestsPerSecond: 1 });
    plan.clear();
    expect(plan.take('graphql')).toBeUndefined();
    expect(plan.rateLimit).toBeNull();
  });
});

describe('FaultPlan rate limit (token bucket, virtual clock)', () => {
  it('allows a burst, then throttles with Retry-After until tokens refill', () => {
    let now = 0;
    const plan = new FaultPlan(() => now).setRateLimit({ requestsPerSecond: 2 });
    expect(plan.throttle('graphql')).toBeNull();
    expect(plan.throttle('spectra')).toBeNull();
    expect(plan.throttle('graphql')).toEqual({ status: 429, retryAfter: '1' });
    expect(plan.throttle('sensors')).toBeNull(); // sensor creation is not a data endpoint
    now += 500; // one token refilled
    expect(plan.throttle('graphql')).toBeNull();
    expect(plan.throttle('graphql')).not.toBeNull();
    now += 10_000; // refill is capped at the burst size
    expect([1, 2, 3].map(() => plan.throttle('graphql'))).toEqual([null, null, { status: 429, retryAfter: '1' }]);
  });

  it('rounds Retry-After up to whole seconds, or uses the configured value and status', () => {
    let now = 0;
    const slow = new FaultPlan(() => now).setRateLimit({ requestsPerSecond: 0.25 });
    expect(slow.throttle('graphql')).toBeNull();
    expect(slow.throttle('graphql')).toEqual({ status: 429, retryAfter: '4' });
    now += 2000;
    expect(slow.throttle('graphql')).toEqual({ status: 429, retryAfter: '2' });

    const fixed = new FaultPlan(() => 0).setRateLimit({ requestsPerSecond: 1, retryAfterSeconds: 7, status: 503 });
    fixed.throttle('graphql');
    expect(fixed.throttle('graphql')).toEqual({ status: 503, retryAfter: '7' });
  });
});

describe('EmulatorStore', () => {
  const sensorInput = { name: 's', mappingId: 'm', ingest: 'timeseries' as const };
  const point = (ts: string, value = 1) => ({ measureName: 'temp', timestamp: ts, epochMs: Date.parse(ts), value, type: 'float' as const });

  it('counts overwrites by instant, not by spelling, and duplicate clientMutationIds', () => {
    const store = new EmulatorStore();
    const s = store.createSensor(sensorInput);
    store.acceptDataPoints(s, [point('2024-01-01T00:00:00.000Z', 1)], { clientMutationId: 'a', idempotencyKey: null, requestSeq: 1 });
    store.acceptDataPoints(s, [point('2024-01-01T01:00:00+01:00', 2)], { clientMutationId: 'a', idempotencyKey: null, requestSeq: 2 });
    store.acceptDataPoints(s, [point('2024-01-01T00:00:01Z', 3)], { clientMutationId: null, idempotencyKey: null, requestSeq: 3 });
    expect(store.counters).toMatchObject({ datapointsAccepted: 3, overwrites: 1, duplicateMutationIds: 1, mutationsAccepted: 3 });
    const latest = store.latestValues();
    expect(latest.size).toBe(2);
    expect(latest.get(pointKey(s.id, 'temp', '2024-01-01T00:00:00Z'))?.value).toBe(2);
  });

  it("in 'count' mode keeps counters (overwrites too) but no points, and bounds the request log", () => {
    const store = new EmulatorStore({ record: 'count', requestLogLimit: 2 });
    const s = store.createSensor(sensorInput);
    store.acceptDataPoints(s, [point('2024-01-01T00:00:00Z'), point('2024-01-01T00:00:00Z')], { clientMutationId: null, idempotencyKey: null, requestSeq: 1 });
    expect(store.dataPoints).toHaveLength(0);
    expect(store.counters).toMatchObject({ datapointsAccepted: 2, overwrites: 1 });
    for (let i = 0; i < 5; i += 1) {
      const entry = { seq: store.nextSeq(), method: 'POST', path: '/v1/graphql', status: 200, receivedAt: 0, finishedAt: 0 };
      store.logRequest({ ...entry, clientMutationId: null, idempotencyKey: null, pointCount: 1, authFingerprint: null, contentType: null, errorCode: null, fault: null });
    }
    expect(store.requests.map((r) => r.seq)).toEqual([4, 5]);
    expect(store.counters.requests['/v1/graphql']).toEqual({ '200': 5 });
  });

  it('snapshot is JSON-serialisable, supports since and summary, and reset forgets everything', () => {
    const store = new EmulatorStore();
    const s = store.createSensor(sensorInput);
    store.acceptDataPoints(s, [point('2024-01-01T00:00:00Z')], { clientMutationId: null, idempotencyKey: 'k1', requestSeq: 1 });
    store.acceptDataPoints(s, [point('2024-01-01T00:00:01Z')], { clientMutationId: null, idempotencyKey: 'k2', requestSeq: 2 });
    const snap = store.snapshot({ since: 1 });
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.dataPoints.map((p) => p.idempotencyKey)).toEqual(['k2']);
    expect(store.snapshot({ summary: true })).toMatchObject({ summary: true, dataPoints: [], sensors: [{ id: s.id }] });
    store.reset();
    expect(store.snapshot()).toMatchObject({ sensors: [], dataPoints: [], counters: { datapointsAccepted: 0 } });
  });
});
