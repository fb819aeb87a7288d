/**
 * Sparkplug B payloads: decoded with protobufjs over Tahu's message definitions (proto.ts), uint64
 * fields as `long` values; a metric's value turned into a reading value by its datatype (signed
 * integers are sent two's-complement in unsigned fields), or a reason why it cannot be one.
 * Encoding is needed for one message only: the rebirth request (NCMD `Node Control/Rebirth`).
 * protobufjs and long are loaded with the first Sparkplug source (loadSparkplugCodec), not with
 * the agent: agents without one do not pay for them at start.
 */
import type LongModule from 'long';
import type ProtobufModule from 'protobufjs';
import { SPARKPLUG_B_DESCRIPTOR } from './proto.js';

type Long = LongModule;
type LongStatic = typeof LongModule;
type Protobuf = typeof ProtobufModule;

let loading: Promise<SparkplugCodec> | null = null;

export function loadSparkplugCodec(): Promise<SparkplugCodec> {
  loading ??= Promise.all([import('long'), import('protobufjs')]).then(([long, protobuf]) => new SparkplugCodec(long.default, protobuf.default));
  return loading;
}

type Uint64 = number | Long | null | undefined;

export interface SparkplugMetric {
  name?: string | null;
  alias?: Uint64;
  timestamp?: Uint64;
  datatype?: number | null;
  isNull?: boolean | null;
  intValue?: number | null;
  longValue?: Uint64;
  floatValue?: number | null;
  doubleValue?: number | null;
  booleanValue?: boolean | null;
  stringValue?: string | null;
  bytesValue?: Uint8Array | null;
  /** Which of the value fields is set (the `value` oneof). */
  value?: string;
}

export interface SparkplugPayload {
  timestamp?: Uint64;
  seq?: Uint64;
  metrics: SparkplugMetric[];
}

/** A decoded field that was on the wire: protobufjs puts defaults (0, "") on the prototype, not the message. */
function present<T>(message: object, field: string, value: T): T | undefined {
  return Object.prototype.hasOwnProperty.call(message, field) ? value : undefined;
}

export class SparkplugCodec {
  private readonly Payload: ProtobufModule.Type;

  constructor(
    private readonly Long: LongStatic,
    protobuf: Protobuf,
  ) {
    this.Payload = protobuf.Root.fromJSON(SPARKPLUG_B_DESCRIPTOR as unknown as ProtobufModule.INamespace).lookupType('org.eclipse.tahu.protobuf.Payload');
  }

  decode(bytes: Uint8Array): { ok: true; payload: SparkplugPayload } | { ok: false; reason: string } {
    try {
      const message = this.Payload.decode(bytes) as unknown as SparkplugPayload;
      // Absent name, alias, timestamp and datatype must read as absent, not as 0 (datatype 0 is "Unknown").
      const metrics = (message.metrics ?? []).map((m) => ({
        ...m,
        name: present(m, 'name', m.name),
        alias: present(m, 'alias', m.alias),
        timestamp: present(m, 'timestamp', m.timestamp),
        datatype: m.datatype === 0 ? undefined : present(m, 'datatype', m.datatype),
        isNull: present(m, 'isNull', m.isNull),
      }));
      return { ok: true, payload: { timestamp: present(message, 'timestamp', message.timestamp), seq: present(message, 'seq', message.seq), metrics } };
    } catch (err) {
      return { ok: false, reason: `not a Sparkplug B payload: ${(err as Error).message}` };
    }
  }

  /** Unsigned 64-bit field → number (null when absent). */
  uint64(v: Uint64): number | null {
    if (v === null || v === undefined) return null;
    return typeof v === 'number' ? v : this.Long.fromValue(v).toNumber();
  }

  value(m: SparkplugMetric, datatype: number | undefined): { ok: true; value: number | string | boolean } | { ok: false; reason: string } {
    return metricValue(this.Long, m, datatype);
  }

  /** The NCMD payload asking an edge node to publish its births again. */
  rebirthRequest(now: number): Buffer {
    const message = this.Payload.create({ timestamp: now, metrics: [{ name: 'Node Control/Rebirth', timestamp: now, datatype: 11, booleanValue: true }] });
    return Buffer.from(this.Payload.encode(message).finish());
  }

  /** Encodes a payload (tests and the benchmark publish like an edge node). */
  encode(payload: { timestamp?: number; seq?: number; metrics: Array<Record<string, unknown>> }): Buffer {
    return Buffer.from(this.Payload.encode(this.Payload.create(payload)).finish());
  }
}

/** The Sparkplug B datatypes the agent delivers (Int8 … Text); others are refused by name. */
const DATATYPE_NAMES: Record<number, string> = {
  1: 'Int8', 2: 'Int16', 3: 'Int32', 4: 'Int64', 5: 'UInt8', 6: 'UInt16', 7: 'UInt32', 8: 'UInt64',
  9: 'Float', 10: 'Double', 11: 'Boolean', 12: 'String', 13: 'DateTime', 14: 'Text',
  15: 'UUID', 16: 'DataSet', 17: 'Bytes', 18: 'File', 19: 'Template',
};

export function datatypeName(datatype: number | null | undefined): string {
  return datatype === null || datatype === undefined ? 'unknown' : (DATATYPE_NAMES[datatype] ?? `type ${datatype}`);
}

function metricValue(Long: LongStatic, m: SparkplugMetric, datatype: number | undefined): { ok: true; value: number | string | boolean } | { ok: false; reason: string } {
  if (m.isNull === true) return { ok: false, reason: 'the metric is null (is_null): no value to deliver' };
  const int = m.intValue ?? 0;
  const long = m.longValue === null || m.longValue === undefined ? Long.UZERO : Long.fromValue(m.longValue);
  switch (datatype) {
    case 1:
      return { ok: true, value: (int << 24) >> 24 };
    case 2:
      return { ok: true, value: (int << 16) >> 16 };
    case 3:
      return { ok: true, value: int | 0 };
    case 5:
    case 6:
    case 7:
      return { ok: true, value: int >>> 0 };
    case 4:
      return { ok: true, value: long.toSigned().toNumber() };
    case 8:
    case 13:
      return { ok: true, value: long.toUnsigned().toNumber() };
    case 9:
      return finite(m.floatValue);
    case 10:
      return finite(m.doubleValue);
    case 11:
      return { ok: true, value: m.booleanValue === true };
    case 12:
    case 14:
    case 15:
      return { ok: true, value: m.stringValue ?? '' };
    default:
      return { ok: false, reason: `datatype ${datatypeName(datatype)} is not a time-series value` };
  }
}

function finite(v: number | null | undefined): { ok: true; value: number } | { ok: false; reason: string } {
  return typeof v === 'number' && Number.isFinite(v) ? { ok: true, value: v } : { ok: false, reason: `value ${String(v)} is not a finite number` };
}
