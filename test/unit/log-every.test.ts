import { describe, expect, it } from 'vitest';
import { LogEvery } from '../../src/observability/log-every.js';
import { captureLogger } from '../helpers/ops-fake-view.js';

describe('LogEvery', () => {
  it('logs the first at once, then one line per interval with how many happened since, losing none from the count', () => {
    const { logger, lines } = captureLogger();
    let now = 0;
    const every = new LogEvery(logger, 'connection_refused', 'refused', 10_000, () => now);
    for (let i = 0; i < 1000; i++) {
      every.hit({ peer: `p${i}` });
      now += 25; // 1,000 in 25 s
    }
    expect(lines.map((l) => [l.count, l.total])).toEqual([
      [1, 1],
      [400, 401],
      [400, 801],
    ]);
    expect(lines[1]).toMatchObject({ event: 'connection_refused', peer: 'p400', msg: 'refused (400 times since the last line)' });
    expect(every.count).toBe(1000);
  });
});
