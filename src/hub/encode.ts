/**
 * Request bodies for the hub. One storeSensorMeasureData mutation addresses one sensor; its
 * clientMutationId is the batch id, derived from the outbox rows it carries, so a retry or a
 * resend after a crash carries the same id and the hub (or an auditor) can recognise it.
 */
import { createHash } from 'node:crypto';
import type { WaitingReading } from '../outbox/types.js';
import { formatTimestamp } from '../parse/timestamp.js';
import { BODY_HEAD_ROOM, freshBuffers, type TakeBuffer } from './body-buffers.js';

export const STORE_MUTATION =
  'mutation storeSensorMeasureData($input: StoreSensorMeasureDataInput!) { storeSensorMeasureData(input: $input) { clientMutationId } }';

export type SensorAddress = { sensorId: string } | { mappingId: string };

/** The JSON of one DataPoint, e.g. {"measureName":"t","timestamp":"…Z","floatValue":1.5}. */
export function encodeDataPoint(r: WaitingReading): string {
  const head = `{"measureName":${JSON.stringify(r.measure)},"timestamp":"${formatTimestamp(r.ts)}",`;
  switch (r.kind) {
    case 'float':
      return `${head}"floatValue":${JSON.stringify(r.value)}}`;
    case 'boolean':
      return `${head}"booleanValue":${r.value ? 'true' : 'false'}}`;
    default:
      return `${head}"stringValue":${JSON.stringify(r.value)}}`;
  }
}

export function batchId(lane: number, sensor: string, readings: readonly WaitingReading[]): string {
  // One update of "id,id,...,id," (the same bytes, so the same id, as one update per row, at
  // a fraction of the cost: thousands of rows per batch).
  let ids = '';
  for (const r of readings) ids += `${r.id},`;
  return `sa-${createHash('sha256').update(`${lane}\u0000${sensor}\u0000`).update(ids).digest('hex').slice(0, 24)}`;
}

/**
 * The mutation's body as bytes. `encodedPoints`: the points' JSON, as a list, or already joined
 * with commas as UTF-8 (planned batches: encodePoints). Points encoded with room around them
 * (body-buffers.ts) get the head and tail written in place, and the body is a view of that
 * buffer: no copy. Bytes rather than a string: a body of hundreds of kilobytes as a string lives
 * in V8's large-object space until a full collection (docs/performance.md, item 22).
 */
export function encodeMutation(address: SensorAddress, clientMutationId: string, encodedPoints: readonly string[] | EncodedPoints): Buffer {
  const addr = 'sensorId' in address ? `"sensorId":${JSON.stringify(address.sensorId)}` : `"mappingId":${JSON.stringify(address.mappingId)}`;
  const head = `{"query":${JSON.stringify(STORE_MUTATION)},"variables":{"input":{${addr},"clientMutationId":${JSON.stringify(clientMutationId)},"dataPoints":[`;
  if (!(encodedPoints instanceof Uint8Array)) return Buffer.from(`${head}${encodedPoints.join(',')}${MUTATION_TAIL}`);
  const headBytes = Buffer.byteLength(head);
  const start = encodedPoints.byteOffset - headBytes;
  const end = encodedPoints.byteOffset + encodedPoints.length + MUTATION_TAIL.length;
  if (start < 0 || end > encodedPoints.buffer.byteLength) {
    // A head longer than the room (a very long mapping id): copied once instead.
    return Buffer.concat([Buffer.from(head), encodedPoints, Buffer.from(MUTATION_TAIL)]);
  }
  const body = Buffer.from(encodedPoints.buffer, start, end - start);
  body.write(head, 0, 'utf8');
  body.write(MUTATION_TAIL, end - start - MUTATION_TAIL.length, 'latin1');
  return body;
}

const MUTATION_TAIL = ']}}}';

/**
 * Points from encodePoints: a view with BODY_HEAD_ROOM bytes before it and BODY_TAIL_ROOM after
 * it in an ArrayBuffer no one else uses (so the head and tail may be written there).
 */
export type EncodedPoints = Uint8Array & { readonly withRoom: true };

/** Points per string joined before encoding: ~50 KB, so the strings die young (not in the large-object space). */
const JOIN_GROUP = 500;

/**
 * A batch's points joined with commas, as UTF-8, from BODY_HEAD_ROOM on in a buffer from
 * `buffers`, with room for the mutation's head before them and its tail after. `bytes`: their
 * length joined, from planBatches.
 */
export function encodePoints(points: readonly string[], bytes: number, buffers: TakeBuffer = freshBuffers): EncodedPoints {
  const out = Buffer.from(buffers.take(bytes), BODY_HEAD_ROOM, bytes);
  let at = 0;
  for (let i = 0; i < points.length; i += JOIN_GROUP) {
    if (i > 0) at += out.write(',', at, 'latin1');
    at += out.write(points.slice(i, i + JOIN_GROUP).join(','), at, 'utf8');
  }
  if (at !== bytes) throw new Error(`encoded ${at} bytes of points where ${bytes} were measured`);
  return out as Buffer & EncodedPoints;
}

/** Bytes of a mutation body apart from its data points (generous: ids and addresses vary). */
export const MUTATION_OVERHEAD_BYTES = 512;

export interface PlannedBatch {
  readings: WaitingReading[];
  points: string[];
  /** The points' UTF-8 length, joined with commas. */
  bytes: number;
}

/**
 * Splits one sensor's readings (in commit order) into request-sized batches: at most
 * `maxPoints` points and `maxBytes` of body each. A single point larger than the limit still
 * gets a batch of its own (the hub then answers 413 and it is dead-lettered with that reason).
 */
export function planBatches(readings: readonly WaitingReading[], maxPoints: number, maxBytes: number): PlannedBatch[] {
  const out: PlannedBatch[] = [];
  let current: PlannedBatch = { readings: [], points: [], bytes: -1 };
  let bytes = MUTATION_OVERHEAD_BYTES;
  for (const r of readings) {
    const point = encodeDataPoint(r);
    const size = Buffer.byteLength(point) + 1;
    if (current.readings.length > 0 && (current.readings.length >= maxPoints || bytes + size > maxBytes)) {
      out.push(current);
      current = { readings: [], points: [], bytes: -1 };
      bytes = MUTATION_OVERHEAD_BYTES;
    }
    current.readings.push(r);
    current.points.push(point);
    current.bytes += size; // each point and a comma, less the last comma (from -1)
    bytes += size;
  }
  if (current.readings.length > 0) out.push(current);
  return out;
}

/** One spectrum object as the hub wants it: address, timestamp, then the stored fields. */
export function encodeSpectrum(address: SensorAddress, ts: number, body: string): string {
  const addr = 'sensorId' in address ? `"sensorId":${JSON.stringify(address.sensorId)}` : `"mappingId":${JSON.stringify(address.mappingId)}`;
  return `{${addr},"timestamp":"${formatTimestamp(ts)}",${body.slice(1)}`;
}

export function spectraBatchId(lane: number, sensor: string, ids: readonly number[]): string {
  const hash = createHash('sha256').update(`spectra\u0000${lane}\u0000${sensor}\u0000`);
  for (const id of ids) hash.update(`${id},`);
  return `sa-${hash.digest('hex').slice(0, 24)}`;
}

/** Splits spectra (in commit order) into requests of at most `maxCount` spectra and `maxBytes` of body. */
export function planSpectraBatches<T extends { body: string }>(items: readonly T[], maxCount: number, maxBytes: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 2;
  for (const item of items) {
    const size = Buffer.byteLength(item.body) + 128;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 2;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
