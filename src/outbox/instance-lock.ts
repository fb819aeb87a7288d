/**
 * One agent (`run`) per state directory. Two daemons on one outbox would read every file twice
 * and create every sensor twice, so `run` holds this lock from before the outbox opens until
 * the ordered stop has closed it.
 *
 * Invariant: while a process holds the lock, no other process can take it; when the holder
 * dies, however it dies (SIGKILL, OOM kill, power loss), nothing is left that keeps the next
 * one out. That rules out a pid file alone (a stale file after a kill, and pid reuse after a
 * reboot would keep the agent down).
 *
 * How: the lock is SQLite's own POSIX (fcntl) lock on a small separate file, `agent.lock`,
 * held by a connection in `locking_mode=EXCLUSIVE` that has written once: SQLite then keeps
 * the exclusive lock until the connection closes, and the kernel drops an fcntl lock when its
 * process exits. better-sqlite3 is already loaded, so this needs no new native dependency
 * (Node has no flock/fcntl of its own; a native lock module would be one more thing to build
 * on every edge box). busy_timeout 0: a second agent learns at once, it does not wait.
 * Measured on Linux (ext4): the loser fails with SQLITE_BUSY in < 1 ms; after SIGKILL of the
 * holder the next process takes the lock at once; within one process a second connection is
 * refused too (SQLite shares locks between its connections to one file).
 *
 * The lock file's content cannot be read by a loser (the holder's exclusive lock keeps even
 * readers out), so the holder also writes its pid and start time to `agent.pid`, for the
 * loser's message only: it is never trusted for exclusion, and a pid in it that is no longer
 * alive is not named.
 *
 * Why a separate file and not outbox.db: the outbox is shared on purpose (backfill writes its
 * own lane, `status` and `dlq list` read beside the daemon); an exclusive lock there would shut
 * them out.
 */
import { chmodSync, closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isAlive } from './liveness.js';
import { makePrivateDir } from './db.js';

export const LOCK_FILE = 'agent.lock';
/** State directories whose lock this process holds (a second try here is refused before any file is opened). */
const heldHere = new Set<string>();
export const PID_FILE = 'agent.pid';

export interface LockHolder {
  pid: number;
  /** ISO time the holder took the lock, if it said. */
  startedAt: string | null;
}

/** Another process runs an agent on this state directory. */
export class AgentRunningError extends Error {
  readonly code = 'SENSEYE_AGENT_RUNNING';
  readonly hint: string;
  constructor(
    readonly stateDir: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder === null ? 'another process' : `another agent (pid ${holder.pid}${holder.startedAt === null ? '' : `, started ${holder.startedAt}`})`;
    const hint = 'stop that agent first, or give this one a state_dir of its own';
    super(`${who} is already running on state directory ${stateDir}: ${hint}`);
    this.hint = hint;
  }
}

/** The lock could not be tried at all (state_dir not writable, agent.lock not a lock file). */
export class InstanceLockError extends Error {
  readonly code = 'SENSEYE_INSTANCE_LOCK';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message} (${hint})`);
  }
}

export interface InstanceLock {
  readonly stateDir: string;
  /** Idempotent. Removes agent.pid, then closes the connection (which drops the lock). */
  release(): void;
}

/** Takes the state directory's lock for this process, or throws AgentRunningError at once. */
export function acquireInstanceLock(stateDir: string, now: Date = new Date()): InstanceLock {
  if (heldHere.has(path.resolve(stateDir))) throw new AgentRunningError(stateDir, { pid: process.pid, startedAt: null });
  const lockFile = path.join(stateDir, LOCK_FILE);
  const pidFile = path.join(stateDir, PID_FILE);
  let db: Database.Database;
  try {
    makePrivateDir(stateDir);
    // Created here with mode 0600 (SQLite would create it 0644). Only if absent: closing any
    // descriptor of a file drops every fcntl lock this process holds on it (POSIX), so an
    // existing lock file is never opened outside SQLite, which shares its descriptors.
    try {
      closeSync(openSync(lockFile, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    db = new Database(lockFile);
  } catch (err) {
    throw new InstanceLockError(`cannot open ${lockFile}: ${(err as Error).message}`, 'check that state_dir exists and is writable by the agent user');
  }
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    // No journal file beside the lock; the one row written here is worth no durability.
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, started_at TEXT NOT NULL)');
    db.prepare('INSERT OR REPLACE INTO holder (id, pid, started_at) VALUES (1, ?, ?)').run(process.pid, now.toISOString());
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) throw new AgentRunningError(stateDir, readLockHolder(stateDir));
    throw new InstanceLockError(
      `cannot take the lock ${lockFile} (${code || (err as Error).name}: ${(err as Error).message})`,
      code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')
        ? `it is not a lock file this agent wrote; with no agent running on ${stateDir}, remove it and start again`
        : 'check that state_dir is on a local filesystem and writable by the agent user',
    );
  }
  try {
    chmodSync(lockFile, 0o600);
    // Written whole, then renamed: a loser reading it never sees half a file.
    const tmp = `${pidFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${process.pid}\n${now.toISOString()}\n`, { mode: 0o600 });
    renameSync(tmp, pidFile);
  } catch {
    // Only the loser's message depends on it ("another process" instead of the pid).
  }
  let held = true;
  heldHere.add(path.resolve(stateDir));
  return {
    stateDir,
    release() {
      if (!held) return;
      held = false;
      heldHere.delete(path.resolve(stateDir));
      // The pid file first: removed after the close, it could be the next holder's.
      rmSync(pidFile, { force: true });
      db.close();
    },
  };
}

/** The holder named in agent.pid, if that file reads and its pid is alive; null otherwise. */
export function readLockHolder(stateDir: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path.join(stateDir, PID_FILE), 'utf8');
  } catch {
    return null;
  }
  const [pidLine, startedLine] = text.split('\n');
  const pid = Number(pidLine);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  const startedAt = startedLine !== undefined && !Number.isNaN(Date.parse(startedLine)) ? startedLine : null;
  return { pid, startedAt };
}
