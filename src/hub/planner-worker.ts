/**
 * The planner worker (planner.ts): its own read-only connection to the outbox (WAL lets it
 * read while the agent's thread writes), answering "plan the round after id N" with batches as
 * ids and encoded points. The rows themselves stay here; a split reads them back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Outbox } from '../outbox/outbox.js';
import { planRoundSync, type PlannerReply, type RoundRequest } from './planner.js';
import type { RoundSettings } from './round-plan.js';

const { file, settings, synchronous } = workerData as { file: string; settings: RoundSettings; synchronous: 'full' | 'normal' };
const outbox = new Outbox(file, { synchronous, readonly: true });
parentPort!.postMessage({ ready: true });

parentPort!.on('message', ({ seq, request }: { seq: number; request: RoundRequest }) => {
  let reply: PlannerReply;
  try {
    const round = planRoundSync(outbox, settings, request);
    for (const job of round.jobs) job.items = undefined;
    reply = { seq, round };
  } catch (err) {
    reply = { seq, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
