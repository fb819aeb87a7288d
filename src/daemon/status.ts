/**
 * What `status` shows, read from the state directory only (the daemon may be running: the
 * database is opened read-only and WAL lets it read while the daemon writes).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DeliveryState } from '../hub/delivery-state.js';
import { allCheckpoints, fileBytes, hubSensors } from '../outbox/inspect.js';
import { Outbox, OUTBOX_FILE, type OutboxCounts } from '../outbox/outbox.js';
import { readLockHolder, type LockHolder } from '../outbox/instance-lock.js';
import { LIVE_LANE } from '../outbox/types.js';
import type { SourceHealth } from '../sources/supervised-source.js';

export interface StatusReport {
  stateDir: string;
  outboxFile: string;
  outboxBytes: number;
  counts: OutboxCounts;
  oldestWaiting: { ts: string; ageMs: number } | null;
  delivery: (DeliveryState & { pid?: number; updatedAt: string }) | null;
  /** The agent running on this state directory now (its lock's holder), or null. */
  daemon: LockHolder | null;
  waitingSensors: Record<string, string>;
  deadLetters: { parse: number; hub: number; expired: number };
  sources: Array<{ source: string; path: string; offset: number; line: number; updatedAt: string }>;
  sensors: Array<{ name: string; ingest: string; hubId: string | null }>;
  /** Sources that failed and are restarting (or were, and have not run long enough since), as the daemon last wrote. */
  sourceProblems: Array<{ source: string; health: SourceHealth & { pid?: number }; updatedAt: string }>;
}

export function readStatus(stateDir: string, now = Date.now(), sourceNames: readonly string[] = []): StatusReport | null {
  const file = path.join(stateDir, OUTBOX_FILE);
  if (!existsSync(file)) return null;
  const outbox = new Outbox(file, { readonly: true });
  try {
    const oldest = outbox.oldestReadingTs(LIVE_LANE);
    const delivery = outbox.state.get<DeliveryState & { pid?: number }>(`delivery.${LIVE_LANE}`);
    return {
      stateDir,
      outboxFile: file,
      outboxBytes: fileBytes(outbox),
      counts: outbox.counts(),
      oldestWaiting: oldest === null ? null : { ts: new Date(oldest).toISOString(), ageMs: now - oldest },
      delivery: delivery === null ? null : { ...delivery.value, updatedAt: new Date(delivery.updatedAt).toISOString() },
      daemon: readLockHolder(stateDir),
      waitingSensors: outbox.state.get<Record<string, string>>(`waiting_sensors.${LIVE_LANE}`)?.value ?? {},
      deadLetters: {
        parse: outbox.deadLetters.count({ stage: 'parse' }),
        hub: outbox.deadLetters.count({ stage: 'hub' }),
        expired: outbox.deadLetters.count({ stage: 'expired' }),
      },
      sources: allCheckpoints(outbox).map((c) => ({ ...c, updatedAt: new Date(c.updatedAt).toISOString() })),
      sensors: hubSensors(outbox),
      sourceProblems: sourceNames.flatMap((source) => {
        const h = outbox.state.get<SourceHealth & { pid?: number }>(`source_health.${source}`);
        // Written by a daemon that is no longer running says nothing about now.
        const live = h !== null && h.value.pid !== undefined && h.value.pid === readLockHolder(stateDir)?.pid;
        return h === null || h.value.state === 'running' || !live ? [] : [{ source, health: h.value, updatedAt: new Date(h.updatedAt).toISOString() }];
      }),
    };
  } finally {
    outbox.close();
  }
}
