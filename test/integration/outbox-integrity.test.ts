// A damaged outbox never makes the agent crash-loop: it is moved aside, a fresh one starts,
// and `outbox doctor --salvage` recovers what is readable.
import { closeSync, existsSync, openSync, readdirSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { markCleanShutdown, openOutboxChecked } from '../../src/outbox/integrity.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { salvage } from '../../src/outbox/salvage.js';
import { OUTBOX_DAMAGE_KEY, type OutboxDamage } from '../../src/outbox/salvage-state.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import { readings } from '../helpers/delivery-rig.js';
import { versionThreeOutbox } from '../helpers/old-outbox.js';
import { tempDir } from '../helpers/tmp.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const logs: Array<Record<string, unknown>> = [];
const logger = pino({}, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });

describe('outbox integrity', () => {
  it('moves a file that is not a database aside and starts fresh', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'outbox.db'), 'this is not a database, it was overwritten by accident'.repeat(100));
    const { outbox, movedAside } = openOutboxChecked(dir, {}, logger);
    expect(movedAside).toMatch(/outbox\.db\.damaged-/);
    expect(existsSync(movedAside!)).toBe(true);
    expect(outbox.counts().appended).toBe(0);
    expect(logs.some((l) => l.event === 'outbox_damaged' && String(l.msg).includes('senseye-agent outbox doctor'))).toBe(true);
    // Nothing in it could be read: the log says so, and that file positions were lost.
    expect(logs.find((l) => l.event === 'outbox_salvaged')).toMatchObject({ level: 50, salvaged: { readings: 0, positions: 0 }, positions_lost: expect.stringContaining('not a database') });
    outbox.close();
  });

  it('recovers waiting readings, then file positions and hub sensor ids, from a damaged file it moves aside', () => {
    const dir = tempDir();
    const old = Outbox.inStateDir(dir);
    const checkpoint = { source: 's', fileKey: '1:2', path: '/data/s.jsonl', offset: 4096, line: 90, headLen: 256, headHash: 'h', parserState: null };
    old.append([{ source: 's', lane: LIVE_LANE, readings: readings(90), deadLetters: [], checkpoint }]);
    old.rememberHubSensorId('a', 'hub-a', 'timeseries');
    old.rememberHubSensorId('b', 'hub-b', 'timeseries');
    // Not stopped cleanly; garbage over the counters table's page (salvage does not need it).
    sqlOf(old).pragma('wal_checkpoint(TRUNCATE)');
    const page = sqlOf(old).prepare("SELECT rootpage FROM sqlite_master WHERE name = 'counters'").pluck().get() as number;
    const pageSize = sqlOf(old).pragma('page_size', { simple: true }) as number;
    sqlOf(old).close();
    const fd = openSync(path.join(dir, 'outbox.db'), 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (page - 1) * pageSize);
    closeSync(fd);

    const { outbox, movedAside, damage } = openOutboxChecked(dir, {}, logger);
    expect(movedAside).toMatch(/outbox\.db\.damaged-/);
    expect(damage).toMatchObject({ salvaged: { readings: 90, positions: 1, sensorIds: 2 }, unreadable: [], positionsLost: null });
    expect(outbox.readWaiting(LIVE_LANE, 1000)).toHaveLength(90);
    expect(outbox.checkpoints('s')).toEqual([checkpoint]);
    expect(outbox.hubSensorId('a')).toBe('hub-a');
    expect(outbox.hubSensorId('b')).toBe('hub-b');
    expect(outbox.state.get<OutboxDamage>(OUTBOX_DAMAGE_KEY)?.value).toEqual(damage);
    outbox.close();
  });

  it('skips the check after a clean stop and runs it after an unclean one', () => {
    const dir = tempDir();
    const first = openOutboxChecked(dir, {}, logger).outbox;
    first.append([{ source: 's', lane: LIVE_LANE, readings: readings(10), deadLetters: [] }]);
    markCleanShutdown(first);
    first.close();
    const second = openOutboxChecked(dir, {}, logger);
    expect(second.movedAside).toBeNull();
    expect(second.outbox.state.get('clean_shutdown')?.value).toBe(false); // running: not clean until stopped
    second.outbox.close();
  });

  it('after one unclean stop checks a large outbox only where the stop wrote; the second in a row checks all of it', () => {
    // A "large" outbox here is anything over fullUpToBytes: 0, with 300 readings read at each end.
    const check = { fullUpToBytes: 0, edgeRows: 300 };
    const leaves = (dir: string) => {
      const db = new Database(path.join(dir, 'outbox.db'));
      const pages = db.prepare("SELECT pageno FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf' ORDER BY path").pluck().all() as number[];
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.close();
      return { pages, pageSize };
    };
    const damage = (dir: string, page: number, pageSize: number) => {
      const fd = openSync(path.join(dir, 'outbox.db'), 'r+');
      writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (page - 1) * pageSize);
      closeSync(fd);
    };
    const fill = () => {
      const dir = tempDir();
      const o = openOutboxChecked(dir, {}, logger, { check }).outbox;
      o.append([{ source: 's', lane: LIVE_LANE, readings: readings(20_000), deadLetters: [] }]);
      sqlOf(o).pragma('wal_checkpoint(TRUNCATE)');
      sqlOf(o).close(); // not stopped cleanly
      return dir;
    };
    // Damage among the newest readings is found by the bounded check.
    const atEnd = fill();
    const end = leaves(atEnd);
    expect(end.pages.length).toBeGreaterThan(20);
    damage(atEnd, end.pages.at(-1)!, end.pageSize);
    const found = openOutboxChecked(atEnd, {}, logger, { check });
    expect(found.movedAside).toMatch(/outbox\.db\.damaged-/);
    found.outbox.close();

    // Damage in the middle of the backlog: the first unclean start reads past it; the second in a row finds it.
    const inMiddle = fill();
    const mid = leaves(inMiddle);
    damage(inMiddle, mid.pages[Math.floor(mid.pages.length / 2)]!, mid.pageSize);
    logs.length = 0;
    const first = openOutboxChecked(inMiddle, {}, logger, { check });
    expect(first.movedAside).toBeNull();
    expect(logs.find((l) => l.event === 'outbox_checked')).toMatchObject({ scope: 'bounded', result: 'ok' });
    sqlOf(first.outbox).close(); // unclean again
    const second = openOutboxChecked(inMiddle, {}, logger, { check });
    expect(logs.filter((l) => l.event === 'outbox_checked').at(-1)).toMatchObject({ scope: 'full', result: 'damaged' });
    expect(second.movedAside).toMatch(/outbox\.db\.damaged-/);
    second.outbox.close();
  });

  it('salvages readings and dead letters from a moved-aside copy', () => {
    const dir = tempDir();
    const old = Outbox.inStateDir(dir);
    old.append([
      {
        source: 's',
        lane: LIVE_LANE,
        readings: [...readings(1200), { sensor: 'b', measure: 'on', ts: 1, value: true }],
        deadLetters: [{ stage: 'parse', source: 's', reason: 'bad', raw: 'x', line: 3 }],
      },
    ]);
    old.close();
    const damaged = path.join(dir, 'sqlOf(outbox).damaged-test');
    renameSync(path.join(dir, 'outbox.db'), damaged);
    const fresh = Outbox.inStateDir(dir);
    const report = salvage(damaged, fresh);
    expect(report).toMatchObject({ readings: 1201, deadLetters: 1, unreadableWindows: [] });
    const back = fresh.readWaiting(LIVE_LANE, 5000);
    expect(back).toHaveLength(1201);
    expect(back.filter((r) => r.sensor === 'b').at(-1)).toMatchObject({ measure: 'on', value: true }); // one commit is stored sensor by sensor
    expect(fresh.deadLetters.list()[0]).toMatchObject({ reason: 'bad', line: 3 });
    expect(readdirSync(dir)).toContain('sqlOf(outbox).damaged-test');
    fresh.close();
  });

  it('leaves an outbox whose upgrade failed where it is, unchanged, and says why', () => {
    const dir = tempDir();
    const file = path.join(dir, 'outbox.db');
    const old = versionThreeOutbox(file);
    old.prepare('INSERT INTO readings (lane, stream, ts, value) VALUES (0, 1, 1, 0.5)').run();
    old.exec('CREATE TABLE readings_by_lane_and_id (x)'); // upgrade 4 creates this table: it fails, and rolls back
    old.close();
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
    expect(() => openOutboxChecked(dir, {}, log)).toThrow(/upgrading the outbox schema from version 3 to 4 failed .*the outbox is unchanged/);
    expect(readdirSync(dir).filter((f) => f.includes('damaged'))).toEqual([]);
    expect(logs.filter((l) => l.event === 'outbox_damaged')).toEqual([]);
    const after = new Database(file, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(3);
    expect(after.prepare('SELECT count(*) FROM readings').pluck().get()).toBe(1);
    after.close();
  });

  it('salvages the readings of a version-3 file (a rowid table), every lane', () => {
    const dir = tempDir();
    const damaged = path.join(dir, 'old.db');
    const old = versionThreeOutbox(damaged);
    const insert = old.prepare('INSERT INTO readings (lane, stream, ts, value) VALUES (?, 1, ?, ?)');
    for (let i = 0; i < 12_000; i++) insert.run(i % 4 === 0 ? 5 : LIVE_LANE, 1_000 + i, i);
    old.close();
    const fresh = Outbox.inStateDir(dir);
    expect(salvage(damaged, fresh)).toMatchObject({ readings: 12_000, unreadableWindows: [] });
    const live = fresh.readWaiting(LIVE_LANE, 20_000).map((r) => r.ts);
    expect(live).toHaveLength(9000);
    expect(live).toEqual([...live].sort((a, b) => a - b));
    expect(fresh.readWaiting(5, 20_000)).toHaveLength(3000);
    fresh.close();
  });

  it('salvages every lane, each in its order, with ids spread far apart', () => {
    const dir = tempDir();
    const old = Outbox.inStateDir(dir);
    const lanes = [LIVE_LANE, 2, 7];
    // Lanes interleaved over 30,000 ids: each lane's ids span windows the others fill.
    for (let k = 0; k < 30; k++) old.append([{ source: 's', lane: lanes[k % 3]!, readings: readings(1000, ['a', 'b', 'c'], k * 1000), deadLetters: [] }]);
    old.close();
    const damaged = path.join(dir, 'sqlOf(outbox).damaged-test');
    renameSync(path.join(dir, 'outbox.db'), damaged);
    const fresh = Outbox.inStateDir(dir);
    expect(salvage(damaged, fresh)).toMatchObject({ readings: 30_000, unreadableWindows: [] });
    for (const lane of lanes) {
      const back = fresh.readWaiting(lane, 50_000);
      expect(back).toHaveLength(10_000);
      const bySensor = new Map<string, number[]>();
      for (const r of back) bySensor.set(r.sensor, [...(bySensor.get(r.sensor) ?? []), r.ts]);
      for (const list of bySensor.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    }
    fresh.close();
  });
});
