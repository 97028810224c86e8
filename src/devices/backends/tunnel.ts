// UDP frame tunnel: one Ethernet frame per datagram to/from a configured peer (like QEMU's
// -netdev socket,udp=...). Received frames wait in a bounded queue until the LiveGate takes
// them (and logs them); send() is the virtio-net transmit sink.

import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { FrameInput } from '../../machine/gate.js';
import { HostResourceError } from '../../errors.js';

export interface UdpTunnelOptions {
  /** Local port to bind (0 = any free port). */
  localPort: number;
  /** Local address to bind (default 127.0.0.1: only this host can send frames; '0.0.0.0' for all
   *  interfaces). */
  localHost?: string;
  peerHost: string;
  peerPort: number;
  /** Frames kept while the guest has no receive buffer; newer ones are dropped. Default 256. */
  queueLimit?: number;
  /** Accept datagrams only from the peer's address and port (default true). */
  peerOnly?: boolean;
}

export class UdpFrameTunnel implements FrameInput {
  private readonly queue: Uint8Array[] = [];
  /** Frames dropped because the queue was full. */
  dropped = 0;
  /** Datagrams handed to the socket whose send has not completed yet (close() waits for them). */
  private sending = 0;
  private drained: (() => void) | undefined;

  private constructor(private readonly sock: Socket, private readonly opts: UdpTunnelOptions, peerAddr: string) {
    sock.on('message', (msg, rinfo) => {
      if ((opts.peerOnly ?? true) && (rinfo.port !== opts.peerPort || rinfo.address !== peerAddr)) return;
      if (msg.length < 14 || msg.length > 65535) return; // not an Ethernet frame
      if (this.queue.length >= (opts.queueLimit ?? 256)) { this.dropped++; return; }
      this.queue.push(new Uint8Array(msg));
    });
    sock.on('error', () => { /* send errors on UDP are transient; nothing to do */ });
  }

  /** Resolves the peer and binds the local address (default 127.0.0.1); rejects with a clear
   *  message when the peer is unknown or the port is in use. */
  static async open(opts: UdpTunnelOptions): Promise<UdpFrameTunnel> {
    const host = opts.localHost ?? '127.0.0.1';
    let peerAddr: string;
    try { peerAddr = (await lookup(opts.peerHost, { family: 4 })).address; }
    catch { throw new HostResourceError(`UDP tunnel: unknown peer host '${opts.peerHost}'`); }
    return new Promise((resolve, reject) => {
      const sock = createSocket('udp4');
      const onError = (e: NodeJS.ErrnoException): void => {
        sock.close();
        reject(new HostResourceError(e.code === 'EADDRINUSE' ? `UDP tunnel: local port ${host}:${opts.localPort} is already in use`
          : `UDP tunnel: cannot bind ${host}:${opts.localPort} (${e.code ?? e.message})`));
      };
      sock.once('error', onError);
      sock.bind(opts.localPort, host, () => {
        sock.off('error', onError);
        resolve(new UdpFrameTunnel(sock, opts, peerAddr));
      });
    });
  }

  /** The locally bound address. */
  get address(): string { return this.sock.address().address; }

  /** The locally bound port (useful with localPort 0). */
  get port(): number { return this.sock.address().port; }

  receive(): Uint8Array | undefined { return this.queue.shift(); }
  hasInput(): boolean { return this.queue.length > 0; }

  /** Frames waiting for the guest. */
  get pending(): number { return this.queue.length; }

  send(frame: Uint8Array): void {
    this.sending++;
    this.sock.send(frame, this.opts.peerPort, this.opts.peerHost, () => {
      if (--this.sending === 0 && this.drained) this.drained();
    });
  }

  /** Closes the socket once every frame already sent has left (a send is asynchronous: closing
   *  at once would drop the guest's last frames, e.g. the reply it sent just before exiting). */
  close(): Promise<void> {
    return new Promise((r) => {
      const fin = (): void => { this.drained = undefined; this.sock.close(() => r()); };
      if (this.sending === 0) fin(); else this.drained = fin;
    });
  }
}
