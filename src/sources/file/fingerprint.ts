/**
 * A file's identity: device + inode, confirmed by a hash of its first bytes. The path is not
 * the identity (rotation renames files; a new file takes the old name); the inode alone is not
 * either (filesystems reuse inodes after deletion), hence the head hash.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** How many leading bytes confirm a file's identity. */
export const HEAD_BYTES = 256;

export function fileKey(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

export interface Head {
  len: number;
  hash: string;
}

export async function readHead(handle: FileHandle, upTo: number = HEAD_BYTES): Promise<Head> {
  const buffer = Buffer.alloc(Math.min(upTo, HEAD_BYTES));
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  return { len: bytesRead, hash: hashHead(buffer.subarray(0, bytesRead)) };
}

export function hashHead(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}
