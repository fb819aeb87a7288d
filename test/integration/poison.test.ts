// Head-of-line blocking: one batch the hub keeps failing (a payload a proxy or the hub chokes
// on) while it accepts the others is split, and only what still fails alone is dead-lettered;
// a hub that fails everything never causes a dead letter.
import { afterEach, describe, expect, it } from 'vitest';
import { createRig, readings, type Rig } from '../helpers/delivery-rig.js';
import { waitFor } from '../helpers/wait.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const delivered = (r: Rig) => r.outbox.counts().delivered;

describe('a batch the hub keeps failing', () => {
  it('is split while the hub accepts the others; the reading it chokes on is dead-lettered with the last error, every other one delivered', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 20, maxDelayMs: 100, poisonAfter: 3 } } });
    // Value 157.5 is reading 157 (sensor b). Every request carrying it gets a 500, for good.
    rig.hub.faults.add({ endpoint: 'graphql', status: 500, bodyIncludes: '"floatValue":157.5', times: Number.POSITIVE_INFINITY });
    rig.append(readings(1500, ['a', 'b', 'c']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox', { timeoutMs: 30_000 });

    expect(rig.outbox.counts()).toMatchObject({ delivered: 1499, rejected: 1 });
    const [dead] = rig.outbox.deadLetters.list({ stage: 'hub' });
    expect(dead).toMatchObject({ sensor: 'b', value: 157.5 });
    expect(dead!.reason).toMatch(/the hub failed this batch \d+ times while it accepted others \(hub.retry.poison_after 3\); last: HTTP 500/);
    expect(rig.hub.store.dataPoints).toHaveLength(1499);
    expect(rig.outbox.ledger.list(0)).toEqual([]);
    expect(rig.logs.some((l) => l.event === 'batch_poisoned' && l.sensor === 'b')).toBe(true);
    // Sensors a and c were not held up behind it: every one of their readings arrived.
    const bySensor = new Map<string, number>();
    for (const p of rig.hub.store.dataPoints) bySensor.set(p.sensorId, (bySensor.get(p.sensorId) ?? 0) + 1);
    expect([...bySensor.values()].sort()).toEqual([499, 500, 500]);
  });

  it('is never dead-lettered while the hub fails everything (an outage), however long; all is delivered once it is back', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 10, maxDelayMs: 40, poisonAfter: 2 } } });
    rig.append(readings(600, ['a'])); // one sensor: no other batch can show the hub is up
    rig.hub.faults.add({ endpoint: 'graphql', status: 500, times: Number.POSITIVE_INFINITY });
    rig.shipper.start();
    // Far past poison_after for every batch the agent tried.
    await waitFor(() => rig!.hub.store.requests.filter((r) => r.path === '/v1/graphql').length >= 30, 'thirty failed sends');
    expect(rig.outbox.counts()).toMatchObject({ delivered: 0, rejected: 0 });
    expect(Math.max(...rig.outbox.ledger.list(0).map((b) => b.attempts ?? 0))).toBeGreaterThanOrEqual(2);
    rig.hub.faults.clear();
    await waitFor(() => delivered(rig!) === 600, 'every reading after the outage');
    expect(rig.outbox.counts()).toMatchObject({ delivered: 600, rejected: 0 });
    expect(rig.logs.filter((l) => l.event === 'batch_poisoned')).toEqual([]);
  });

  it('a suspect batch is not the probe: with only its own sensor left, it is still split once another sensor got through', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 10, maxDelayMs: 50, poisonAfter: 3 }, concurrency: 1 } });
    rig.hub.faults.add({ endpoint: 'graphql', status: 502, bodyIncludes: '"floatValue":3.5', times: Number.POSITIVE_INFINITY });
    rig.append(readings(20, ['a'])); // the poisoned batch: a's readings 0..19 (value 3.5 among them)
    rig.shipper.start();
    await waitFor(() => rig!.outbox.ledger.list(0).some((b) => (b.attempts ?? 0) >= 2), 'the batch under suspicion');
    rig.append(readings(10, ['b'], 100)); // another sensor arrives: the probe takes it
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox', { timeoutMs: 20_000 });
    expect(rig.outbox.counts()).toMatchObject({ delivered: 29, rejected: 1 });
    expect(rig.outbox.deadLetters.list({ stage: 'hub' })[0]).toMatchObject({ sensor: 'a', value: 3.5 });
  });

  it('while it is split, a half whose sibling also fails is not judged (it may be an outage): no dead letter until the hub shows it is up', async () => {
    rig = await createRig({ shipper: { retry: { initialDelayMs: 10, maxDelayMs: 40, poisonAfter: 3 } } });
    const poisoned = { endpoint: 'graphql' as const, status: 500, bodyIncludes: '"floatValue":157.5', times: Number.POSITIVE_INFINITY };
    rig.hub.faults.add(poisoned);
    // The other half of sensor b's batch (reading 1498) fails the same way, as in an outage.
    rig.hub.faults.add({ endpoint: 'graphql', status: 500, bodyIncludes: '"floatValue":1498.5', times: Number.POSITIVE_INFINITY });
    rig.append(readings(1500, ['a', 'b', 'c']));
    rig.shipper.start();
    await waitFor(() => rig!.logs.some((l) => l.event === 'batch_poisoned'), 'the batch judged poisoned');
    const sent = () => rig!.hub.store.requests.filter((r) => r.path === '/v1/graphql').length;
    const before = sent();
    await waitFor(() => sent() >= before + 10, 'ten more sends of the halves');
    expect(rig.outbox.counts()).toMatchObject({ rejected: 0 });
    expect(rig.outbox.ledger.list(0).filter((b) => b.sensor === 'b').length).toBeGreaterThanOrEqual(2); // the halves wait
    // The "outage" of the second half ends: the hub shows it is up, and only the poisoned reading goes.
    rig.hub.faults.clear();
    rig.hub.faults.add(poisoned);
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox', { timeoutMs: 30_000 });
    expect(rig.outbox.counts()).toMatchObject({ delivered: 1499, rejected: 1 });
    expect(rig.outbox.deadLetters.list({ stage: 'hub' })[0]).toMatchObject({ sensor: 'b', value: 157.5 });
  });
});
