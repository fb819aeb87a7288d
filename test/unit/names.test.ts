// names.ts: the one rule every format applies to sensor and measure names (and influx tags).
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_NAME_LENGTH, NameCheck, nameProblem } from '../../src/parse/names.js';

describe('nameProblem', () => {
  it('passes ordinary names, non-ASCII letters and characters outside the BMP', () => {
    for (const name of ['press-01', 'Temperatur Öl', '温度', 'vib 🛠 2', 'a'.repeat(DEFAULT_MAX_NAME_LENGTH), 'x\u00a0y', 'genuine \ufffd']) {
      expect(nameProblem(name, 'sensor', DEFAULT_MAX_NAME_LENGTH), JSON.stringify(name)).toBeNull();
    }
  });

  it.each([
    ['NUL', 'a\u0000b', 'U+0000'],
    ['tab', 'a\tb', 'U+0009'],
    ['vertical tab', 'a\u000bb', 'U+000B'],
    ['newline', 'a\nb', 'U+000A'],
    ['escape', '\u001b[31m', 'U+001B'],
    ['DEL', 'a\u007f', 'U+007F'],
    ['C1 next line', 'a\u0085b', 'U+0085'],
    ['C1 CSI', '\u009b', 'U+009B'],
  ])('refuses a control character: %s', (_what, name, code) => {
    expect(nameProblem(name, 'sensor', 256)).toMatch(new RegExp(`^sensor ".*" has control character ${code.replace('+', '\\+')} at character \\d+`));
  });

  it('refuses lone surrogates, high or low, anywhere, and names the position', () => {
    expect(nameProblem('a\ud800', 'measure', 256)).toBe('measure "a\\ud800" has a lone surrogate U+D800 at character 2: not valid Unicode');
    expect(nameProblem('\udc00b', 'measure', 256)).toMatch(/lone surrogate U\+DC00 at character 1/);
    expect(nameProblem('\ud800\ud800\udc00', 'measure', 256)).toMatch(/lone surrogate U\+D800 at character 1/);
  });

  it('refuses the empty name', () => {
    expect(nameProblem('', 'sensor', 256)).toBe('sensor is empty');
  });

  it('counts characters (code points) against the limit, not UTF-16 units', () => {
    expect(nameProblem('a'.repeat(257), 'sensor', 256)).toMatch(/^sensor is 257 characters long, over the limit of 256 \(input\.max_name_length\)/);
    expect(nameProblem('🛠'.repeat(256), 'sensor', 256)).toBeNull(); // 512 UTF-16 units
    expect(nameProblem('🛠'.repeat(257), 'sensor', 256)).toMatch(/257 characters long/);
    expect(nameProblem('x'.repeat(10_000), 'sensor', 256)).toMatch(/10000 characters long/);
    expect(nameProblem('abc', 'sensor', 3)).toBeNull();
    expect(nameProblem('abcd', 'sensor', 3)).not.toBeNull();
  });

  it('keeps the reason short for a long name', () => {
    expect(nameProblem('x'.repeat(10_000), 'sensor', 256)!.length).toBeLessThan(200);
  });
});

describe('NameCheck', () => {
  it('remembers only names that passed', () => {
    const check = new NameCheck('sensor', 8);
    expect(check.problem('ok')).toBeNull();
    expect(check.problem('ok')).toBeNull();
    expect(check.problem('bad\u0000')).not.toBeNull();
    expect(check.problem('bad\u0000')).not.toBeNull();
    expect(check.problem('')).toBe('sensor is empty');
    expect(check.problem('toolongname')).not.toBeNull();
    expect(check.problem('ok')).toBeNull();
  });
});
