/**
 * What a person sees while a backfill runs. On a terminal: a cli-progress bar with files
 * done/total, bytes read, readings queued and delivered, the rate, the ETA, and any throttling
 * pause with its remaining time. Without a terminal (CI, systemd, pipes): one concise log line
 * every few seconds instead, to stderr, so `--json` output on stdout stays clean.
 */
import cliProgress from 'cli-progress';
import { formatDuration } from '../config/units.js';

export interface ProgressSnapshot {
  filesDone: number;
  filesTotal: number;
  bytesRead: number;
  bytesTotal: number;
  queued: number;
  delivered: number;
  /** e.g. "throttled 12s" or "" */
  pause: string;
}

export interface ProgressReporter {
  update(s: ProgressSnapshot): void;
  stop(): void;
}

export function createProgress(options: { tty: boolean; intervalMs?: number; write?: (line: string) => void }): ProgressReporter {
  const started = Date.now();
  const rate = (delivered: number) => delivered / Math.max(0.001, (Date.now() - started) / 1000);
  if (options.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          '{bar} {percentage}% | files {filesDone}/{filesTotal} | {mib} MiB read | {queued} queued, {delivered} delivered | {rate}/s | ETA {eta_formatted} {pause}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let begun = false;
    return {
      update(s) {
        const payload = { ...s, mib: (s.bytesRead / 1048576).toFixed(1), rate: Math.round(rate(s.delivered)) };
        // Progress is the delivered share of what was read, weighted by how much is read.
        const total = Math.max(1, s.bytesTotal);
        const value = s.queued + s.delivered === 0 ? 0 : Math.round((s.bytesRead / total) * (s.delivered / Math.max(1, s.queued + s.delivered)) * 1000);
        if (!begun) {
          bar.start(1000, value, payload);
          begun = true;
        } else bar.update(value, payload);
      },
      stop() {
        if (begun) bar.stop();
      },
    };
  }
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const every = options.intervalMs ?? 5000;
  let last = 0;
  let latest: ProgressSnapshot | null = null;
  const emit = (s: ProgressSnapshot) =>
    write(
      `backfill: files ${s.filesDone}/${s.filesTotal}, ${(s.bytesRead / 1048576).toFixed(1)}/${(s.bytesTotal / 1048576).toFixed(1)} MiB read, ` +
        `${s.queued} queued, ${s.delivered} delivered, ${Math.round(rate(s.delivered))}/s, elapsed ${formatDuration(Date.now() - started)}${s.pause ? `, ${s.pause}` : ''}`,
    );
  return {
    update(s) {
      latest = s;
      if (Date.now() - last >= every) {
        last = Date.now();
        emit(s);
      }
    },
    stop() {
      if (latest !== null) emit(latest);
    },
  };
}
