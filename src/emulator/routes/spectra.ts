/**
 * POST /v1/hub/spectra: a JSON array of frequency spectra. Needs Internal Hub Write (else 403).
 * Every spectrum is validated (400 naming each bad field) and its sensor resolved before any is
 * stored: the body is accepted whole (202 `{ accepted: n }`) or not at all. An unknown mappingId
 * auto-provisions a frequency sensor; a time-series sensor refuses spectra (400).
 */
import { PERMISSION, hasPermission } from '../../auth/permissions.js';
import { provision, resolveSensor, type HubContext, type HubReply } from '../context.js';
import { restError } from '../http.js';
import type { Sensor } from '../store-types.js';
import { validateSpectra, type SpectrumInput } from '../validate.js';

export function handleSpectra(ctx: HubContext): HubReply {
  if (!hasPermission(ctx.permissions, PERMISSION.hubWrite)) {
    return { ...restError(403, 'forbidden', 'storing spectra needs the Internal Hub Write permission'), errorCode: 'forbidden' };
  }
  if (!ctx.json.ok) return { ...restError(400, 'bad_request', ctx.json.message), errorCode: 'bad_request' };
  const v = validateSpectra(ctx.json.value);
  if (!v.ok) return { status: 400, body: { error: 'bad_request', message: v.errors.join('; '), errors: v.errors }, errorCode: 'bad_request' };

  const plan: Array<{ spectrum: SpectrumInput; sensor?: Sensor; mappingId?: string }> = [];
  const invalid: string[] = [];
  for (const [i, spectrum] of v.value.entries()) {
    const found = resolveSensor(ctx, spectrum.target, 'frequency', `spectra[${i}]`);
    if (found.kind === 'forbidden') return { ...restError(403, 'forbidden', found.message), errorCode: 'forbidden' };
    if (found.kind === 'invalid') invalid.push(found.message);
    else if (found.kind === 'existing') plan.push({ spectrum, sensor: found.sensor });
    else plan.push({ spectrum, mappingId: found.mappingId });
  }
  if (invalid.length > 0) {
    return { status: 400, body: { error: 'bad_request', message: invalid.join('; '), errors: invalid }, errorCode: 'bad_request' };
  }
  const entries = plan.map((p) => ({
    spectrum: p.spectrum,
    sensor: p.sensor ?? provision(ctx, p.mappingId as string, 'frequency'),
  }));
  ctx.store.acceptSpectra(entries, { clientMutationId: null, idempotencyKey: ctx.idempotencyKey, requestSeq: ctx.seq });
  return { status: 202, body: { accepted: entries.length } };
}
