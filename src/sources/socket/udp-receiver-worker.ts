/**
 * The UDP source's receiving thread (udp-receiver.ts starts it): owns the socket and does nothing
 * but read datagrams and hand them to the agent's thread in batches, so that the agent's own work
 * (parsing, outbox commits and their fsync, requests to the hub, garbage collection) never keeps
 * the socket unread while the kernel's receive buffer fills up and drops what comes next.
 *
 * A batch is the datagrams of a few milliseconds, copied back to back into one buffer that moves
 * to the agent's thread without a copy, with each datagram's end and sender. The agent's thread
 * returns credit for the bytes once it handed them on; while more than `maxPendingBytes` are
 * outstanding (the outbox not taking more) datagrams are dropped here, counted, and reported with
 * the next batch.
 */
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { inodeOfSocket } from './udp-drops.js';
import type { ReceiverSettings, ToReceiver } from './udp-receiver.js';

const settings = workerData as ReceiverSettings;
const port = parentPort!;
const BLOCK_BYTES = 256 * 1024;

let block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
let used = 0;
let ends: number[] = [];
let senders: number[] = [];
const senderIds = new Map<string, number>();
let newSenders: Array<[number, string]> = [];
let lastId = -1;
let lastPort = -1;
let lastAddress = '';
let outstanding = 0;
let dropped = 0;
let datagrams = 0;
let timer: NodeJS.Timeout | null = null;
let closed = false;

const socket = dgram.createSocket({ type: settings.ipv6 ? 'udp6' : 'udp4' });

function flush(): void {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  if (ends.length === 0 && dropped === 0) return;
  const data = block.buffer;
  const message = { t: 'batch' as const, data, used, ends: Uint32Array.from(ends), senders: Uint32Array.from(senders), newSenders, dropped, datagrams };
  port.postMessage(message, [data, message.ends.buffer, message.senders.buffer]);
  block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
  used = 0;
  ends = [];
  senders = [];
  newSenders = [];
  dropped = 0;
  datagrams = 0;
}

socket.on('message', (msg, rinfo) => {
  datagrams++;
  if (outstanding + msg.length > settings.maxPendingBytes) {
    dropped++;
    timer ??= setTimeout(flush, settings.flushMs);
    return;
  }
  if (used + msg.length > block.length) {
    flush();
    if (msg.length > block.length) block = Buffer.allocUnsafeSlow(msg.length);
  }
  // Usually the same sender as the datagram before: no key to build then.
  let id = lastId;
  if (rinfo.port !== lastPort || rinfo.address !== lastAddress) {
    const key = rinfo.port + rinfo.address;
    const known = senderIds.get(key);
    if (known === undefined) {
      id = senderIds.size;
      senderIds.set(key, id);
      newSenders.push([id, `udp://${rinfo.family === 'IPv6' ? `[${rinfo.address}]` : rinfo.address}:${rinfo.port}`]);
    } else {
      id = known;
    }
    lastId = id;
    lastPort = rinfo.port;
    lastAddress = rinfo.address;
  }
  msg.copy(block, used);
  used += msg.length;
  outstanding += msg.length;
  ends.push(used);
  senders.push(id);
  timer ??= setTimeout(flush, settings.flushMs);
});

port.on('message', (m: ToReceiver) => {
  if (m.t === 'credit') {
    outstanding -= m.bytes;
    return;
  }
  // stop: what was read goes out, then the socket closes.
  if (closed) return;
  closed = true;
  socket.close(() => {
    flush();
    port.postMessage({ t: 'closed' });
    port.close();
  });
});

socket.once('error', (err: NodeJS.ErrnoException) => {
  port.postMessage({ t: 'error', code: err.code ?? null, message: err.message });
  port.close();
  socket.close();
});
socket.bind(settings.port, settings.host, () => {
  socket.removeAllListeners('error');
  socket.on('error', (err) => port.postMessage({ t: 'socket_error', message: err.message }));
  let granted: number | null = null;
  let bufferError: string | null = null;
  try {
    if (settings.recvBufferSize > 0) socket.setRecvBufferSize(settings.recvBufferSize);
    granted = socket.getRecvBufferSize();
  } catch (err) {
    bufferError = (err as Error).message;
  }
  const a = socket.address();
  port.postMessage({ t: 'listening', address: a.address, port: a.port, granted, bufferError, inode: inodeOfSocket(socket) });
});
