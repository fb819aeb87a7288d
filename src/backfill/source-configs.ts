/**
 * The sources a backfill reads through: one `file` source per format, named after the job's
 * lane, so its positions live apart from the daemon's and a re-run of the same job resumes them.
 */
import { sourceSchema, type SourceConfig } from '../config/sources-schema.js';
import type { InputFile } from './inputs.js';

export function backfillSources(
  files: readonly InputFile[],
  lane: number,
  sensor: string | null,
  formatSettings: Record<string, unknown>,
): SourceConfig[] {
  return [...new Set(files.map((f) => f.format))].sort().map((format) =>
    sourceSchema.parse({
      ...formatSettings,
      name: `backfill-${lane}-${format}`,
      type: 'file',
      path: files.filter((f) => f.format === format).map((f) => f.path),
      format,
      ...(sensor !== null ? { sensor } : {}),
      start_at: 'beginning',
      // The files are complete: no need to look for new ones; poll briefly at their ends.
      refresh_interval: '1h',
      poll_interval: 50,
    }),
  );
}
