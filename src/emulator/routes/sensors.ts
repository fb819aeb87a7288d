/**
 * POST /v1/hub/sensors: creates a sensor. Needs Internal Hub Create (else 403). The body is
 * validated strictly (400 naming every bad field). A mappingId that already exists answers 409
 * with the existing sensor, so a client can recover the id of a sensor it created before.
 * Creating with a mappingId does not need the mapping-ID permissions: that is what makes the
 * docs' safe path (create, keep the id, send by sensorId) work with Write + Create only.
 */
import { PERMISSION, hasPermission } from '../../auth/permissions.js';
import type { HubContext, HubReply } from '../context.js';
import { restError } from '../http.js';
import type { Sensor } from '../store-types.js';
import { validateSensorCreate } from '../validate.js';

function view(s: Sensor): { id: string; name: string; mappingId: string | null; ingest: string } {
  return { id: s.id, name: s.name, mappingId: s.mappingId, ingest: s.ingest };
}

export function handleCreateSensor(ctx: HubContext): HubReply {
  if (!hasPermission(ctx.permissions, PERMISSION.hubCreate)) {
    return { ...restError(403, 'forbidden', 'creating a sensor needs the Internal Hub Create permission'), errorCode: 'forbidden' };
  }
  if (!ctx.json.ok) return { ...restError(400, 'bad_request', ctx.json.message), errorCode: 'bad_request' };
  const v = validateSensorCreate(ctx.json.value);
  if (!v.ok) return { status: 400, body: { error: 'bad_request', message: v.errors.join('; '), errors: v.errors }, errorCode: 'bad_request' };
  const existing = v.value.mappingId ? ctx.store.sensorByMappingId(v.value.mappingId) : undefined;
  if (existing) {
    return {
      status: 409,
      body: { ...view(existing), error: 'conflict', message: `a sensor with mappingId ${JSON.stringify(existing.mappingId)} already exists` },
      errorCode: 'conflict',
    };
  }
  const sensor = ctx.store.createSensor({ ...v.value, autoProvisioned: false });
  return { status: 201, body: view(sensor), headers: { location: `/v1/hub/sensors/${sensor.id}` } };
}
