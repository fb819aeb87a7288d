/**
 * The kernel's own count of datagrams it dropped for one UDP socket because the socket's
 * receive buffer was full (the agent did not read fast enough): the `drops` column of
 * /proc/net/udp and /proc/net/udp6, on the row of the socket's inode. Nothing else shows such a
 * loss: the datagrams never reach the agent.
 *
 * The inode comes from the socket's file descriptor (/proc/self/fd/N → `socket:[inode]`). Node's
 * dgram socket does not document its fd; on Linux `socket._handle.fd` holds it. Where either is
 * not there (another OS, another Node), `inodeOfSocket` returns null and the caller says once
 * that kernel drops cannot be counted: never a guess.
 */
import type dgram from 'node:dgram';
import { readFileSync, readlinkSync } from 'node:fs';

const PROC_FILES = ['/proc/net/udp', '/proc/net/udp6'];

/** The inode of a bound dgram socket, or null when it cannot be found. */
export function inodeOfSocket(socket: dgram.Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

export interface UdpSocketRow {
  /** Datagrams the kernel dropped for this socket since it was created. */
  drops: number;
  /** Bytes waiting in its receive queue (the kernel's accounting, overhead included). */
  rxQueue: number;
}

/**
 * The socket's row, or null when no file lists the inode (the socket is closed, or /proc is not
 * there). Columns: sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref
 * pointer drops.
 */
export function readUdpSocketRow(inode: number, files: readonly string[] = PROC_FILES): UdpSocketRow | null {
  const wanted = String(inode);
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13 || cols[9] !== wanted) continue;
      return { drops: Number(cols[12]), rxQueue: parseInt(cols[4]!.split(':')[1] ?? '0', 16) };
    }
  }
  return null;
}
