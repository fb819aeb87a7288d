// Permission gating against the emulator: what the token allows decides what is sent; what
// cannot be sent waits in the outbox (never dropped, never dead-lettered for this reason).
import { rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MachineTokenProvider } from '../../src/auth/machine-token-provider.js';
import { MachineToken } from '../../src/auth/token.js';
import { UserTokenProvider, USER_TOKEN_CACHE } from '../../src/auth/user-token-provider.js';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { HubClient } from '../../src/hub/client.js';
import { createRig, dataRequests, readings, type Rig } from '../helpers/delivery-rig.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const WRITE = 'Internal Hub Write';
const CREATE = 'Internal Hub Create';

let rig: Rig | undefined;
let hub: HubEmulator | undefined;
afterEach(async () => {
  await rig?.close();
  await hub?.close();
  rig = undefined;
  hub = undefined;
});

const sensorCreates = (h: HubEmulator) => h.store.requests.filter((r) => r.path === '/v1/hub/sensors');

async function rigWith(permissions: string[], expiresAt?: Date) {
  // A sensor that exists in the hub already, configured by id (sensors.known.sensor_id).
  const overrides: Record<string, { sensor_id?: string }> = {};
  const r = await createRig({ sensorOverrides: overrides });
  overrides.known = { sensor_id: r.hub.store.createSensor({ name: 'known', mappingId: 'known-existing', ingest: 'timeseries' } as never).id };
  r.token.current = new MachineToken(await r.hub.mintToken({ permissions, ...(expiresAt ? { expiresAt } : {}) }), 'test');
  return r;
}

describe('permission gating', () => {
  it('none: no request of any kind; everything waits', async () => {
    rig = await rigWith([]);
    rig.append(readings(30, ['new-1', 'known']));
    rig.shipper.start();
    await waitFor(() => rig!.shipper.state.state === 'paused', 'the pause');
    expect(rig.hub.store.requests).toEqual([]);
    expect(rig.outbox.counts()).toMatchObject({ depth: 30, rejected: 0 });
  });

  it('create only (no write): no data request and no sensor created', async () => {
    rig = await rigWith([CREATE]);
    rig.append(readings(30, ['new-1']));
    rig.shipper.start();
    await waitFor(() => rig!.shipper.state.state === 'paused', 'the pause');
    expect(rig.hub.store.requests).toEqual([]);
    expect(rig.shipper.state).toMatchObject({ reason: expect.stringContaining('lacks the Internal Hub Write permission') });
  });

  it('write only: configured sensors are delivered; sensors that would need creating wait, with advice', async () => {
    rig = await rigWith([WRITE]);
    rig.append(readings(40, ['new-1', 'known']));
    rig.shipper.start();
    await waitFor(() => rig!.hub.store.dataPoints.length >= 20, 'the known sensor\'s readings');
    await waitFor(() => rig!.shipper.waitingSensors.has('new-1'), 'the waiting sensor');
    await waitFor(() => rig!.outbox.counts().delivered === 20, 'the acknowledgements');
    expect(sensorCreates(rig.hub)).toEqual([]);
    expect(rig.hub.store.dataPoints.every((p) => rig!.hub.store.sensorById(p.sensorId)?.name === 'known')).toBe(true);
    expect(rig.outbox.counts()).toMatchObject({ delivered: 20, depth: 20, rejected: 0 });
    expect(rig.shipper.waitingSensors.get('new-1')).toContain('lacks Internal Hub Create');
    const advice = rig.logs.find((l) => l.event === 'sensor_waiting')!;
    expect(String(advice.msg)).toContain('sensors: {new-1: {sensor_id: <uuid>}}');
    expect(rig.outbox.state.get<Record<string, string>>('waiting_sensors.0')?.value).toHaveProperty('new-1');
    // More readings of the known sensor keep flowing past the waiting ones.
    rig.append(readings(10, ['known'], 100));
    await waitFor(() => rig!.hub.store.dataPoints.length >= 30, 'newer readings of the known sensor');
  });

  it('write + create: sensors are created once and everything is delivered', async () => {
    rig = await rigWith([WRITE, CREATE]);
    rig.append(readings(40, ['new-1', 'known']));
    rig.shipper.start();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'delivery');
    expect(sensorCreates(rig.hub)).toHaveLength(1);
    expect(rig.hub.store.dataPoints).toHaveLength(40);
  });

  it('an opaque token is learned from the hub: a 403 on sensor creation makes that sensor wait', async () => {
    rig = await rigWith([WRITE]);
    // The agent cannot read this token's permissions (as with v4.local), so it asks; the hub says no.
    const real = rig.token.current;
    rig.token.current = {
      fingerprint: real.fingerprint,
      origin: 'test',
      claims: { kind: 'v4.local', permissions: null, expiresAt: null, subject: null },
      bearer: () => real.bearer(),
      can: () => null,
      canWrite: () => null,
      canCreate: () => null,
      isExpired: () => false,
    } as unknown as MachineToken;
    rig.append(readings(10, ['new-2']));
    rig.shipper.start();
    await waitFor(() => rig!.shipper.waitingSensors.has('new-2'), 'the waiting sensor');
    expect(sensorCreates(rig.hub).map((r) => r.status)).toEqual([403]);
    expect(dataRequests(rig.hub)).toEqual([]);
    expect(rig.outbox.counts().depth).toBe(10);
  });

  it('an expired token pauses delivery, and a new token resumes it', async () => {
    rig = await rigWith([WRITE, CREATE], new Date(Date.now() - 1000));
    rig.append(readings(20));
    rig.shipper.start();
    await waitFor(() => rig!.shipper.state.state === 'paused', 'the pause');
    expect(rig.shipper.state).toMatchObject({ reason: expect.stringContaining('expired') });
    expect(rig.hub.store.requests).toEqual([]);
    rig.token.current = new MachineToken(await rig.hub.mintToken({ permissions: [WRITE, CREATE], expiresIn: 3_600_000 }), 'test');
    rig.shipper.retryNow();
    await waitFor(() => rig!.outbox.counts().depth === 0, 'delivery with the new token');
  });
});

describe('token reload', () => {
  it('picks up a token file replaced on disk, keeps the old token when the new file is garbage', async () => {
    hub = await createHubEmulator();
    const file = path.join(tempDir(), 'token');
    writeFileSync(file, hub.token, { mode: 0o600 });
    const logs: Array<Record<string, unknown>> = [];
    const provider = await MachineTokenProvider.create({
      tokenFile: file,
      env: {},
      logger: pino({}, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) }),
      checkIntervalMs: 60_000,
    });
    const changes: string[] = [];
    provider.onChange((t) => changes.push(t.fingerprint));
    provider.start();
    try {
      const next = await hub.mintToken({ permissions: [WRITE] });
      writeFileSync(file, `${next}\n`);
      await waitFor(() => changes.length === 1, 'the file watch to pick up the new token');
      expect(provider.current().canCreate()).toBe(false);
      writeFileSync(file, 'garbage');
      expect(await provider.reload('SIGHUP')).toBe(false);
      expect(provider.current().fingerprint).toBe(changes[0]);
      expect(logs.some((l) => l.event === 'token_reload_failed')).toBe(true);
      expect(JSON.stringify(logs)).not.toContain(next);
    } finally {
      provider.stop();
    }
  });
});

describe('user tokens', () => {
  it('gets a token by password grant, caches it with mode 0600, reuses it, and retries a 429', async () => {
    hub = await createHubEmulator({ users: [{ username: 'ops', password: 's3cret', permissions: [WRITE, CREATE] }], userTokenTtlSeconds: 3600 });
    const stateDir = tempDir();
    const passwordFile = path.join(tempDir(), 'password');
    writeFileSync(passwordFile, 's3cret\n', { mode: 0o600 });
    hub.faults.add({ endpoint: 'oauth', status: 429, retryAfter: '0' });
    const make = () =>
      new UserTokenProvider({
        hubUrl: hub!.url,
        tokenPath: '/oauth/token',
        username: 'ops',
        passwordFile,
        stateDir,
        logger: pino({ level: 'silent' }),
        retry: { initialDelayMs: 20, maxDelayMs: 100 },
      });
    const first = make();
    first.start();
    await waitFor(() => first.current(), 'a user token');
    first.stop();
    const oauth = () => hub!.store.requests.filter((r) => r.path === '/oauth/token');
    expect(oauth().map((r) => r.status)).toEqual([429, 200]);
    expect(first.current()!.claims.kind).toBe('jwt');
    expect(statSync(path.join(stateDir, USER_TOKEN_CACHE)).mode & 0o777).toBe(0o600);

    // A restart reuses the cached token: no new request to the rate-limited endpoint.
    const second = make();
    second.start();
    expect(second.current()?.fingerprint).toBe(first.current()!.fingerprint);
    second.stop();
    expect(oauth()).toHaveLength(2);

    // The hub takes it like a machine token.
    const client = new HubClient({
      url: hub.url,
      token: () => second.current(),
      timeoutMs: 2000,
      paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' },
    });
    expect((await client.createSensor({ name: 'u', mappingId: 'u', ingest: 'timeseries' })).kind).toBe('ok');
    await client.close();

    // Wrong password: refused, reported, no token.
    rmSync(path.join(stateDir, USER_TOKEN_CACHE));
    writeFileSync(passwordFile, 'wrong');
    const third = make();
    third.start();
    await waitFor(() => third.problem()?.includes('refused the credentials'), 'the refusal');
    third.stop();
    expect(third.current()).toBeNull();
  });
});
