/**
 * Memory and CPU of a child process, read from /proc (Linux): VmRSS (now), VmHWM (peak resident
 * set since start) and utime+stime (CPU seconds). A sampler polls these on an interval so a peak
 * is seen even for a process that is later SIGKILLed; for processes that exit normally the
 * rusage hook (rusage-hook.js) reports the kernel's own maxRSS as well.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 is the Linux default
}

/**
 * { rssKiB, hwmKiB, anonKiB, fileKiB, cpuSeconds } of a live process, or null when it is gone.
 * anon = private memory (heaps, buffers); file = mapped files touched, mostly the node binary's
 * own pages (~35-45 MiB, shared by every node process on the machine).
 */
export function readProc(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    // Fields after the command name (which may contain spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime, stime (fields 14, 15)
    if (!Number.isFinite(kib('VmRSS'))) return null; // a zombie: exited, not yet reaped
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile'), cpuSeconds };
  } catch {
    return null;
  }
}

/**
 * Samples a process every `intervalMs` until stopped or gone. `series` holds [msSinceStart, rssKiB].
 */
export function sampleProcess(pid, intervalMs = 100) {
  const started = Date.now();
  const s = { series: [], peakRssKiB: 0, hwmKiB: 0, peakAnonKiB: 0, fileKiB: 0, cpuSeconds: 0, last: null };
  const take = () => {
    const p = readProc(pid);
    if (p === null) return;
    s.last = p;
    s.series.push([Date.now() - started, p.rssKiB, p.anonKiB]);
    s.peakRssKiB = Math.max(s.peakRssKiB, p.rssKiB);
    s.hwmKiB = Math.max(s.hwmKiB, p.hwmKiB);
    s.peakAnonKiB = Math.max(s.peakAnonKiB, p.anonKiB);
    s.fileKiB = p.fileKiB;
    s.cpuSeconds = p.cpuSeconds;
  };
  take();
  const timer = setInterval(take, intervalMs);
  timer.unref();
  s.stop = () => {
    take();
    clearInterval(timer);
    return s;
  };
  /** Median RSS (KiB) of the samples taken between `fromMs` and `toMs` after start. */
  s.rssBetween = (fromMs, toMs, column = 1) => {
    const v = s.series.filter(([t]) => t >= fromMs && t <= toMs).map((row) => row[column]).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v[Math.floor(v.length / 2)];
  };
  /** The same for private (anonymous) memory. */
  s.anonBetween = (fromMs, toMs) => s.rssBetween(fromMs, toMs, 2);
  return s;
}
