/**
 * What happens to a spool file after ingestion: deleted, or moved to `done/`; a file that could
 * not be ingested goes to `failed/` with `<name>.error.txt` next to it saying why. Names that
 * are taken already get a timestamp suffix: nothing in done/ or failed/ is ever overwritten.
 */
import { access, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const DONE_DIR = 'done';
export const FAILED_DIR = 'failed';

async function freeName(dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  let candidate = path.join(dir, name);
  for (let i = 0; i < 100; i++) {
    try {
      await access(candidate);
    } catch {
      return candidate;
    }
    candidate = path.join(dir, `${name}.${Date.now()}${i === 0 ? '' : `-${i}`}`);
  }
  throw new Error(`no free name for ${name} in ${dir}`);
}

export async function disposeDone(file: string, after: 'delete' | 'move'): Promise<string | null> {
  if (after === 'delete') {
    await unlink(file);
    return null;
  }
  const target = await freeName(path.join(path.dirname(file), DONE_DIR), path.basename(file));
  await rename(file, target);
  return target;
}

export interface FailureNote {
  source: string;
  reason: string;
  /** Lines committed before the failure (they are in the outbox and are not read again). */
  linesCommitted: number;
}

export async function disposeFailed(file: string, note: FailureNote): Promise<string> {
  const target = await freeName(path.join(path.dirname(file), FAILED_DIR), path.basename(file));
  await rename(file, target);
  const text = [
    'senseye-agent could not ingest this file.',
    `source: ${note.source}`,
    `file: ${file}`,
    `when: ${new Date().toISOString()}`,
    `reason: ${note.reason}`,
    `lines ingested before the failure: ${note.linesCommitted}`,
    'To retry, fix the cause and move the file back into the spool folder.',
    '',
  ].join('\n');
  await writeFile(`${target}.error.txt`, text);
  return target;
}
