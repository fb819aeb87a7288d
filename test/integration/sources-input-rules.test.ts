// Issue #15's input rules through real sources (in-process, sources-harness.ts): a line that is
// not valid UTF-8 is dead-lettered with its line and byte offset by the file source (plain and
// gzip), a TCP connection and a UDP datagram, while a genuine U+FFFD is delivered; an influx
// string field value holding a newline is one record, read by a real file source across two
// writes and a restart between them.
import dgram from 'node:dgram';
import { appendFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSource, sourceSchema } from '../../src/config/sources-schema.js';
import { createSource } from '../../src/sources/registry.js';
import type { Source } from '../../src/sources/source.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness, quietLogger } from './sources-harness.js';

const NS = '1764237600000000000';
const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
});

function runFile(h: Harness, settings: Record<string, unknown>) {
  const config = fileSource.parse({ name: 'f', type: 'file', format: 'jsonl', poll_interval: 10, refresh_interval: 20, rotate_wait: 50, ...settings });
  return h.start(createSource(config, { lane: 0, checkpoints: h.savedCheckpoints(), logger: quietLogger }));
}

async function startSocket(settings: Record<string, unknown>): Promise<{ h: Harness; port: number }> {
  const config = sourceSchema.parse({ name: 'sock', format: 'jsonl', ...settings });
  const source = createSource(config, { lane: 0, checkpoints: [], logger: quietLogger }) as Source & { address?: string | null };
  const h = new Harness();
  harnesses.push(h);
  h.start(source);
  await source.whenStarted?.();
  return { h, port: Number(/:(\d+)$/.exec(source.address ?? '')![1]) };
}

const good = (measure: string, value: string) => Buffer.from(JSON.stringify({ sensor: 's', measure, ts: '2026-11-27T10:00:00Z', value }) + '\n', 'utf8');
const BAD = Buffer.concat([Buffer.from('{"sensor":"s","measure":"bad","ts":"2026-11-27T10:00:00Z","value":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
const MIXED = Buffer.concat([good('a', 'plain'), BAD, good('b', 'genuine \ufffd kept'), good('c', 'Öl 🛠')]);

function expectMixed(h: Harness, fileOffset: boolean) {
  expect(h.readings.map((r) => [r.measure, r.value])).toEqual([
    ['a', 'plain'],
    ['b', 'genuine \ufffd kept'],
    ['c', 'Öl 🛠'],
  ]);
  expect(h.dead).toHaveLength(1);
  expect(h.dead[0]!.line).toBe(2);
  const at = BAD.indexOf(0xe9);
  const where = fileOffset ? ` \\(byte ${good('a', 'plain').length + at} of the file\\)` : '';
  expect(h.dead[0]!.reason).toMatch(new RegExp(`^invalid UTF-8 at byte ${at} of the line${where}: E9 22 7D;`));
}

describe('invalid UTF-8', () => {
  it('file source: the bad line is dead-lettered with its line and file offset; the others, a genuine U+FFFD among them, are delivered as written', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'x.jsonl'), MIXED);
    const h = new Harness();
    harnesses.push(h);
    runFile(h, { path: path.join(dir, '*.jsonl') });
    await waitFor(() => h.readings.length === 3 && h.dead.length === 1, 'three readings and a dead letter');
    expectMixed(h, true);
  });

  it('file source: a last line without newline, let go when the file is deleted, is refused the same way', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.jsonl');
    writeFileSync(file, Buffer.concat([good('a', 'plain'), BAD.subarray(0, BAD.length - 1)]));
    const h = new Harness();
    harnesses.push(h);
    runFile(h, { path: file });
    await waitFor(() => h.readings.length === 1, 'the complete line');
    unlinkSync(file);
    await waitFor(() => h.dead.length === 1, 'the flushed last line');
    expect(h.dead[0]).toMatchObject({ line: 2, reason: expect.stringMatching(/^invalid UTF-8 at byte \d+ of the line \(byte \d+ of the file\)/) as unknown });
  });

  it('gzip file: the same', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'x.jsonl.gz'), gzipSync(MIXED));
    const h = new Harness();
    harnesses.push(h);
    runFile(h, { path: path.join(dir, '*.jsonl.gz') });
    await waitFor(() => h.readings.length === 3 && h.dead.length === 1, 'three readings and a dead letter');
    expectMixed(h, false);
  });

  it('tcp: the same, the character of a good line split across writes', async () => {
    const { h, port } = await startSocket({ type: 'tcp', listen: '127.0.0.1:0' });
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const cut = MIXED.length - 5; // inside "🛠"
    socket.write(MIXED.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 20));
    socket.end(MIXED.subarray(cut));
    await waitFor(() => h.readings.length === 3 && h.dead.length === 1, 'three readings and a dead letter');
    expectMixed(h, false);
  });

  it('udp: the bad line of a datagram is dead-lettered, the others delivered', async () => {
    const { h, port } = await startSocket({ type: 'udp', listen: '127.0.0.1:0' });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.send(MIXED, port, '127.0.0.1', () => r()));
    client.close();
    await waitFor(() => h.readings.length === 3 && h.dead.length === 1, 'three readings and a dead letter');
    expectMixed(h, false);
  });
});

describe('invalid UTF-8 in a whole document', () => {
  it('file source, senseye-json: the document is refused whole with the offset of the bad byte', async () => {
    const dir = tempDir();
    const before = Buffer.from('[{"assetId":"press-01","dataPoints":[{"timestamp":"2026-11-27T10:00:00Z","measures":[{"name":"mode","value":"caf');
    writeFileSync(path.join(dir, 'doc.json'), Buffer.concat([before, Buffer.from([0xe9]), Buffer.from('"}]}]}]\n')]));
    const h = new Harness();
    harnesses.push(h);
    runFile(h, { path: path.join(dir, '*.json'), format: 'senseye-json' });
    await waitFor(() => h.dead.length === 1, 'the document refused');
    expect(h.readings).toEqual([]);
    expect(h.dead[0]).toMatchObject({ line: 1, reason: expect.stringMatching(new RegExp(`^invalid UTF-8 at byte ${before.length} of the document: E9 22 7D 5D;`)) as unknown });
  });
});

describe('influx: a string field value holding a newline', () => {
  it('is one record through a real file source, across two writes and a restart between them', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.influx');
    writeFileSync(file, `m,sensor=s before=1 ${NS}\nm,sensor=s note="first line\n`);
    const h = new Harness();
    runFile(h, { path: file, format: 'influx' });
    await waitFor(() => h.readings.length === 1, 'the line before');
    await h.stop();
    // The open record is the parser's state in the committed position.
    expect([...h.checkpoints.values()][0]!.parserState).toContain('first line');
    appendFileSync(file, `second line",v=2 ${NS}\nm,sensor=s after=3 ${NS}\n`);
    harnesses.push(h);
    runFile(h, { path: file, format: 'influx' });
    await waitFor(() => h.readings.length === 4, 'the record over two lines, and the line after');
    expect(h.readings.map((r) => [r.measure, r.value])).toEqual([
      ['before', 1],
      ['note', 'first line\nsecond line'],
      ['v', 2],
      ['after', 3],
    ]);
    expect(h.dead).toEqual([]);
  });
});
