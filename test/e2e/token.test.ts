// The token as an operator meets it, with the real agent process: replaced on disk while
// running, revoked, SIGHUP, `token inspect`, user-token auth; and never printed.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { BIN, runAgentCommand, spawnAgent, writeConfig } from '../helpers/agent-process.js';
import { jsonlReadings, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { stopAfterEachTest } from '../helpers/e2e-hooks.js';

const WRITE = 'Internal Hub Write';
const CREATE = 'Internal Hub Create';
let hub: HubEmulator | undefined;
const running = stopAfterEachTest(
  () => hub,
  () => (hub = undefined),
);

describe('machine token in the running agent', () => {
  it('revoked at run time: delivery pauses, collection goes on; a replaced token file resumes it; SIGHUP reloads', async () => {
    hub = await createHubEmulator();
    const dir = tempDir();
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, hub.token, { mode: 0o600 });
    const input = path.join(dir, 'in.jsonl');
    writeFileSync(input, toJsonl(jsonlReadings(0, 100)));
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir: path.join(dir, 'state'),
      sources: [{ name: 'in', type: 'file', path: input, format: 'jsonl' }],
      hub: { token_file: tokenFile, token_check_interval: '1h' },
    });
    const agent = spawnAgent(['run', '--config', config]);
    running.push(agent);
    await waitFor(() => hub!.store.dataPoints.length >= 100, 'the first readings');

    hub.revoke(hub.token);
    writeFileSync(input, toJsonl(jsonlReadings(0, 200)));
    await waitFor(() => agent.logs().some((l) => l.event === 'delivery_paused'), 'the pause after the 401');
    const status = JSON.parse((await runAgentCommand(['status', '--config', config, '--json'])).stdout);
    expect(status.delivery).toMatchObject({ state: 'paused', reason: expect.stringContaining('401') });
    await waitFor(() => JSON.parse(statusJson(config)).counts.appended === 200, 'collection to go on while paused');

    // A new token put in place (as an operator would): picked up without a restart.
    const second = await hub.mintToken({ permissions: [WRITE, CREATE] });
    writeFileSync(tokenFile, second);
    await waitFor(() => hub!.store.dataPoints.length >= 200, 'delivery with the replaced token');
    expect(agent.logs().some((l) => l.event === 'token_reloaded')).toBe(true);

    // SIGHUP with the same token: says so; with a new one: reloads.
    const third = await hub.mintToken({ permissions: [WRITE, CREATE] });
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.logs().some((l) => l.event === 'token_unchanged' || l.event === 'token_reloaded'), 'the SIGHUP answer');
    writeFileSync(tokenFile, third);
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.logs().filter((l) => l.event === 'token_reloaded').length >= 2, 'the second reload');

    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    const output = agent.stdout() + agent.stderr();
    for (const t of [hub.token, second, third]) expect(output).not.toContain(t);
  });

  it('starts with an expired token: collects, does not send, and says why', async () => {
    hub = await createHubEmulator();
    const dir = tempDir();
    const input = path.join(dir, 'in.jsonl');
    writeFileSync(input, toJsonl(jsonlReadings(0, 20)));
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir: path.join(dir, 'state'),
      sources: [{ name: 'in', type: 'file', path: input, format: 'jsonl' }],
    });
    const expired = await hub.mintToken({ permissions: [WRITE, CREATE], expiresAt: new Date(Date.now() - 3_600_000) });
    const agent = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: expired });
    running.push(agent);
    await waitFor(() => agent.logs().find((l) => l.event === 'delivery_paused'), 'the pause');
    expect(String(agent.logs().find((l) => l.event === 'delivery_paused')!.reason)).toContain('expired');
    await waitFor(() => JSON.parse(statusJson(config)).counts.appended === 20, 'collection');
    expect(hub.store.requests).toEqual([]);
    agent.child.kill('SIGTERM');
    await agent.exited;
  });
});

describe('token inspect', () => {
  it('shows kind, fingerprint, expiry and capabilities, never the token; exit 0 only when it can store data', async () => {
    hub = await createHubEmulator();
    const dir = tempDir();
    const file = path.join(dir, 'token');
    const both = await hub.mintToken({ permissions: [WRITE, CREATE], expiresIn: 3 * 86_400_000 });
    writeFileSync(file, both, { mode: 0o600 });
    const out = await runAgentCommand(['token', 'inspect', '--token-file', file]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/kind\s+v4\.public/);
    expect(out.stdout).toMatch(/expires\s+\S+ \(in 3d\)/);
    expect(out.stdout).toMatch(/can store data\s+yes/);
    expect(out.stdout).toMatch(/can create sensors yes/);
    expect(out.stdout + out.stderr).not.toContain(both);

    const createOnly = await hub.mintToken({ permissions: [CREATE] });
    writeFileSync(file, createOnly);
    const json = await runAgentCommand(['token', 'inspect', '--token-file', file, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'v4.public', canStoreData: false, canCreateSensors: true, permissions: [CREATE] });

    writeFileSync(file, 'v3.public.abc');
    const bad = await runAgentCommand(['token', 'inspect', '--token-file', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Senseye machine tokens are PASETO v4');

    writeFileSync(file, 'v4.local.opaque-bytes');
    const opaque = await runAgentCommand(['token', 'inspect', '--token-file', file]);
    expect(opaque.stdout).toMatch(/can store data\s+unknown/);
  });
});

describe('user token auth', () => {
  it('delivers with a user token from the password grant', async () => {
    hub = await createHubEmulator({ users: [{ username: 'ops', password: 'pw', permissions: [WRITE, CREATE] }] });
    const dir = tempDir();
    const password = path.join(dir, 'password');
    writeFileSync(password, 'pw', { mode: 0o600 });
    const input = path.join(dir, 'in.jsonl');
    writeFileSync(input, toJsonl(jsonlReadings(0, 50)));
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir: path.join(dir, 'state'),
      sources: [{ name: 'in', type: 'file', path: input, format: 'jsonl' }],
      hub: { auth: { type: 'user', username: 'ops', password_file: password } },
    });
    const out = await runAgentCommand(['run', '--config', config, '--exit-when-idle']);
    expect(out.code, out.stderr).toBe(0);
    expect(hub.store.dataPoints).toHaveLength(50);
    expect(out.stdout).not.toContain('"pw"');
  });
});

/** `status --json` of a config, synchronously (for use inside waitFor). */
function statusJson(config: string): string {
  return execFileSync(process.execPath, [BIN, 'status', '--config', config, '--json'], { encoding: 'utf8' });
}
