// The ordered stop: every step runs, in order, under one deadline; a failing or slow step is
// logged and does not keep the later ones (closing the outbox, telling systemd) from running.
import { describe, expect, it } from 'vitest';
import { stopInOrder } from '../../src/daemon/lifecycle.js';
import { captureLogger } from '../helpers/ops-fake-view.js';

describe('stopInOrder', () => {
  it('runs every step in order and reports none failed', async () => {
    const { logger, lines } = captureLogger();
    const ran: string[] = [];
    const report = await stopInOrder(
      ['endpoint', 'jobs', 'agent', 'systemd'].map((name) => ({ name, run: async () => void ran.push(name) })),
      1000,
      logger,
    );
    expect(ran).toEqual(['endpoint', 'jobs', 'agent', 'systemd']);
    expect(report).toMatchObject({ failed: [], timedOut: [] });
    expect(lines.filter((l) => String(l.event).startsWith('stop_step'))).toEqual([]);
  });

  it('goes on after a step that throws (an I/O error while closing) and names it', async () => {
    const { logger, lines } = captureLogger();
    const ran: string[] = [];
    const report = await stopInOrder(
      [
        { name: 'agent', run: () => { throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }); } },
        { name: 'systemd', run: () => void ran.push('systemd') },
      ],
      1000,
      logger,
    );
    expect(ran).toEqual(['systemd']);
    expect(report.failed).toEqual(['agent']);
    expect(lines.find((l) => l.event === 'stop_step_failed')).toMatchObject({ step: 'agent', err: 'disk I/O error' });
  });

  it('keeps the whole stop within the deadline: a step that hangs is left behind, the next ones still run', async () => {
    const { logger, lines } = captureLogger();
    const ran: string[] = [];
    const started = Date.now();
    const report = await stopInOrder(
      [
        { name: 'jobs', run: () => new Promise(() => undefined) }, // never settles
        { name: 'agent', run: (left: number) => void ran.push(`agent with ${left > 0 ? 'time' : 'none'}`) },
        { name: 'systemd', run: () => void ran.push('systemd') },
      ],
      400,
      logger,
    );
    expect(Date.now() - started).toBeLessThan(400 + 2 * 250 + 500);
    expect(report.timedOut).toEqual(['jobs']);
    expect(ran).toEqual(['agent with time', 'systemd']);
    expect(lines.find((l) => l.event === 'stop_step_timed_out')).toMatchObject({ step: 'jobs' });
  });
});
