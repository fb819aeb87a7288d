/**
 * What a shipper is given (by the engine, from the config) and what it counts. Production
 * settings only: a test seam is a constructor argument instead (round-source.ts says which).
 */
import type { Logger } from 'pino';
import type { MachineToken } from '../auth/token.js';
import type { BackoffSettings } from '../net/retry-policy.js';
import type { Outbox } from '../outbox/outbox.js';
import type { SenderStats } from './batch-sender.js';
import type { HubClient } from './client.js';
import type { SensorDirectory } from './sensors.js';

export interface ShipperOptions {
  outbox: Outbox;
  client: HubClient;
  sensors: SensorDirectory;
  /** The credential in use; null while none is usable (`tokenMissing` says why). */
  token: () => MachineToken | null;
  tokenMissing?: () => string | null;
  /** Called when the delivery loop failed on an unexpected error (it has stopped). */
  onCrashed?: (err: unknown) => void;
  /** Called when the hub answered 401: the credential source may have a replacement. */
  onUnauthorized?: () => void;
  lane: number;
  logger: Logger;
  maxPoints: number;
  maxBytes: number;
  maxSpectra: number;
  maxWaitMs: number;
  concurrency: number;
  retry: BackoffSettings & { maxAgeMs?: number | undefined; poisonAfter?: number | undefined };
  maxRate?: number | null;
  /** Space requests to the rate the hub accepted after it throttled (hub.pace_after_throttling). */
  paceAfterThrottling?: boolean;
  /** How often an empty outbox is looked at again without a notify (another process may write). */
  idlePollMs?: number;
  /** How long an auth pause waits before trying again. */
  authRetryMs?: number;
  /**
   * Plan rounds ahead in a worker thread with its own connection (the daemon and backfill do);
   * otherwise on this thread. Needs the outbox in a file.
   */
  planInWorker?: boolean;
  /** The outbox's synchronous setting, for the planner worker's connection. */
  synchronous?: 'full' | 'normal';
  random?: () => number;
}

export interface ShipperStats extends SenderStats {
  retried: number;
  throttled: number;
  /** Rounds read and encoded while the round before them was on the wire. */
  plannedAhead: number;
  /** Rounds read and encoded in the planner worker (the others: on the shipper's thread). */
  plannedInWorker: number;
  /** Request bodies handed back to the planner worker for reuse (body-buffers.ts). */
  bodiesHandedBack: number;
}
