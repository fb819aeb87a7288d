// End to end (issue #15, "data altered or garbage sent"): the real agent process reads files that
// mix valid lines with invalid UTF-8, control characters in names, a 10,000-character sensor
// name, year 9999, a leap second, out-of-range influx integers and an influx string over two
// lines. The hub emulator must receive exactly the valid readings, unaltered (a genuine U+FFFD
// included), no sensor may be created for a refused name, `dlq list --json` must hold every
// refused line with its line number and reason, and `dlq replay` must bring none of them back.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type HubEmulator } from '../../src/emulator/index.js';
import type { DeadLetterRow } from '../../src/outbox/dead-letters.js';
import { runAgentCommand, spawnAgent, writeConfig } from '../helpers/agent-process.js';
import { receivedKeys, sorted } from '../helpers/readings.js';
import { waitFor } from '../helpers/wait.js';
import { freshHubEachTest } from '../helpers/e2e-hooks.js';

let hub: HubEmulator;
let dir: string;
const running = freshHubEachTest((h, d) => {
  hub = h;
  dir = d;
});

const TS = '2026-11-27T10:00:00Z';
const NS = '1764237600000000000';
const jsonLine = (sensor: string, measure: string, ts: string, value: unknown) => Buffer.from(JSON.stringify({ sensor, measure, ts, value }) + '\n', 'utf8');

describe('hostile input, end to end', () => {
  it('delivers exactly the valid readings, unaltered, and dead-letters every other line with its reason', async () => {
    const jsonl = Buffer.concat([
      jsonLine('press-01', 'first', TS, 1), // 1
      Buffer.concat([Buffer.from(`{"sensor":"press-01","measure":"latin1","ts":"${TS}","value":"caf`), Buffer.from([0xe9]), Buffer.from('"}\n')]), // 2
      Buffer.from(`{"sensor":"press\\u000001","measure":"m","ts":"${TS}","value":1}\n`), // 3: NUL in the name
      Buffer.from(`{"sensor":"press-01","measure":"m\\ud800","ts":"${TS}","value":1}\n`), // 4: lone surrogate
      jsonLine('press\u000b01', 'm', TS, 1), // 5: vertical tab
      jsonLine('x'.repeat(10_000), 'm', TS, 1), // 6
      jsonLine('press-01', 'future', '9999-12-31T23:59:59Z', 1), // 7
      jsonLine('press-01', 'leap', '2016-12-31T23:59:60Z', 2), // 8: delivered as 23:59:59.999, same day
      jsonLine('press-01', 'genuine', TS, 'a real \ufffd stays'), // 9
      jsonLine('press-01', 'last', TS, 3), // 10
    ]);
    writeFileSync(path.join(dir, 'press.jsonl'), jsonl);
    const influx = [
      `modbus,sensor=press-02 ok=1 ${NS}`, // 1
      `mod\u0000bus,sensor=press-02 v=1 ${NS}`, // 2
      `modbus,sensor=press-02 big=9223372036854775808i ${NS}`, // 3
      `modbus,sensor=press-02 note="two`, // 4 (with 5: one record)
      `lines",n=2i ${NS}`, // 5
      `modbus,sensor=press-02 ok=4 ${NS}`, // 6
    ].join('\n');
    writeFileSync(path.join(dir, 'plc.influx'), influx + '\n');
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir: path.join(dir, 'state'),
      sources: [
        { name: 'press', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' },
        { name: 'plc', type: 'file', path: path.join(dir, '*.influx'), format: 'influx' },
      ],
    });
    const agent = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub.token });
    running.push(agent);

    const expected = sorted([
      `press-01|first|2026-11-27T10:00:00.000Z|1`,
      `press-01|leap|2016-12-31T23:59:59.999Z|2`,
      `press-01|genuine|2026-11-27T10:00:00.000Z|"a real \ufffd stays"`,
      `press-01|last|2026-11-27T10:00:00.000Z|3`,
      `press-02|ok|2025-11-27T10:00:00.000Z|1`,
      `press-02|note|2025-11-27T10:00:00.000Z|"two\\nlines"`,
      `press-02|n|2025-11-27T10:00:00.000Z|2`,
      `press-02|ok|2025-11-27T10:00:00.000Z|4`,
    ]);
    await waitFor(() => hub.store.dataPoints.length >= expected.length, 'the valid readings', { timeoutMs: 30_000 });
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code, agent.stderr()).toBe(0);

    expect(sorted(receivedKeys(hub))).toEqual(expected);
    // No sensor was created for a refused name.
    expect(hub.store.sensors.map((s) => s.mappingId ?? s.name).sort()).toEqual(['press-01', 'press-02']);

    const list = await runAgentCommand(['dlq', 'list', '--json', '--config', config, '--limit', '100']);
    expect(list.code, list.stderr).toBe(0);
    const rows = (JSON.parse(list.stdout) as DeadLetterRow[]).map((r) => ({ source: r.source, origin: path.basename(r.origin ?? ''), line: r.line, reason: r.reason }));
    rows.sort((a, b) => a.source.localeCompare(b.source) || a.line! - b.line!);
    const latin1At = Buffer.from(`{"sensor":"press-01","measure":"latin1","ts":"${TS}","value":"caf`).length;
    const lineOneBytes = jsonLine('press-01', 'first', TS, 1).length;
    expect(rows).toEqual([
      { source: 'plc', origin: 'plc.influx', line: 2, reason: 'line protocol: measurement "mod\\u0000bus" has control character U+0000 at character 4: names may not hold control characters' },
      { source: 'plc', origin: 'plc.influx', line: 3, reason: 'line protocol: field "big" has value 9223372036854775808i, outside int64 (the line protocol\'s range for integers)' },
      {
        source: 'press',
        origin: 'press.jsonl',
        line: 2,
        reason: `invalid UTF-8 at byte ${latin1At} of the line (byte ${lineOneBytes + latin1At} of the file): E9 22 7D; the record is not delivered, as decoding would alter it (fix the writer's encoding: input must be UTF-8)`,
      },
      { source: 'press', origin: 'press.jsonl', line: 3, reason: '"sensor" "press\\u000001" has control character U+0000 at character 6: names may not hold control characters' },
      { source: 'press', origin: 'press.jsonl', line: 4, reason: '"measure" "m\\ud800" has a lone surrogate U+D800 at character 2: not valid Unicode' },
      { source: 'press', origin: 'press.jsonl', line: 5, reason: '"sensor" "press\\u000b01" has control character U+000B at character 6: names may not hold control characters' },
      { source: 'press', origin: 'press.jsonl', line: 6, reason: `"sensor" is 10000 characters long, over the limit of 256 (input.max_name_length): "${'x'.repeat(40)}…"` },
      { source: 'press', origin: 'press.jsonl', line: 7, reason: 'timestamp "9999-12-31T23:59:59Z" is outside 1971..2200 (input.time_window)' },
    ]);

    // Replay parses again with the same rules: nothing comes back, and the invalid UTF-8 line,
    // whose stored text has U+FFFD where its bytes were, is never parsed (it would be altered).
    const replay = await runAgentCommand(['dlq', 'replay', '--all', '--config', config]);
    expect(replay.code, replay.stderr).toBe(2);
    expect(replay.stdout).toContain('replayed 0 dead letters');
    expect(replay.stdout).toMatch(/kept: still invalid: invalid UTF-8 at byte \d+ of the line \(byte \d+ of the file\): the raw text kept here is not what was written, so it cannot be replayed/);
    const after = JSON.parse((await runAgentCommand(['dlq', 'list', '--json', '--config', config, '--limit', '100'])).stdout) as DeadLetterRow[];
    expect(after).toHaveLength(rows.length);
    expect(after.filter((r) => r.reason.startsWith('invalid UTF-8'))).toHaveLength(1);
  });
});
