/**
 * The benchmark suite still runs: `node bench/run.js --smoke --no-write parse outbox` (the two
 * in-process benchmarks, tiny sizes) exits 0 and prints a figure with median, min and max for
 * every format and outbox case. No timing is asserted here: timing goals live in bench/ and
 * bench/RESULTS.md (issue 8), never in tests. --no-write keeps bench/RESULTS.md untouched.
 */
import { execFile } from 'node:child_process';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/agent-process.js';

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bench/run.js', ...args], { cwd: ROOT, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const FIGURE = /: [\d,.]+ readings\/s \(min [\d,.]+, max [\d,.]+, \d+ runs\)/;

it('runs the quick parse and outbox benchmarks and prints their figures', { timeout: 100_000 }, async () => {
  const { code, stdout, stderr } = await runBench(['--smoke', '--no-write', 'parse', 'outbox']);
  expect(stderr).toBe('');
  expect(code, stdout).toBe(0);
  for (const label of ['jsonl parse + validate', 'senseye-csv parse + validate', 'influx parse + validate', 'csv parse + validate', 'append, synchronous=full', 'claim + ack, synchronous=full']) {
    const line = stdout.split('\n').find((l) => l.includes(`${label}`) && FIGURE.test(l));
    expect(line, `a figure line for "${label}" in:\n${stdout}`).toBeDefined();
  }
  expect(stdout).toContain('results not written');
});
