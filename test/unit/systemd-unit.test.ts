/**
 * The systemd unit agrees with the code (paths, credential name, stop deadline, exit codes)
 * and passes `systemd-analyze verify` and an offline security review. verify resolves every
 * Exec*= program, so it runs against a scratch root holding systemd's own units, the unit file
 * exactly as shipped, and stand-ins at the programs' install paths.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_NAME } from '../../src/auth/token-sources.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { INSTALL_PATHS } from '../../src/config/ops-schema.js';
import { configSchema } from '../../src/config/schema.js';
import { parseDuration } from '../../src/config/units.js';
import { ROOT } from '../helpers/agent-process.js';
import { tempDir } from '../helpers/tmp.js';

const UNIT_FILE = path.join(ROOT, 'systemd', 'senseye-agent.service');
const UNIT_NAME = 'senseye-agent.service';
const SYSUSERS_FILE = path.join(ROOT, 'systemd', 'senseye-agent.sysusers.conf');

/** [section] → key → every value given (systemd keys may repeat). Comments and blank lines dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 0) throw new Error(`unexpected line in the unit: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));
const service = unit.get('Service')!;
const one = (key: string): string | undefined => service.get(key)?.at(-1);
const all = (key: string): string[] => service.get(key) ?? [];
/** systemd time spans as used in this unit: "30s", "2min", "3min", "5s". */
const seconds = (span: string) => parseDuration(span.replace(/min$/, 'm'))! / 1000;

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).error === undefined;
const MISSING = 'systemd-analyze is not installed (Debian package "systemd"; .ci/run installs it)';

describe('systemd unit: agreement with the code', () => {
  it('starts the installed executable on the conventional config path', () => {
    expect(one('ExecStart')).toBe(`${INSTALL_PATHS.executable} run --config ${INSTALL_PATHS.configFile}`);
    expect(`/etc/${one('ConfigurationDirectory')}`).toBe(INSTALL_PATHS.configDir);
    expect(path.dirname(INSTALL_PATHS.configFile)).toBe(INSTALL_PATHS.configDir);
  });

  it('gives the agent its state directory and points config.example.yaml there', () => {
    expect(`/var/lib/${one('StateDirectory')}`).toBe(INSTALL_PATHS.stateDir);
    expect(all('Environment')).toContain(`SENSEYE_STATE_DIR=%S/${path.basename(INSTALL_PATHS.stateDir)}`);
    const example = readFileSync(path.join(ROOT, 'config.example.yaml'), 'utf8');
    expect(example).toMatch(/^state_dir: \$\{SENSEYE_STATE_DIR/m);
  });

  it('hands the token over as the credential the agent looks for', () => {
    expect(one('LoadCredential')).toBe(`${CREDENTIAL_NAME}:${INSTALL_PATHS.tokenFile}`);
  });

  it('runs as the unprivileged system user that the sysusers file creates, at home in the state directory', () => {
    const user = one('User');
    expect(user).toBe('senseye-agent');
    expect(one('Group')).toBe(user);
    const entries = readFileSync(SYSUSERS_FILE, 'utf8')
      .split('\n')
      .filter((l) => /^[ugm]\s/.test(l))
      .map((l) => l.match(/"[^"]*"|\S+/g)!);
    expect(entries).toEqual([['u', user, '-', '"Senseye edge agent"', INSTALL_PATHS.stateDir, '/usr/sbin/nologin']]);
  });

  it('runs without capabilities or a way to gain them', () => {
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('NoNewPrivileges')).toBe('yes');
    // V8 needs writable-then-executable memory for its JIT.
    expect(one('MemoryDenyWriteExecute') ?? 'no').not.toBe('yes');
    // The notify socket and journald are unix sockets; the hub is reached over IP.
    expect(one('RestrictAddressFamilies')!.split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
  });

  it('waits longer than the agent’s own graceful-stop deadline before SIGKILL', () => {
    const shutdownTimeoutMs = configSchema.shape.shutdown_timeout.parse(undefined);
    expect(shutdownTimeoutMs).toBe(10_000);
    expect(seconds(one('TimeoutStopSec')!) * 1000).toBeGreaterThanOrEqual(shutdownTimeoutMs + 10_000);
    expect(one('KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('restarts on failure, but not on a configuration error', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(seconds(one('RestartSec')!)).toBeGreaterThanOrEqual(1);
    expect(one('RestartPreventExitStatus')!.split(/\s+/)).toContain(String(EXIT.config));
  });

  it('uses Type=notify with NotifyAccess=all (systemd-notify is a child process) and a watchdog', () => {
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('all');
    expect(seconds(one('WatchdogSec')!)).toBeGreaterThanOrEqual(30);
  });
});

describe('systemd unit: systemd-analyze', () => {
  /** A scratch root: systemd's units, this unit verbatim, a stand-in at each Exec*= program path. */
  function scratchRoot(): string {
    const root = tempDir('senseye-systemd-');
    const systemUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(path.join(d, 'sysinit.target')));
    if (systemUnits === undefined) throw new Error('systemd-analyze is installed but systemd’s own units (sysinit.target) were not found');
    mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync(systemUnits, path.join(root, 'usr/lib/systemd/system'), { recursive: true });
    mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(path.join(root, 'etc/systemd/system', UNIT_NAME), readFileSync(UNIT_FILE));
    for (const [key, values] of service) {
      if (!key.startsWith('Exec')) continue;
      for (const value of values) {
        const program = value.replace(/^[-@:+!]+/, '').split(/\s+/)[0]!;
        expect(path.isAbsolute(program), `${key}= names ${program}: use an absolute path`).toBe(true);
        mkdirSync(path.join(root, path.dirname(program)), { recursive: true });
        writeFileSync(path.join(root, program), '#!/bin/sh\n');
        chmodSync(path.join(root, program), 0o755);
      }
    }
    return root;
  }

  it('passes systemd-analyze verify with nothing to say', (ctx) => {
    ctx.skip(!hasSystemdAnalyze, MISSING);
    const root = scratchRoot();
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, UNIT_NAME], { encoding: 'utf8' });
    const output = `${r.stdout}${r.stderr}`.trim();
    expect(output, 'systemd-analyze verify printed warnings').toBe('');
    expect(r.status).toBe(0);
  });

  it('has a sysusers file that systemd-sysusers accepts', (ctx) => {
    ctx.skip(spawnSync('systemd-sysusers', ['--version']).error !== undefined, 'systemd-sysusers is not installed (Debian package "systemd")');
    const r = spawnSync('systemd-sysusers', ['--dry-run', `--root=${tempDir('senseye-sysusers-')}`, SYSUSERS_FILE], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Creating user 'senseye-agent' \(Senseye edge agent\)/);
  });

  it('scores "OK" (exposure 2.0 or less) in an offline security review', (ctx) => {
    ctx.skip(!hasSystemdAnalyze, MISSING);
    const root = scratchRoot();
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', `--root=${root}`, UNIT_NAME], { encoding: 'utf8' });
    const score = /Overall exposure level for .*: ([\d.]+)/.exec(r.stdout)?.[1];
    expect(score, r.stdout + r.stderr).toBeDefined();
    expect(Number(score)).toBeLessThanOrEqual(2.0);
    expect(r.status).toBe(0);
  });
});
