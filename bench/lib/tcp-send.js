// Writes a buffer to a connected socket in 64 KiB writes, waiting for 'drain' when the kernel is
// full (a sender that respects backpressure); resolves with the time the last byte was handed on.

/** @param {import('node:net').Socket} sock @param {Buffer} buf @returns {Promise<number>} */
export function writeAll(sock, buf) {
  return new Promise((resolve, reject) => {
    sock.on('error', reject);
    let off = 0;
    const pump = () => {
      while (off < buf.length) {
        const end = Math.min(off + 64 * 1024, buf.length);
        const more = sock.write(buf.subarray(off, end));
        off = end;
        if (!more) return void sock.once('drain', pump);
      }
      sock.end(() => resolve(Date.now()));
    };
    pump();
  });
}
