// Sparkplug B metric values by datatype, through a real encode/decode with Tahu's message
// definitions: signed integers from their two's-complement unsigned fields, 64-bit ones through
// `long`, absent fields read as absent (not protobuf's default 0), and types that are no reading refused.
import { describe, expect, it } from 'vitest';
import { loadSparkplugCodec } from '../../src/sources/mqtt/sparkplug/codec.js';

describe('Sparkplug B codec', () => {
  it('turns each datatype into a reading value, or says why not', async () => {
    const codec = await loadSparkplugCodec();
    const cases: Array<[datatype: number, field: Record<string, unknown>, expected: unknown]> = [
      [1, { intValue: 0xff }, -1], // Int8
      [2, { intValue: 0x8000 }, -32768], // Int16
      [3, { intValue: 0xfffffffe }, -2], // Int32
      [4, { longValue: '18446744073709551615' }, -1], // Int64
      [5, { intValue: 200 }, 200], // UInt8
      [7, { intValue: 0xffffffff }, 4294967295], // UInt32
      [8, { longValue: '9007199254740991' }, 9007199254740991], // UInt64
      [9, { floatValue: 1.5 }, 1.5],
      [10, { doubleValue: -0.25 }, -0.25],
      [11, { booleanValue: true }, true],
      [12, { stringValue: 'open' }, 'open'],
      [13, { longValue: 1764000000000 }, 1764000000000], // DateTime
    ];
    const bytes = codec.encode({ timestamp: 1, metrics: cases.map(([datatype, field], i) => ({ name: `m${i}`, datatype, ...field })) });
    const decoded = codec.decode(bytes);
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.payload.metrics.map((m) => codec.value(m, m.datatype ?? undefined))).toEqual(cases.map(([, , value]) => ({ ok: true, value })));
  });

  it('reads absent fields as absent and refuses what is no time-series value', async () => {
    const codec = await loadSparkplugCodec();
    const decoded = codec.decode(codec.encode({ metrics: [{ alias: 3, doubleValue: 2 }, { name: 'n', isNull: true, datatype: 10 }, { name: 'ds', datatype: 16 }] }));
    if (!decoded.ok) throw new Error(decoded.reason);
    const [byAlias, isNull, dataset] = decoded.payload.metrics;
    expect([byAlias!.name, byAlias!.datatype, byAlias!.timestamp, codec.uint64(byAlias!.alias)]).toEqual([undefined, undefined, undefined, 3]);
    expect(decoded.payload.timestamp).toBeUndefined();
    expect(codec.value(isNull!, 10)).toEqual({ ok: false, reason: 'the metric is null (is_null): no value to deliver' });
    expect(codec.value(dataset!, 16)).toEqual({ ok: false, reason: 'datatype DataSet is not a time-series value' });
    expect(codec.decode(Buffer.from([0xff, 0xff, 0xff]))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a Sparkplug B payload/) });
  });
});
