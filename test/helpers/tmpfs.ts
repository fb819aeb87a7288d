/** A small filesystem that can be filled for real: a tmpfs, where the tests run as root. */
import { execFileSync } from 'node:child_process';
import { tempDir } from './tmp.js';

/** Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it a disk cannot be made full here. */
export function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = tempDir('senseye-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
