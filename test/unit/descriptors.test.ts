// The descriptor budget of file-reading sources: the limit read from /proc/self/limits, the
// reserve kept for the outbox and the hub, and a source's slots bounded by both its own cap and
// the process budget.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DescriptorBudget, OpenFileSlots, fileBudgetFor, parseOpenFileLimit, readOpenFileLimit, reserveFor } from '../../src/sources/descriptors.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('open-files limit and budget', () => {
  it('reads the soft "Max open files" limit', () => {
    expect(parseOpenFileLimit(LIMITS)).toBe(1024);
    expect(parseOpenFileLimit(LIMITS.replace('1024                 524288', 'unlimited            unlimited'))).toBe(Infinity);
    expect(parseOpenFileLimit('Max cpu time unlimited unlimited seconds\n')).toBeNull();
  });

  it("reads this process's own limit on Linux", () => {
    const { limit, from } = readOpenFileLimit();
    expect(from).toBe('proc');
    expect(limit).toBeGreaterThan(0);
  });

  it('keeps half the limit in reserve, at least 64 and at most 1024', () => {
    expect([256, 1024, 20_000, 100].map(reserveFor)).toEqual([128, 512, 1024, 64]);
    expect([256, 1024, 20_000, 100, 40].map(fileBudgetFor)).toEqual([128, 512, 18_976, 36, 4]);
    expect(fileBudgetFor(Infinity)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("bounds a source's slots by its own cap and by what all sources may hold together", () => {
    const budget = new DescriptorBudget(3, 64, 'proc');
    const log = pino({ level: 'silent' });
    const a = new OpenFileSlots('unit-a', 2, log, budget);
    const b = new OpenFileSlots('unit-b', 5, log, budget);
    expect([a.tryTake(), a.tryTake(), a.tryTake()]).toEqual([true, true, false]); // its own cap
    expect([b.tryTake(), b.tryTake()]).toEqual([true, false]); // the process budget
    expect([a.free(), b.free()]).toEqual([0, 0]);
    a.give();
    expect(b.free()).toBe(1);
    expect(b.tryTake()).toBe(true);
    expect(budget.inUse).toBe(3);
    b.give();
    b.give();
    b.give(); // more than it took: ignored
    expect([b.open, budget.inUse]).toEqual([0, 1]);
  });

  it('logs running out of descriptors at most once per 30 s, and counts every time', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const slots = new OpenFileSlots('unit-c', 4, log, new DescriptorBudget(10, 64, 'proc'));
    const err = Object.assign(new Error('EMFILE'), { code: 'EMFILE' });
    for (let i = 0; i < 5; i++) slots.noteExhausted(`/data/f${i}`, err);
    expect(slots.exhausted).toBe(5);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'descriptors_exhausted', code: 'EMFILE', times: 1, max_open_files: 4, process_file_budget: 10 });
  });
});
