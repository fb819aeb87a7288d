import { describe, expect, it } from 'vitest';
import { WakeableSleep } from '../../src/async/wakeable-sleep.js';

/** Every case sleeps an hour: only a wake-up can end it within the test's timeout. */
const HOUR = 3_600_000;

describe('WakeableSleep', () => {
  it('wake() ends every sleep in progress', async () => {
    const alarm = new WakeableSleep();
    const both = Promise.all([alarm.sleep(HOUR), alarm.sleep(HOUR)]);
    expect(alarm.isSleeping).toBe(true);
    alarm.wake();
    await both;
    expect(alarm.isSleeping).toBe(false);
  });

  it('a wake() before a sleep does not cut the next one short', async () => {
    const alarm = new WakeableSleep();
    alarm.wake();
    const started = Date.now();
    await alarm.sleep(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('a signal given to sleep() ends it, and an aborted one skips it, leaving no listener behind', async () => {
    const alarm = new WakeableSleep();
    const stop = new AbortController();
    let listeners = 0;
    const signal = stop.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove;
    const sleeping = alarm.sleep(HOUR, undefined, signal);
    expect(listeners).toBe(1);
    stop.abort();
    await sleeping;
    expect(listeners).toBe(0);
    await alarm.sleep(HOUR, signal); // already aborted: returns at once
    expect(alarm.isSleeping).toBe(false);
  });
});
