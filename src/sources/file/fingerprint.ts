/**
 * A file's identity: device + inode, confirmed by a hash of its first bytes. The path is not
 * the identity (rotation renames files; a new file takes the old name); the inode alone is not
 * either (filesystems reuse inodes after deletion), hence the head hash.
 *
 * A position also carries a hash of the bytes just before it (the "tail"). Head + tail let a
 * file with a NEW identity be recognised as a copy of content already read (copytruncate's
 * copy, a gzip-compressed rotated file): both hashes must match for the copy to continue at
 * that position. Both are stored in the checkpoint's `headHash` as `<head>/<tail>`; a value
 * without "/" (written before tails existed) identifies a file but matches no copy.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** How many leading bytes confirm a file's identity. */
export const HEAD_BYTES = 256;
/** How many bytes before a position confirm that a copy holds the same content up to it. */
export const TAIL_BYTES = 256;

export function fileKey(stats: Pick<Stats, 'dev' | 'ino'>): string {
  return `${stats.dev}:${stats.ino}`;
}

/** A plain file identity key (not a retired, gzip or spool key). */
export function isIdentityKey(key: string): boolean {
  return /^\d+:\d+$/.test(key);
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

/** Hash of the TAIL_BYTES (fewer near the start) before `offset`, read from the file. */
export async function readTail(handle: FileHandle, offset: number): Promise<string> {
  const len = Math.min(offset, TAIL_BYTES);
  const buffer = Buffer.alloc(len);
  const { bytesRead } = await handle.read(buffer, 0, len, offset - len);
  return hashHead(buffer.subarray(0, bytesRead));
}

/** Tail hash from bytes in memory that end exactly at the position, when there are enough. */
export function tailFrom(bytesEndingAtPosition: Buffer, offset: number): string | null {
  const len = Math.min(offset, TAIL_BYTES);
  if (bytesEndingAtPosition.length < len) return null;
  return hashHead(bytesEndingAtPosition.subarray(bytesEndingAtPosition.length - len));
}

export function encodeHashes(head: string, tail: string | null): string {
  return tail === null ? head : `${head}/${tail}`;
}

export function decodeHashes(stored: string): { head: string; tail: string | null } {
  const slash = stored.indexOf('/');
  return slash === -1 ? { head: stored, tail: null } : { head: stored.slice(0, slash), tail: stored.slice(slash + 1) };
}
