/**
 * Cuts a byte stream (a socket, a decompressed file) into lines, holding the unfinished last
 * line between pushes. Lines are decoded only once complete, so a UTF-8 character split across
 * reads is never mangled. A line longer than `maxLineBytes` is not held: its first 4 KiB are
 * kept for the dead letter, the rest is skipped up to its newline, and the stream goes on.
 * A line that is not valid UTF-8 is refused with the offset of its first bad byte (utf8.ts),
 * never handed out with U+FFFD in place of its bytes. A push whose bytes are all valid (the
 * common case, one `isUtf8` over them) needs no check per line.
 * Invariant: `consumed` counts the bytes up to and including the last newline handed out.
 */
import { invalidUtf8Reason, isUtf8 } from './utf8.js';

/** A line (without its newline or a '\r' before it); `bytes` counts what it took, newline included. */
export interface LineItem {
  line: string;
  bytes: number;
}
export interface RefusedItem {
  refused: true;
  bytes: number;
  raw: string;
  /** Why, when not for being over-long. */
  reason?: string;
}
export type SplitItem = LineItem | RefusedItem;

const RAW_KEEP_BYTES = 4096;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Set while skipping the rest of an over-long line: its first bytes (for the dead letter) and its length. */
  private skipping: { head: Buffer; bytes: number } | null = null;
  consumed = 0;
  /** 1 while finishing a line ended by a newline, 0 for the last line at end of input. */
  private newline = 1;

  constructor(readonly maxLineBytes: number) {}

  /** Bytes held for a line that has not ended yet. */
  get pendingBytes(): number {
    return this.skipping === null ? this.partBytes : this.skipping.bytes;
  }

  /** All bytes of the current push are valid UTF-8: a line made of them alone needs no check. */
  private pushValid = false;

  push(data: Buffer, out: SplitItem[]): void {
    let start = 0;
    this.pushValid = isUtf8(data);
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) break;
      this.finish(data.subarray(start, nl), out);
      this.consumed += 1;
      start = nl + 1;
    }
    if (start < data.length) this.hold(data.subarray(start));
  }

  /** End of input: an unfinished last line is handed out as it is (or refused when over-long). */
  end(out: SplitItem[]): void {
    if (this.pendingBytes === 0) return;
    this.newline = 0;
    this.pushValid = false;
    this.finish(Buffer.alloc(0), out);
    this.newline = 1;
  }

  /** The unfinished last line, dropped (e.g. a connection closed mid-line), for a dead letter. */
  takePending(): { raw: string; bytes: number } | null {
    if (this.pendingBytes === 0) return null;
    const taken =
      this.skipping !== null
        ? { raw: this.skipping.head.toString('utf8'), bytes: this.skipping.bytes }
        : { raw: Buffer.concat(this.parts).toString('utf8', 0, RAW_KEEP_BYTES), bytes: this.partBytes };
    this.parts = [];
    this.partBytes = 0;
    this.skipping = null;
    return taken;
  }

  private hold(piece: Buffer): void {
    if (this.skipping !== null) {
      this.skipping.head = keepHead(this.skipping.head, piece);
      this.skipping.bytes += piece.length;
      return;
    }
    if (this.partBytes + piece.length > this.maxLineBytes) {
      this.skipping = { head: keepHead(Buffer.concat(this.parts), piece), bytes: this.partBytes + piece.length };
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    // Copy: the caller may reuse its buffer.
    this.parts.push(Buffer.from(piece));
    this.partBytes += piece.length;
  }

  private finish(piece: Buffer, out: SplitItem[]): void {
    if (this.skipping !== null) {
      const bytes = this.skipping.bytes + piece.length;
      out.push({ refused: true, bytes: bytes + this.newline, raw: keepHead(this.skipping.head, piece).toString('utf8') });
      this.skipping = null;
      this.consumed += bytes;
      return;
    }
    const bytes = this.partBytes + piece.length;
    if (bytes > this.maxLineBytes) {
      const head = Buffer.concat([...this.parts, piece.subarray(0, RAW_KEEP_BYTES)]);
      out.push({ refused: true, bytes: bytes + this.newline, raw: head.toString('utf8', 0, Math.min(head.length, RAW_KEEP_BYTES)) });
    } else {
      const whole = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      const end = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
      const line = whole.toString('utf8', 0, end);
      if ((this.pushValid && this.parts.length === 0) || isUtf8(whole.subarray(0, end))) out.push({ line, bytes: bytes + this.newline });
      else out.push({ refused: true, bytes: bytes + this.newline, raw: line.slice(0, RAW_KEEP_BYTES), reason: invalidUtf8Reason(whole, 0, end) });
    }
    this.parts = [];
    this.partBytes = 0;
    this.consumed += bytes;
  }
}

/** `head` extended with the start of `more`, up to RAW_KEEP_BYTES. */
function keepHead(head: Buffer, more: Buffer): Buffer {
  if (head.length >= RAW_KEEP_BYTES) return head;
  return Buffer.concat([head, more.subarray(0, RAW_KEEP_BYTES - head.length)]);
}

export function overLongReason(bytes: number, max: number): string {
  return `line is ${bytes} bytes, over the ${max}-byte limit (max_line_bytes): the first 4 KiB are kept here`;
}
