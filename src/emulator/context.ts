/**
 * What every hub endpoint handler receives, and the sensor-addressing rules the data endpoints
 * share. Handlers are synchronous on purpose: authentication (the only async step) is done by
 * the server before they run, so check-then-store happens in one tick and a request is stored
 * entirely or not at all, even with concurrent requests.
 */
import { PERMISSION, hasPermission } from '../auth/permissions.js';
import type { JsonParse, Reply } from './http.js';
import type { EmulatorStore } from './store.js';
import type { Sensor } from './store-types.js';
import type { Ingest, SensorRef } from './validate.js';

export type ResponseShape = 'standard' | 'documented';

export interface HubConfig {
  responseShape: ResponseShape;
  /** Needed, in addition to Internal Hub Write, to address a sensor by mappingId. */
  mappingIdPermissions: readonly string[];
  /**
   * Test seam (in-process only, not part of the hub contract): a data point this returns a
   * message for is refused with BAD_USER_INPUT, as a real hub refuses input it deems invalid.
   */
  rejectPoint?: ((point: { measureName: string; timestamp: string; value: number | string | boolean }) => string | null) | undefined;
}

export interface HubContext {
  seq: number;
  json: JsonParse;
  idempotencyKey: string | null;
  /** Permissions of the authenticated token. */
  permissions: readonly string[];
  store: EmulatorStore;
  config: HubConfig;
}

export interface HubReply extends Reply {
  /** For the request log: the GraphQL error code or REST error name, if the answer is an error. */
  errorCode?: string | null;
}

export type HubHandler = (ctx: HubContext) => HubReply;

export function missingPermissions(granted: readonly string[], wanted: readonly string[]): string[] {
  return wanted.filter((w) => !hasPermission(granted, w));
}

export type Resolution =
  | { kind: 'existing'; sensor: Sensor }
  | { kind: 'provision'; mappingId: string }
  | { kind: 'forbidden'; message: string }
  | { kind: 'invalid'; message: string };

/**
 * Finds the sensor a data request addresses, without changing anything.
 * - sensorId: must name an existing sensor.
 * - mappingId: needs the mapping-ID permissions; an unknown one is to be auto-provisioned, which
 *   also needs Internal Hub Create (the docs say sending needs permission to create sensors).
 * - the sensor must ingest what is being sent.
 */
export function resolveSensor(ctx: HubContext, ref: SensorRef, ingest: Ingest, path: string): Resolution {
  let sensor: Sensor | undefined;
  if (ref.kind === 'sensorId') {
    sensor = ctx.store.sensorById(ref.sensorId);
    if (!sensor) return { kind: 'invalid', message: `${path}.sensorId: no sensor with id ${ref.sensorId}` };
  } else {
    const missing = missingPermissions(ctx.permissions, ctx.config.mappingIdPermissions);
    if (missing.length > 0) {
      return {
        kind: 'forbidden',
        message: `addressing a sensor by mappingId needs the permission(s) ${missing.join(', ')}; send by sensorId instead`,
      };
    }
    sensor = ctx.store.sensorByMappingId(ref.mappingId);
    if (!sensor) {
      if (!hasPermission(ctx.permissions, PERMISSION.hubCreate)) {
        return {
          kind: 'forbidden',
          message: `${path}.mappingId: no sensor has mappingId ${JSON.stringify(ref.mappingId)} and auto-provisioning one needs the Internal Hub Create permission`,
        };
      }
      return { kind: 'provision', mappingId: ref.mappingId };
    }
  }
  if (sensor.ingest !== ingest) {
    const has = sensor.ingest === 'frequency' ? 'frequency spectra' : 'time series';
    const sent = ingest === 'frequency' ? 'frequency spectra' : 'time series';
    return { kind: 'invalid', message: `${path}: sensor ${sensor.id} ingests ${has} and cannot take ${sent}` };
  }
  return { kind: 'existing', sensor };
}

/** Creates an auto-provisioned sensor named after its mappingId. */
export function provision(ctx: HubContext, mappingId: string, ingest: Ingest): Sensor {
  return ctx.store.sensorByMappingId(mappingId) ?? ctx.store.createSensor({ name: mappingId, mappingId, ingest, autoProvisioned: true });
}
