import { describe, expect, it } from 'vitest';
import { checkTimestamp } from '../../src/emulator/timestamp.js';
import {
  checkStoreMutationQuery,
  MAX_ERRORS,
  validateDataPoint,
  validateMutationInput,
  validateSensorCreate,
  validateSpectra,
  validateSpectrum,
} from '../../src/emulator/validate.js';
import { parseDuration } from '../../src/emulator/duration.js';

const SENSOR_ID = '3f1c2a9e-8b7d-4c6e-9a1b-2c3d4e5f6a7b';

function errorsOf(r: { ok: boolean; errors?: string[] }): string[] {
  expect(r.ok).toBe(false);
  return r.errors ?? [];
}

describe('checkTimestamp', () => {
  it.each([
    ['2024-01-31T12:00:00Z', Date.UTC(2024, 0, 31, 12)],
    ['2024-01-31T12:00:00.123Z', Date.UTC(2024, 0, 31, 12, 0, 0, 123)],
    ['2024-01-31t12:00:00z', Date.UTC(2024, 0, 31, 12)],
    ['2024-01-31T13:30:00+01:30', Date.UTC(2024, 0, 31, 12)],
    ['2024-01-31T07:00:00-05:00', Date.UTC(2024, 0, 31, 12)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2024-01-31T12:00:00.123456789Z', Date.UTC(2024, 0, 31, 12, 0, 0, 123)],
    ['2024-02-29T23:59:59.999Z', Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
    ['1970-01-01T00:00:00.000Z', 0],
  ])('accepts %s', (ts, epochMs) => {
    expect(checkTimestamp(ts)).toEqual({ ok: true, epochMs });
  });

  it('rejects a naive timestamp and says the offset is missing', () => {
    const r = checkTimestamp('2024-01-31T12:00:00');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/offset/);
  });

  it.each([
    // the canonical 24-character form takes a fast path: these must still be refused
    '2023-02-29T00:00:00.000Z',
    '2024-04-31T00:00:00.000Z',
    '2024-01-31T24:00:00.000Z',
    '2016-12-31T23:59:60.000Z',
    '2024-01-31T12:00:00.12XZ',
    '2024-01-31 12:00:00.000Z',
    '2024-01-31 12:00:00Z',
    '2024-01-31',
    '2023-02-29T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-01-31T24:00:00Z',
    '2024-01-31T12:60:00Z',
    '2024-01-31T12:00:60Z',
    '2024-01-31T12:00:00+24:00',
    '2024-01-31T12:00:00+0100',
    '1706702400000',
    '',
  ])('rejects %j', (ts) => {
    expect(checkTimestamp(ts).ok).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(checkTimestamp(1706702400000).ok).toBe(false);
    expect(checkTimestamp(null).ok).toBe(false);
  });
});

describe('validateSensorCreate', () => {
  it('accepts a full body and defaults optional fields to null', () => {
    expect(validateSensorCreate({ name: 'Pump 1', mappingId: 'pump-1', ingest: 'timeseries', description: 'd' })).toEqual({
      ok: true,
      value: { name: 'Pump 1', mappingId: 'pump-1', ingest: 'timeseries', description: 'd' },
    });
    expect(validateSensorCreate({ name: 'Fan', ingest: 'frequency' })).toEqual({
      ok: true,
      value: { name: 'Fan', mappingId: null, ingest: 'frequency', description: null },
    });
  });

  it('names every bad field', () => {
    const errors = errorsOf(validateSensorCreate({ name: '', ingest: 'both', mappingId: 7, colour: 'red' }));
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^name: /),
        expect.stringMatching(/^ingest: /),
        expect.stringMatching(/^mappingId: /),
        'colour: unknown field',
      ]),
    );
  });

  it('requires ingest and an object body', () => {
    expect(errorsOf(validateSensorCreate({ name: 'x' }))[0]).toMatch(/^ingest: /);
    expect(errorsOf(validateSensorCreate([]))[0]).toMatch(/^body: /);
  });
});

describe('validateDataPoint', () => {
  const base = { measureName: 'temp', timestamp: '2024-01-31T12:00:00.000Z' };

  it.each([
    [{ ...base, floatValue: 21.5 }, 21.5, 'float'],
    [{ ...base, floatValue: 3 }, 3, 'float'],
    [{ ...base, stringValue: 'RUNNING' }, 'RUNNING', 'string'],
    [{ ...base, stringValue: '' }, '', 'string'],
    [{ ...base, booleanValue: false }, false, 'boolean'],
    [{ ...base, floatValue: 1, stringValue: null }, 1, 'float'],
  ])('accepts %j', (dp, value, type) => {
    const r = validateDataPoint(dp);
    expect(r).toMatchObject({ ok: true, value: { value, type, epochMs: Date.UTC(2024, 0, 31, 12) } });
  });

  it.each([NaN, Infinity, -Infinity])('rejects floatValue %s (JSON cannot carry it, the validator still must)', (v) => {
    expect(errorsOf(validateDataPoint({ ...base, floatValue: v }, 'dataPoints[0]'))).toEqual([
      expect.stringMatching(/^dataPoints\[0\]\.floatValue: must be a finite number/),
    ]);
  });

  it('rejects two value fields', () => {
    expect(errorsOf(validateDataPoint({ ...base, floatValue: 1, booleanValue: true }, 'dataPoints[2]'))).toEqual([
      'dataPoints[2]: has floatValue and booleanValue; give exactly one value field',
    ]);
  });

  it('rejects no value field', () => {
    expect(errorsOf(validateDataPoint(base))[0]).toMatch(/exactly one of floatValue, stringValue, booleanValue/);
  });

  it('rejects wrongly typed values, empty measure names, naive timestamps and unknown fields', () => {
    expect(errorsOf(validateDataPoint({ ...base, floatValue: '1.5' }))[0]).toMatch(/floatValue: must be a finite number, got string/);
    expect(errorsOf(validateDataPoint({ ...base, booleanValue: 'true' }))[0]).toMatch(/booleanValue: must be a boolean/);
    expect(errorsOf(validateDataPoint({ ...base, stringValue: 5 }))[0]).toMatch(/stringValue: must be a string/);
    expect(errorsOf(validateDataPoint({ ...base, measureName: ' ', floatValue: 1 }))[0]).toMatch(/measureName: must not be empty/);
    expect(errorsOf(validateDataPoint({ ...base, timestamp: '2024-01-31T12:00:00', floatValue: 1 }, 'dataPoints[3]'))).toEqual([
      expect.stringMatching(/^dataPoints\[3\]\.timestamp: must carry a UTC offset/),
    ]);
    expect(errorsOf(validateDataPoint({ ...base, floatValue: 1, unit: 'C' }))).toEqual(['dataPoint.unit: unknown field']);
  });
});

describe('validateMutationInput', () => {
  const point = { measureName: 'temp', timestamp: '2024-01-31T12:00:00.000Z', floatValue: 1 };

  it('accepts sensorId or mappingId input and normalises clientMutationId', () => {
    const a = validateMutationInput({ sensorId: SENSOR_ID, dataPoints: [point] });
    expect(a).toMatchObject({ ok: true, value: { target: { kind: 'sensorId', sensorId: SENSOR_ID }, clientMutationId: null } });
    const b = validateMutationInput({ mappingId: 'pump-1', clientMutationId: 'm-1', dataPoints: [point, point] });
    expect(b).toMatchObject({ ok: true, value: { target: { kind: 'mappingId', mappingId: 'pump-1' }, clientMutationId: 'm-1' } });
    expect(b.ok && b.value.dataPoints).toHaveLength(2);
  });

  it('requires exactly one of sensorId / mappingId', () => {
    expect(errorsOf(validateMutationInput({ dataPoints: [point] }))[0]).toMatch(/exactly one of sensorId or mappingId/);
    expect(errorsOf(validateMutationInput({ sensorId: SENSOR_ID, mappingId: 'x', dataPoints: [point] }))[0]).toMatch(/not both/);
    expect(errorsOf(validateMutationInput({ sensorId: 'not-a-uuid', dataPoints: [point] }))[0]).toMatch(/sensorId: must be a UUID/);
  });

  it('requires a non-empty dataPoints array', () => {
    expect(errorsOf(validateMutationInput({ sensorId: SENSOR_ID, dataPoints: [] }))[0]).toMatch(/at least one/);
    expect(errorsOf(validateMutationInput({ sensorId: SENSOR_ID }))[0]).toMatch(/^input\.dataPoints: /);
  });

  it('reports every invalid point by index and is all-or-nothing', () => {
    const r = validateMutationInput({
      sensorId: SENSOR_ID,
      dataPoints: [point, { ...point, timestamp: '2024-01-31T12:00:00' }, point, { ...point, floatValue: undefined }],
    });
    const errors = errorsOf(r);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^dataPoints\[1\]\.timestamp: /);
    expect(errors[1]).toMatch(/^dataPoints\[3\]: exactly one of/);
  });

  it('caps the number of messages', () => {
    const bad = Array.from({ length: MAX_ERRORS + 20 }, () => ({ ...point, floatValue: 'x' }));
    const errors = errorsOf(validateMutationInput({ sensorId: SENSOR_ID, dataPoints: bad }));
    expect(errors).toHaveLength(MAX_ERRORS + 1);
    expect(errors.at(-1)).toBe('… and 20 more problems');
  });

  it('rejects a wrongly typed clientMutationId and unknown input fields', () => {
    const errors = errorsOf(validateMutationInput({ sensorId: SENSOR_ID, clientMutationId: 5, extra: 1, dataPoints: [point] }));
    expect(errors).toEqual(expect.arrayContaining(['input.extra: unknown field', expect.stringMatching(/^input\.clientMutationId: /)]));
  });
});

describe('checkStoreMutationQuery', () => {
  const documented = `mutation storeSensorMeasureData($input: StoreSensorMeasureDataInput!) {
    storeSensorMeasureData(input: $input) { clientMutationId }
  }`;

  it('accepts the documented mutation and finds its input variable', () => {
    expect(checkStoreMutationQuery(documented)).toEqual({ ok: true, value: { inputVariable: 'input' } });
    expect(
      checkStoreMutationQuery('# comment\nmutation Store($in: StoreSensorMeasureDataInput!) { storeSensorMeasureData(input: $in) { clientMutationId } }'),
    ).toEqual({ ok: true, value: { inputVariable: 'in' } });
  });

  it.each([
    ['', /non-empty/],
    ['{ sensors { id } }', /not a mutation/],
    ['query q { storeSensorMeasureData(input: $input) { clientMutationId } }', /not a mutation/],
    ['mutation m { createSensor(input: $input) { id } }', /does not select storeSensorMeasureData/],
    ['mutation m { storeSensorMeasureData(input: { sensorId: "x" }) { clientMutationId } }', /from a variable/],
  ])('rejects %j', (q, reason) => {
    expect(errorsOf(checkStoreMutationQuery(q))[0]).toMatch(reason);
  });
});

describe('validateSpectrum / validateSpectra', () => {
  const good = {
    mappingId: 'fan-1',
    timestamp: '2024-01-31T12:00:00.000Z',
    amplitudeUnit: 'mm/s',
    measurementType: 'velocity',
    spacing: 0.5,
    end: 1.5,
    number: 4,
    speed: 24.5,
    data: [0, 0.1, 0.2, 0.3],
  };

  it('accepts a valid spectrum, addressed either way', () => {
    expect(validateSpectrum(good)).toMatchObject({ ok: true, value: { target: { kind: 'mappingId', mappingId: 'fan-1' }, number: 4 } });
    const { mappingId: _m, ...rest } = good;
    expect(validateSpectrum({ ...rest, sensorId: SENSOR_ID }).ok).toBe(true);
    expect(validateSpectrum({ ...good, number: 1, data: [1], end: 0 }).ok).toBe(true);
  });

  it('tolerates floating-point error in end within 1e-9 relative', () => {
    const spacing = 0.1;
    const number = 4097;
    expect(validateSpectrum({ ...good, spacing, number, data: new Array(number).fill(0), end: 409.6 * (1 + 5e-10) }).ok).toBe(true);
    expect(errorsOf(validateSpectrum({ ...good, spacing, number, data: new Array(number).fill(0), end: 409.6 * (1 + 5e-9) }))[0]).toMatch(
      /^spectrum\.end: must equal \(number - 1\) \* spacing/,
    );
  });

  it.each([
    [{ number: 5 }, /^spectrum\.number: must equal data\.length \(4\), got 5/],
    [{ number: 4.5 }, /^spectrum\.number: must be a positive integer/],
    [{ end: 2 }, /^spectrum\.end: must equal \(number - 1\) \* spacing = 1\.5, got 2/],
    [{ spacing: 0 }, /^spectrum\.spacing: must be > 0/],
    [{ spacing: -1 }, /^spectrum\.spacing: must be > 0/],
    [{ speed: -1 }, /^spectrum\.speed: must be >= 0/],
    [{ speed: NaN }, /^spectrum\.speed: must be a finite number/],
    [{ amplitudeUnit: 'g' }, /^spectrum\.amplitudeUnit: must be one of/],
    [{ measurementType: 'displacement' }, /^spectrum\.measurementType: /],
    [{ timestamp: '2024-01-31T12:00:00' }, /^spectrum\.timestamp: must carry a UTC offset/],
    [{ data: [0, 0.1, Infinity, 0.3] }, /^spectrum\.data\[2\]: must be a finite number/],
    [{ data: 'x' }, /^spectrum\.data: must be an array/],
    [{ sensorId: SENSOR_ID }, /not both/],
    [{ rpm: 1470 }, /^spectrum\.rpm: unknown field/],
  ])('rejects %j', (patch, reason) => {
    expect(errorsOf(validateSpectrum({ ...good, ...patch }))).toEqual(expect.arrayContaining([expect.stringMatching(reason)]));
  });

  it('requires a non-empty array body and names the index of a bad spectrum', () => {
    expect(errorsOf(validateSpectra({}))[0]).toMatch(/^body: must be a JSON array/);
    expect(errorsOf(validateSpectra([]))[0]).toMatch(/at least one/);
    expect(errorsOf(validateSpectra([good, { ...good, number: 3, end: 1 }]))).toEqual([expect.stringMatching(/^spectra\[1\]\.number: /)]);
    expect(validateSpectra([good, good])).toMatchObject({ ok: true, value: [{ number: 4 }, { number: 4 }] });
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '3600', '1x', 'h', '1h 30m', '-1h'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/expected a duration like/);
  });
});
