import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { CONFIG_BASE, sourceProblems } from '../helpers/config-problems.js';


describe('source settings', () => {
  it('accepts every source type with its defaults', () => {
    const c = parseConfigText(
      CONFIG_BASE +
        `
  - {name: f, type: file, path: [a/*.log, b/*.log], exclude: '*.gz', format: influx, precision: ms, sensor_tag: host}
  - {name: s, type: spool, path: drop, format: senseye-json, after: move}
  - {name: t, type: tcp, listen: ':8094', format: csv, columns: {ts: 0, sensor: 1, measure: 2, value: 3}, delimiter: ';'}
  - {name: u, type: udp, listen: 8125, format: jsonl, epoch_unit: s, timezone: Europe/Berlin}
  - {name: x, type: unix, path: /run/agent.sock, mode: '0600', format: spectrum-csv, sensor: vib-1}
`,
      '/etc/agent/agent.yaml',
      {},
    );
    expect(c.sources[0]).toMatchObject({ path: ['/etc/agent/a/*.log', '/etc/agent/b/*.log'], exclude: ['*.gz'], rotate_wait: 5000, max_line_bytes: 1024 * 1024 });
    expect(c.sources[1]).toMatchObject({ path: '/etc/agent/drop', pattern: '*', after: 'move', max_file_bytes: 64 * 1024 * 1024 });
    expect(c.sources[2]).toMatchObject({ listen: { host: '127.0.0.1', port: 8094 }, idle_timeout: 300_000, max_connections: 1000 });
    expect(c.sources[3]).toMatchObject({ listen: { host: '127.0.0.1', port: 8125 }, max_pending_bytes: 8 * 1024 * 1024 });
    expect(c.sources[4]).toMatchObject({ mode: 0o600 });
  });

  it('reports format settings given to formats that do not use them, and missing sensors', () => {
    expect(
      sourceProblems(`
  - {name: a, type: file, path: x, format: jsonl, precision: ms, columns: {ts: 0, measure: 1, value: 2}}
  - {name: b, type: tcp, listen: 1, format: spectrum-csv}
  - {name: c, type: udp, listen: 2, format: senseye-csv, sensor: s}
  - {name: d, type: udp, listen: 3, format: csv, columns: {ts: t, measure: m, value: v}, header: false, sensor: s}
  - {name: e, type: file, path: x, format: jsonl, timezone: Mars/Base}
  - {name: f, type: tcp, listen: 'nowhere', format: jsonl}
  - {name: g, type: unix, path: /s, mode: '999', format: jsonl}
  - {name: h, type: unix, path: /s, mode: 0660, format: jsonl}
`),
    ).toEqual(
      expect.arrayContaining([
        'sources[0].precision: applies to format influx only, not jsonl',
        'sources[0].columns: applies to format csv only, not jsonl',
        'sources[1].sensor: spectrum-csv rows do not name their sensor: set `sensor`',
        expect.stringMatching(/^sources\[2\]\.format: UDP datagrams carry no header row/),
        'sources[3].columns.ts: a column name needs header: true; use a column number',
        'sources[4].timezone: expected an IANA time zone name such as Europe/Berlin or UTC',
        expect.stringMatching(/^sources\[5\]\.listen: expected host:port/),
        expect.stringMatching(/^sources\[6\]\.mode: expected an octal file mode/),
        "sources[7].mode: write the mode quoted, e.g. mode: '0660' (YAML reads an unquoted mode as a decimal number, here 660)",
      ]),
    );
  });
});
