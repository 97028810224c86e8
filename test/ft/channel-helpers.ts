// Test helpers for the FT channel: a man-in-the-middle TCP proxy that can rewrite the sealed frames
// one side sends (replay, reorder, inject, corrupt, cut), raw sockets speaking the handshake by hand,
// and a server wrapper that records rejected handshakes.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { listenFt, type FtListenOptions, type SecureServer } from '../../src/ft/channel.js';
import { MAX_HANDSHAKE_FRAME, PREAMBLE_BYTES, ProtocolError, SEALED_HEADER_BYTES, type FtMessage } from '../../src/ft/protocol.js';

export const secret = new Uint8Array(randomBytes(32));
export const ident = { secret, vm: 'vm1', generation: 3 };

/** A P-side server that records rejected handshakes. */
export async function server(extra: Partial<FtListenOptions> = {}): Promise<{
  srv: SecureServer<FtMessage>;
  rejects: ProtocolError[];
  nextReject(): Promise<ProtocolError>;
}> {
  const rejects: ProtocolError[] = [];
  const waiters: ((e: ProtocolError) => void)[] = [];
  const srv = await listenFt({
    ...ident,
    hostId: 'host-p',
    onReject: (e) => {
      rejects.push(e);
      waiters.shift()?.(e);
    },
    ...extra,
  });
  let seen = 0;
  return {
    srv,
    rejects,
    nextReject() {
      if (rejects.length > seen) return Promise.resolve(rejects[seen++]!);
      return new Promise((r) => waiters.push((e) => (seen++, r(e))));
    },
  };
}

/** A raw TCP client: collects what it receives, and says when the server closed. */
export async function rawClient(port: number): Promise<{ sock: net.Socket; received: () => Buffer; ended: Promise<void> }> {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  sock.on('error', () => undefined);
  const chunks: Buffer[] = [];
  sock.on('data', (c) => chunks.push(c));
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  return { sock, received: () => Buffer.concat(chunks), ended };
}

/** A rewrite of the client -> server sealed frames: gets each frame (header + payload) and its index, returns what to forward. */
export type FrameRewrite = (frame: Buffer, index: number, toClient: (b: Buffer) => void) => Buffer[] | 'cut';

/**
 * A proxy between a client and `targetPort`. The handshake bytes (preamble, hello, proof) pass
 * unchanged; every later client -> server frame goes through `rewrite`. Server -> client passes as is.
 */
export async function mitm(targetPort: number, rewrite: FrameRewrite, tap?: (bytes: Buffer) => void): Promise<{ port: number; close(): void }> {
  const sockets: net.Socket[] = [];
  const srv = net.createServer((c) => {
    const s = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.push(c, s);
    c.on('error', () => undefined);
    s.on('error', () => undefined);
    s.pipe(c);
    if (tap) s.on('data', tap);
    s.on('close', () => c.destroy());
    c.on('close', () => s.destroy());
    let buf = Buffer.alloc(0);
    let stage = 0; // 0 preamble, 1 hello, 2 proof, 3 sealed frames
    let index = 0;
    c.on('data', (d) => {
      tap?.(d);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (stage === 0) {
          if (buf.length < PREAMBLE_BYTES) return;
          s.write(buf.subarray(0, PREAMBLE_BYTES));
          buf = buf.subarray(PREAMBLE_BYTES);
          stage = 1;
        } else if (stage < 3) {
          if (buf.length < 4) return;
          const n = 4 + buf.readUInt32BE(0);
          if (buf.length < n) return;
          s.write(buf.subarray(0, n));
          buf = buf.subarray(n);
          stage++;
        } else {
          if (buf.length < SEALED_HEADER_BYTES) return;
          const n = SEALED_HEADER_BYTES + buf.readUInt32BE(0);
          if (buf.length < n) return;
          const out = rewrite(Buffer.from(buf.subarray(0, n)), index++, (b) => c.write(b));
          buf = buf.subarray(n);
          if (out === 'cut') {
            s.destroy();
            c.destroy();
            return;
          }
          for (const b of out) s.write(b);
        }
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

export { MAX_HANDSHAKE_FRAME };
