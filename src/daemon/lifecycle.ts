/**
 * The ordered stop, as one list of steps run in turn under one deadline: whatever asks for the
 * stop (a signal, --exit-when-idle, a source that cannot run, an unrecoverable failure), the
 * same steps run in the same order. A step that fails (an I/O error while closing the outbox)
 * or outlives its share of the time is logged and the next step still runs, so the stop always
 * ends, and ends in order; the caller exits with the code it chose.
 */
import type { Logger } from 'pino';

export interface StopStep {
  name: string;
  /** Gets the time left; may return a promise. */
  run: (remainingMs: number) => unknown;
}

export interface StopReport {
  ms: number;
  failed: string[];
  timedOut: string[];
}

/** A step always gets at least this long, even past the deadline: closing a database is quick but not instant. */
const MIN_STEP_MS = 250;

export async function stopInOrder(steps: readonly StopStep[], deadlineMs: number, log: Logger): Promise<StopReport> {
  const started = Date.now();
  const report: StopReport = { ms: 0, failed: [], timedOut: [] };
  for (const step of steps) {
    const left = Math.max(MIN_STEP_MS, deadlineMs - (Date.now() - started));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      (async () => {
        try {
          await step.run(left);
          return 'done' as const;
        } catch (err) {
          log.error({ event: 'stop_step_failed', step: step.name, err: err instanceof Error ? err.message : String(err) }, `stopping: ${step.name} failed; going on with the next step`);
          return 'failed' as const;
        }
      })(),
      new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), left))),
    ]);
    clearTimeout(timer);
    if (outcome === 'failed') report.failed.push(step.name);
    if (outcome === 'late') {
      report.timedOut.push(step.name);
      log.error({ event: 'stop_step_timed_out', step: step.name, ms: left }, `stopping: ${step.name} did not finish within the stop deadline; going on`);
    }
  }
  report.ms = Date.now() - started;
  return report;
}
