// The request pacer on a fake clock: no spacing until a throttle, then the rate the hub
// sustained since the previous throttle, shortened 1 % per accepted request until it is off.
import { describe, expect, it } from 'vitest';
import { RequestPacer } from '../../src/hub/pacer.js';

function clocked() {
  const clock = { t: 1_000_000 };
  return { clock, pacer: new RequestPacer({ now: () => clock.t }) };
}

describe('RequestPacer', () => {
  it('never spaces requests until the hub throttles', () => {
    const { clock, pacer } = clocked();
    for (let i = 0; i < 50; i++) {
      expect(pacer.delay()).toBe(0);
      pacer.book();
      pacer.onAccepted();
      clock.t += 10;
    }
    expect(pacer.spacingMs).toBe(0);
  });

  it('after a throttle, paces at the rate accepted since the previous one, pauses included', () => {
    const { clock, pacer } = clocked();
    for (let i = 0; i < 5; i++) {
      pacer.onAccepted();
      clock.t += 100;
    }
    pacer.onThrottled(); // 5 accepted in the 500 ms since the first: 100 ms apart
    expect(pacer.spacingMs).toBe(100);
    clock.t += 1000; // the Retry-After pause
    for (let i = 0; i < 5; i++) {
      pacer.onAccepted();
      clock.t += 100;
    }
    pacer.onThrottled(); // 5 accepted in the 1,500 ms since the first throttle
    expect(pacer.spacingMs).toBe(300);
    pacer.book();
    expect(pacer.delay()).toBe(300);
    clock.t += 200;
    expect(pacer.delay()).toBe(100);
    clock.t += 100;
    expect(pacer.delay()).toBe(0);
  });

  it('shortens the spacing 1 % per accepted request and switches off below 2 ms', () => {
    const { clock, pacer } = clocked();
    pacer.onAccepted();
    clock.t += 1000;
    pacer.onAccepted();
    pacer.onThrottled(); // two accepted in one second: 500 ms apart
    expect(pacer.spacingMs).toBe(500);
    pacer.onAccepted();
    expect(pacer.spacingMs).toBeCloseTo(495, 5);
    let n = 1;
    while (pacer.spacingMs > 0 && n < 5000) {
      pacer.onAccepted();
      n++;
    }
    expect(pacer.spacingMs).toBe(0);
    expect(n).toBeGreaterThan(500); // 500 × 0.99^n < 2 at n ≈ 550
    expect(n).toBeLessThan(600);
  });

  it('learns nothing from a hub that accepts nothing, and counts the 429s of one round once', () => {
    const { clock, pacer } = clocked();
    for (let i = 0; i < 10; i++) {
      clock.t += 1500;
      pacer.onThrottled(); // down, not pacing us: backoff handles it
    }
    expect(pacer.spacingMs).toBe(0);
    for (let i = 0; i < 4; i++) {
      pacer.onAccepted();
      clock.t += 100;
    }
    pacer.onThrottled();
    const learned = pacer.spacingMs;
    expect(learned).toBeGreaterThan(0);
    clock.t += 5;
    pacer.onThrottled(); // another answer of the same round
    expect(pacer.spacingMs).toBe(learned);
  });
});
