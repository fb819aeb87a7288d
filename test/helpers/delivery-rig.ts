/**
 * A real delivery path in one process: SQLite outbox in a temp dir, the hub client over HTTP,
 * the hub emulator on 127.0.0.1, and the shipper. For tests of the delivery engine that need
 * precise control (faults, clocks of requests) without spawning the daemon.
 */
import { expect } from 'vitest';
import pino from 'pino';
import { MachineToken } from '../../src/auth/token.js';
import { createHubEmulator, type EmulatorOptions, type HubEmulator } from '../../src/emulator/index.js';
import { HubClient } from '../../src/hub/client.js';
import type { RoundPlanner } from '../../src/hub/planner.js';
import { SensorDirectory } from '../../src/hub/sensors.js';
import { Shipper, type ShipperOptions } from '../../src/hub/shipper.js';
import type { HubTlsMaterial } from '../../src/net/tls.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import type { Reading } from '../../src/parse/reading.js';
import { tempDir } from './tmp.js';

export interface Rig {
  hub: HubEmulator;
  outbox: Outbox;
  shipper: Shipper;
  token: { current: MachineToken };
  logs: Array<Record<string, unknown>>;
  append(readings: Reading[]): void;
  close(): Promise<void>;
}

export const T0 = Date.UTC(2026, 10, 27, 8);

export function readings(n: number, sensors = ['a', 'b', 'c'], from = 0): Reading[] {
  return Array.from({ length: n }, (_, k) => ({ sensor: sensors[(from + k) % sensors.length]!, measure: 'm', ts: T0 + (from + k) * 1000, value: from + k + 0.5 }));
}

export async function createRig(
  options: {
    emulator?: EmulatorOptions;
    shipper?: Partial<ShipperOptions>;
    /** Plans the shipper's full rounds (a test seam: the Shipper's second constructor argument). */
    planner?: RoundPlanner;
    timeoutMs?: number;
    addressing?: 'sensor_id' | 'mapping_id';
    sensorOverrides?: Record<string, { sensor_id?: string }>;
    /** hub.tls of the client (for an emulator serving HTTPS). */
    clientTls?: HubTlsMaterial;
  } = {},
): Promise<Rig> {
  const hub = await createHubEmulator(options.emulator);
  const outbox = Outbox.inStateDir(tempDir());
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const token = { current: new MachineToken(hub.token, 'test') };
  const client = new HubClient({
    url: hub.url,
    token: () => token.current,
    timeoutMs: options.timeoutMs ?? 5000,
    paths: { graphql: '/v1/graphql', sensors: '/v1/hub/sensors', spectra: '/v1/hub/spectra' },
    tls: options.clientTls,
  });
  const sensors = new SensorDirectory({ addressing: options.addressing ?? 'sensor_id', overrides: options.sensorOverrides ?? {}, outbox, client, logger });
  const shipper = new Shipper(
    {
      outbox,
      client,
      sensors,
      token: () => token.current,
      lane: LIVE_LANE,
      logger,
      maxPoints: 500,
      maxBytes: 768 * 1024,
      maxSpectra: 50,
      maxWaitMs: 20,
      concurrency: 4,
      retry: { initialDelayMs: 50, maxDelayMs: 2000 },
      idlePollMs: 50,
      authRetryMs: 200,
      ...options.shipper,
    },
    options.planner,
  );
  return {
    hub,
    outbox,
    shipper,
    token,
    logs,
    append(list) {
      outbox.append([{ source: 'test', lane: LIVE_LANE, readings: list, deadLetters: [] }]);
      shipper.notify();
    },
    async close() {
      await shipper.stop(1000);
      await client.close();
      outbox.close();
      await hub.close();
    },
  };
}

/** Data requests (GraphQL and spectra) in the emulator's log, in arrival order. */
export function dataRequests(hub: HubEmulator) {
  return hub.store.requests.filter((r) => r.path === '/v1/graphql' || r.path === '/v1/hub/spectra');
}

/**
 * Asserts each sensor's timestamps reached the hub in the order they were committed (the
 * timestamps of these tests grow with commit order), and, when given, how many sensors did.
 */
export function expectEachSensorInOrder(hub: HubEmulator, sensors?: number): void {
  const bySensor = timestampsBySensor(hub);
  if (sensors !== undefined) expect(bySensor.size).toBe(sensors);
  for (const list of bySensor.values()) expect(list).toEqual([...list].sort((x, y) => x - y));
}

/** The timestamps the emulator stored, per hub sensor id, in the order it accepted them. */
function timestampsBySensor(hub: HubEmulator): Map<string, number[]> {
  const bySensor = new Map<string, number[]>();
  for (const p of hub.store.dataPoints) {
    let list = bySensor.get(p.sensorId);
    if (list === undefined) bySensor.set(p.sensorId, (list = []));
    list.push(Date.parse(p.timestamp));
  }
  return bySensor;
}
