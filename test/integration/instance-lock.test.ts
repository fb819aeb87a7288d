// The state directory's lock (src/outbox/instance-lock.ts) between real processes: this one and a
// child that loads the built module (dist/), so the lock is the kernel's, not an in-process flag.
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireInstanceLock, AgentRunningError, InstanceLockError, LOCK_FILE, PID_FILE, type InstanceLock } from '../../src/outbox/instance-lock.js';
import { ROOT } from '../helpers/agent-process.js';
import { tempDir } from '../helpers/tmp.js';

const MODULE = path.join(ROOT, 'dist', 'outbox', 'instance-lock.js');
const CHILD = `
import { acquireInstanceLock } from ${JSON.stringify(MODULE)};
const [stateDir, mode] = process.argv.slice(1);
try {
  const lock = acquireInstanceLock(stateDir);
  console.log(JSON.stringify({ ok: true }));
  if (mode === 'hold') setInterval(() => undefined, 60_000);
  else lock.release();
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message, holder: e.holder ?? null }));
}`;

interface ChildAnswer {
  ok: boolean;
  code?: string;
  message?: string;
  holder?: { pid: number } | null;
}

/** Starts a child that tries the lock; resolves with its first answer (it keeps holding with 'hold'). */
function tryInChild(stateDir: string, mode: 'hold' | 'try') {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, stateDir, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const answer = new Promise<ChildAnswer>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as ChildAnswer));
    child.once('exit', (code) => reject(new Error(`the child exited (${code}) without an answer`)));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  return { child, answer, exited };
}

const children: Array<ReturnType<typeof spawn>> = [];
const held: InstanceLock[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const l of held.splice(0)) l.release();
});

describe('instance lock', () => {
  it('held here: another process is refused at once, naming this pid; after release it gets the lock', async () => {
    const dir = path.join(tempDir(), 'state'); // does not exist yet: the lock creates it
    const lock = acquireInstanceLock(dir);
    held.push(lock);
    expect(statSync(path.join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, PID_FILE)).mode & 0o777).toBe(0o600);

    const refused = await tryInChild(dir, 'try').answer;
    expect(refused).toMatchObject({ ok: false, code: 'SENSEYE_AGENT_RUNNING', holder: { pid: process.pid } });
    expect(refused.message).toContain(`pid ${process.pid}`);
    expect(refused.message).toContain(dir);
    // A second try in this process is refused too, and does not disturb the lock held.
    expect(() => acquireInstanceLock(dir)).toThrow(AgentRunningError);
    expect((await tryInChild(dir, 'try').answer).ok).toBe(false);

    lock.release();
    lock.release(); // idempotent
    expect(existsSync(path.join(dir, PID_FILE))).toBe(false);
    expect((await tryInChild(dir, 'try').answer).ok).toBe(true);
  });

  it('held by a child: refused here naming its pid; once it is SIGKILLed the lock is free at the first try', async () => {
    const dir = tempDir();
    const holder = tryInChild(dir, 'hold');
    expect((await holder.answer).ok).toBe(true);
    let refusal: unknown;
    try {
      held.push(acquireInstanceLock(dir));
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(AgentRunningError);
    expect((refusal as AgentRunningError).holder?.pid).toBe(holder.child.pid);

    holder.child.kill('SIGKILL');
    expect(await holder.exited).toBe('SIGKILL');
    // No retry, no wait: the kernel dropped the dead process's lock; its pid file is stale and harmless.
    const lock = acquireInstanceLock(dir);
    held.push(lock);
    expect((await tryInChild(dir, 'try').answer).holder?.pid).toBe(process.pid);
  });

  it('a pid file naming a dead process is not repeated; a lock file that is not SQLite says what to do', async () => {
    const dir = tempDir();
    const holder = tryInChild(dir, 'hold');
    expect((await holder.answer).ok).toBe(true);
    writeFileSync(path.join(dir, PID_FILE), '999999999\n2026-01-01T00:00:00.000Z\n');
    expect(() => acquireInstanceLock(dir)).toThrow(/another process is already running on state directory/);

    const other = tempDir();
    writeFileSync(path.join(other, LOCK_FILE), 'x'.repeat(4096));
    expect(() => acquireInstanceLock(other)).toThrow(InstanceLockError);
    expect(() => acquireInstanceLock(other)).toThrow(/remove it and start again/);
  });
});
