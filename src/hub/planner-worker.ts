/**
 * The planner worker (planner.ts): its own read-only connection to the outbox (WAL lets it
 * read while the agent's thread writes), answering "plan the round after id N" with batches as
 * ids and encoded points. The rows themselves stay here; a split reads them back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OutboxReader } from '../outbox/reader.js';
import { BodyBuffers } from './body-buffers.js';
import { planRoundSync, type PlannerReply, type RoundRequest } from './planner.js';
import type { RoundSettings } from './round-plan.js';

const { file, settings, synchronous } = workerData as { file: string; settings: RoundSettings; synchronous: 'full' | 'normal' };
const { reader } = OutboxReader.open(file, { synchronous, readonly: true });
parentPort!.postMessage({ ready: true });

// Buffers for the encoded points, handed back once the hub answered their batch with a 200 (body-buffers.ts):
// about the requests on the wire and the round planned ahead.
const buffers = new BodyBuffers(settings.maxBytes, 2 * settings.concurrency + 2);

parentPort!.on('message', (message: { seq: number; request: RoundRequest } | { recycle: ArrayBuffer }) => {
  if ('recycle' in message) {
    buffers.give(message.recycle);
    return;
  }
  const { seq, request } = message;
  let reply: PlannerReply;
  // The encoded points move to the agent's thread without a copy (each has its own ArrayBuffer).
  const transfer: ArrayBuffer[] = [];
  try {
    const round = planRoundSync(reader, settings, request, buffers);
    // A round from the oldest row that finds none: the outbox is drained, and an idle agent keeps
    // no body memory. (A plan ahead finding nothing yet is not that: rounds are on the wire.)
    if (request.from === undefined && round.readings === 0) buffers.clear();
    for (const batch of round.batches) {
      batch.items = undefined;
      if (batch.points !== undefined) transfer.push(batch.points.buffer as ArrayBuffer);
    }
    reply = { seq, round };
  } catch (err) {
    reply = { seq, error: (err as Error).message };
  }
  parentPort!.postMessage(reply, transfer);
});
