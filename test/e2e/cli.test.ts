// The command line as a user meets it: help, version, config errors and exit codes.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createHubEmulator } from '../../src/emulator/index.js';
import { ROOT, runAgentCommand, spawnAgent } from '../helpers/agent-process.js';
import { versionThreeOutbox } from '../helpers/old-outbox.js';
import { tempDir } from '../helpers/tmp.js';

describe('senseye-agent CLI', () => {
  it('prints help for every command and option, and the version', async () => {
    const help = await runAgentCommand(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['run', 'emulator', 'demo']) expect(help.stdout).toContain(command);
    const runHelp = await runAgentCommand(['run', '--help']);
    expect(runHelp.stdout).toMatch(/--config[\s\S]*--log-level[\s\S]*--exit-when-idle/);
    const emulatorHelp = await runAgentCommand(['emulator', '--help']);
    expect(emulatorHelp.stdout).toMatch(/--port[\s\S]*--host[\s\S]*--permissions[\s\S]*--expires-in/);
    const version = await runAgentCommand(['--version']);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('rejects an unknown command with exit 78', async () => {
    const out = await runAgentCommand(['fly']);
    expect(out.code).toBe(78);
    expect(out.stderr).toContain('Unknown argument: fly');
  });

  it('validates options the same way in every command: a bad value exits 78 with one message, never a stack trace', async () => {
    const config = path.join(ROOT, 'config.example.yaml');
    const cases: string[][] = [
      ['run', '--config', config, '--log-level', 'loud'],
      ['backfill', '--config', config, '--log-level', 'loud', 'x.jsonl'],
      ['emulator', '--port', '99999'],
      ['dlq', 'list', '--config', config, '--stage', 'nowhere'],
    ];
    for (const args of cases) {
      const r = await runAgentCommand(args);
      expect(r.code, args.join(' ')).toBe(78);
      expect(r.stderr, args.join(' ')).toMatch(/^senseye-agent: /);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /); // no stack frames
    }
  });

  it('prints every config problem at once with file, line and path, and exits 78', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(
      file,
      ['hub:', '  url: ftp://example', '  adressing: sensor_id', 'state_dir: ./state', 'sources:', '  - name: a', '    type: file', '    path: 5', '    format: jsonl'].join('\n'),
    );
    const out = await runAgentCommand(['run', '--config', file]);
    expect(out.code).toBe(78);
    expect(out.stderr).toContain(`${file}: 3 configuration problems`);
    expect(out.stderr).toContain(`${file}:2: hub.url: expected an http(s) URL`);
    expect(out.stderr).toContain(`${file}:3: hub: unknown key "adressing"`);
    expect(out.stderr).toContain(`${file}:8: sources[0].path: expected a glob`);
  });

  it('exits 78 naming the missing token', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'agent.yaml');
    writeFileSync(file, `hub: {url: "http://127.0.0.1:9"}\nstate_dir: ${dir}/state\nsources: [{name: a, type: file, path: "${dir}/*.jsonl", format: jsonl}]\n`);
    const out = await runAgentCommand(['run', '--config', file]);
    expect(out.code).toBe(78);
    expect(out.stderr).toContain('no machine token found');
    expect(out.stderr).toContain('SENSEYE_TOKEN');
  });

  it('exits 75 when the outbox cannot be upgraded, leaving it in place; status says to start the agent once', async () => {
    const dir = tempDir();
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir);
    const old = versionThreeOutbox(path.join(stateDir, 'outbox.db'));
    old.exec('CREATE TABLE readings_by_lane_and_id (x)'); // the upgrade to 4 creates this table: it fails and rolls back
    old.close();
    const config = path.join(dir, 'agent.yaml');
    writeFileSync(config, `hub: { url: "http://127.0.0.1:9" }\nstate_dir: ${stateDir}\nsources: [{ name: a, type: file, path: ${dir}/in.jsonl, format: jsonl }]\nhttp: { listen: null }\n`);
    const status = await runAgentCommand(['status', '--config', config]);
    expect(status.code).toBe(75);
    expect(status.stderr).toMatch(/schema version 3, older than this agent's .*start the agent \(senseye-agent run\) once/);
    const hub = await createHubEmulator(); // for a well-formed token only
    const token = hub.token;
    await hub.close();
    const run = await runAgentCommand(['run', '--config', config], { SENSEYE_TOKEN: token });
    expect(run.code).toBe(75);
    expect(run.stderr).toMatch(/upgrading the outbox schema from version 3 to 4 failed/);
    expect(readdirSync(stateDir).filter((f) => f.includes('damaged'))).toEqual([]);
  });

  it('starts the emulator as a process whose first stdout line is {url, token}', async () => {
    const p = spawnAgent(['emulator', '--port', '0', '--permissions', 'write,create', '--expires-in', '1h']);
    const line = await new Promise<string>((resolve) => createInterface({ input: p.child.stdout! }).once('line', resolve));
    const first = JSON.parse(line) as { url: string; token: string };
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.token).toMatch(/^v4\.public\./);
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });
});
