/**
 * The head and tail hashes of the position a tailer hands out, computed from the bytes as they
 * were read wherever possible: re-reading the file could already see it truncated, and a
 * position must describe the content its lines came from (fingerprint.ts says what the hashes
 * are for). Falls back to reading the file only where the bytes were not kept (a tailer that
 * resumed mid-file, a skipped over-long line).
 */
import type { FileHandle } from 'node:fs/promises';
import { HEAD_BYTES, TAIL_BYTES, hashHead, readHead, readTail, type Head } from './fingerprint.js';

export class ContentHashes {
  head: Head | null;
  /** The file's first bytes as read; null when this tailer did not read them (resumed). */
  private headBytes: Buffer | null;
  /** The last bytes before the position as read; null when not known. */
  private recent: Buffer | null;

  /** `offset` where reading starts; `known` the head of the position resumed from, if any. */
  constructor(
    private readonly handle: FileHandle,
    offset: number,
    known?: Head,
  ) {
    this.head = known !== undefined && known.len > 0 ? known : null;
    this.headBytes = offset === 0 ? Buffer.alloc(0) : null;
    this.recent = offset === 0 ? Buffer.alloc(0) : null;
  }

  /** Reading starts over at offset 0 (the content was replaced). */
  reset(): void {
    this.head = null;
    this.headBytes = Buffer.alloc(0);
    this.recent = Buffer.alloc(0);
  }

  /** Hashes for the position after `bytes`, the bytes just consumed (null when not at hand). */
  async after(bytes: Buffer | null, nextOffset: number): Promise<{ head: Head; tail: string }> {
    if (bytes !== null && this.headBytes !== null) {
      if (this.headBytes.length < HEAD_BYTES) this.headBytes = Buffer.concat([this.headBytes, bytes.subarray(0, HEAD_BYTES - this.headBytes.length)]);
      this.head = { len: this.headBytes.length, hash: hashHead(this.headBytes) };
    } else {
      this.headBytes = null;
      // The head covers up to HEAD_BYTES; while the file is shorter it grows with the file.
      if (this.head === null || (this.head.len < HEAD_BYTES && this.head.len < nextOffset)) {
        this.head = await readHead(this.handle, Math.min(nextOffset, HEAD_BYTES));
      }
    }
    const len = Math.min(nextOffset, TAIL_BYTES);
    if (bytes !== null && (this.recent !== null || bytes.length >= len)) {
      const joined = this.recent === null ? bytes : Buffer.concat([this.recent, bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES))]);
      this.recent = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
      return { head: this.head, tail: hashHead(this.recent.subarray(this.recent.length - len)) };
    }
    this.recent = null;
    return { head: this.head, tail: await readTail(this.handle, nextOffset) };
  }

  /** True when the file's first bytes are no longer those the position was read with. */
  async changed(): Promise<boolean> {
    if (this.head === null || this.head.len === 0) return false;
    const now = await readHead(this.handle, this.head.len);
    return now.len !== this.head.len || now.hash !== this.head.hash;
  }
}
