/**
 * Keeps the agent from crash-looping on its own state. After an unclean stop (no
 * `clean_shutdown` mark) the database gets `PRAGMA quick_check`; a damaged file (SQLite finds
 * it corrupt or not a database) is moved aside with a timestamp (with its -wal and -shm), a
 * fresh outbox is started, what is readable in the damaged file is recovered into it at once
 * (readings, then file positions and hub sensor ids: salvage-state.ts), and both are logged
 * loudly: a damaged outbox must neither lose what it held nor send everything again. The check
 * is skipped after a clean stop, and bounded after one unclean stop (start-check.ts), so a large
 * backlog does not slow every start.
 */
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { isOutboxRefusal, OutboxOpenError, type OpenOptions } from './db.js';
import { Outbox, OUTBOX_FILE } from './outbox.js';
import { recoverDamagedOutbox, type OutboxDamage } from './salvage-state.js';
import { databaseOf } from './handle.js';
import { checkAfterUncleanStop, type StartCheckOptions } from './start-check.js';

const CLEAN_SHUTDOWN = 'clean_shutdown';
/** Starts after an unclean stop in a row (0 after a clean stop): the second gets the whole check (start-check.ts). */
const UNCLEAN_STARTS = 'unclean_starts';

export interface CheckedOpen {
  outbox: Outbox;
  /** Path the damaged database was moved to, if it was. */
  movedAside: string | null;
  /** What was recovered from it into the fresh outbox (and what could not be read). */
  damage?: OutboxDamage;
}

/**
 * `owner: false` (a backfill): the clean-stop mark is read, never written; it belongs to the
 * daemon, which may be running beside (then the mark says "not clean" and the check runs).
 */
export function openOutboxChecked(
  stateDir: string,
  options: OpenOptions,
  log: Logger,
  { owner = true, check }: { owner?: boolean; check?: StartCheckOptions } = {},
): CheckedOpen {
  const file = path.join(stateDir, OUTBOX_FILE);
  let problem: string | null = null;
  const markUnclean = (outbox: Outbox) => {
    if (owner) outbox.state.set(CLEAN_SHUTDOWN, false);
  };
  if (existsSync(file)) {
    try {
      const outbox = new Outbox(file, options);
      const clean = outbox.state.get<boolean>(CLEAN_SHUTDOWN)?.value === true;
      const inARow = clean ? 0 : (outbox.state.get<number>(UNCLEAN_STARTS)?.value ?? 0) + 1;
      markUnclean(outbox);
      if (owner) outbox.state.set(UNCLEAN_STARTS, inARow);
      if (clean) return { outbox, movedAside: null };
      const startedAt = Date.now();
      const { result, scope } = checkAfterUncleanStop(databaseOf(outbox), owner ? inARow : 2, check);
      log.info({ event: 'outbox_checked', scope, ms: Date.now() - startedAt, result: result === 'ok' ? 'ok' : 'damaged' }, `outbox checked after an unclean stop (${scope})`);
      if (result === 'ok') return { outbox, movedAside: null };
      problem = `quick_check: ${result}`;
      databaseOf(outbox).close();
    } catch (err) {
      const e = err as Error & { code?: string };
      if (!isDamage(e)) throw err;
      problem = `${e.code ?? e.name}: ${e.message}`;
    }
  }
  if (problem === null) {
    const outbox = new Outbox(file, options);
    markUnclean(outbox);
    return { outbox, movedAside: null };
  }
  if (!owner) {
    // The daemon may have this file open: moving it aside is the daemon's decision at its start.
    throw new OutboxOpenError(`the outbox ${file} looks damaged (${problem})`, 'stop the agent and start it again (it moves a damaged outbox aside), or run senseye-agent outbox doctor');
  }
  const movedAside = moveAside(file);
  log.error(
    { event: 'outbox_damaged', file, moved_to: movedAside, problem },
    `the outbox database was damaged (${problem}); it was moved to ${movedAside} and a fresh outbox started; ` +
      'recovering what is readable from it (readings, file positions, hub sensor ids); senseye-agent outbox doctor shows what was recovered and what was lost',
  );
  const outbox = new Outbox(file, options);
  markUnclean(outbox);
  const damage = recoverDamagedOutbox(movedAside, problem, outbox);
  const s = damage.salvaged;
  const what = `${s.readings} readings, ${s.spectra} spectra, ${s.deadLetters} dead letters, ${s.positions} file positions, ${s.sensorIds} hub sensor ids`;
  if (damage.unreadable.length === 0) {
    log.warn({ event: 'outbox_salvaged', moved_to: movedAside, salvaged: s }, `recovered from the damaged outbox: ${what}; files go on where they were`);
  } else {
    log.error(
      { event: 'outbox_salvaged', moved_to: movedAside, salvaged: s, unreadable: damage.unreadable, positions_lost: damage.positionsLost },
      `recovered from the damaged outbox: ${what}; could not be read: ${damage.unreadable.join('; ')}` +
        (damage.positionsLost === null ? '' : '; files without a recovered position are read again (senseye-agent outbox doctor shows which sources)'),
    );
  }
  return { outbox, movedAside, damage };
}

/**
 * Errors that say nothing about the file's content are not damage, and moving the file aside
 * would only take its readings out of delivery: a newer schema, a failed upgrade (rolled back),
 * a full disk, a lock held too long, missing permissions, an I/O error. They stop the start
 * with their message instead; systemd or the container restarts the agent.
 */
function isDamage(e: Error & { code?: string }): boolean {
  if (isOutboxRefusal(e)) return false;
  return !/^SQLITE_(BUSY|LOCKED|FULL|READONLY|CANTOPEN|PERM|NOMEM|IOERR)/.test(e.code ?? '');
}

/** Marks a clean stop; call right before closing. */
export function markCleanShutdown(outbox: Outbox): void {
  outbox.state.set(CLEAN_SHUTDOWN, true);
}

export function moveAside(file: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const target = `${file}.damaged-${stamp}`;
  renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  }
  return target;
}
