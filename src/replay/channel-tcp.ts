// TCP transport (node:net): a server that accepts connections, a client that
// connects, and socketConnection() which turns any connected net.Socket —
// including a tls.TLSSocket, so TLS needs only a connect/listen pair — into
// a Connection with back-pressure and typed errors.

import net from 'node:net';
import { ChannelError, toChannelError, type ByteSink, type ByteSource, type Connection, type SinkStats } from './channel.js';

/**
 * Wrap a connected socket. Installs the only 'error' listener the socket
 * needs: from here on, socket failures surface as ChannelError rejections
 * of write() and throws of the source's iterator, never as uncaught events.
 */
export function socketConnection(socket: net.Socket): Connection {
  const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const stats: SinkStats = { bytes: 0, waits: 0 };
  let failure: ChannelError | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  socket.setNoDelay(true);
  socket.on('error', (e) => {
    failure ??= toChannelError(e, `tcp ${remote}`);
  });
  socket.on('close', () => resolveClosed());

  const gone = (): ChannelError =>
    failure ?? new ChannelError('CLOSED', `tcp ${remote}: connection closed`);

  const sink: ByteSink = {
    stats,
    write(chunk) {
      if (failure) return Promise.reject(failure);
      if (socket.destroyed || socket.writableEnded || !socket.writable) return Promise.reject(gone());
      stats.bytes += chunk.length;
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const cleanup = (): void => {
          socket.off('drain', onDrain);
          socket.off('close', onClose);
        };
        const onDrain = (): void => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve();
        };
        const onClose = (): void => {
          if (settled) return;
          settled = true;
          cleanup();
          reject(gone());
        };
        // The callback reports a failed write (EPIPE, reset); errors also go to the 'error' listener.
        const ok = socket.write(chunk, (err) => {
          if (err && !settled) {
            failure ??= toChannelError(err, `tcp ${remote}`);
            settled = true;
            cleanup();
            reject(failure);
          }
        });
        if (ok) {
          settled = true;
          resolve();
          return;
        }
        stats.waits++;
        socket.on('drain', onDrain);
        socket.on('close', onClose);
      });
    },
    end() {
      if (failure) return Promise.reject(failure);
      if (socket.writableEnded || socket.destroyed) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        socket.end(() => (failure ? reject(failure) : resolve()));
        socket.once('close', () => (failure ? reject(failure) : resolve()));
      });
    },
    destroy(reason) {
      failure ??= new ChannelError('CLOSED', `tcp ${remote}: destroyed${reason ? `: ${reason.message}` : ''}`, { cause: reason });
      socket.destroy();
    },
  };

  let iterating = false;
  let readerClosed = false;
  let stopRead: (() => void) | undefined;
  const source: ByteSource = {
    close() {
      readerClosed = true;
      stopRead?.();
    },
    [Symbol.asyncIterator]() {
      if (iterating) throw new ChannelError('IO', `tcp ${remote}: source iterated twice`);
      iterating = true;
      // Pull-based: the socket is read only as fast as the consumer asks, so a
      // slow reader fills the TCP window and the writer's write() waits.
      const it = socket.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
      const stopped = new Promise<IteratorResult<Uint8Array>>((r) => (stopRead = () => r({ done: true, value: undefined })));
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          if (readerClosed) return { done: true, value: undefined };
          try {
            const r = await Promise.race([it.next(), stopped]);
            if (r.done) {
              if (failure && failure.code !== 'CLOSED') throw failure;
              return { done: true, value: undefined };
            }
            const v = r.value as Uint8Array;
            return { done: false, value: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
          } catch (e) {
            throw failure ?? toChannelError(e, `tcp ${remote}`);
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          readerClosed = true;
          stopRead?.();
          try {
            await it.return?.();
          } catch {
            // reading side already broken: nothing to release
          }
          return { done: true, value: undefined };
        },
      };
    },
  };

  // a TLS socket (tls.TLSSocket is a net.Socket): whom the peer's verified certificate names
  const cert = (socket as net.Socket & { getPeerCertificate?: () => { subject?: { CN?: string | string[] } } }).getPeerCertificate?.();
  const cn = cert?.subject?.CN;
  return {
    sink,
    source,
    remote,
    peerName: typeof cn === 'string' ? cn : undefined,
    closed,
    close() {
      failure ??= new ChannelError('CLOSED', `tcp ${remote}: closed locally`);
      readerClosed = true;
      stopRead?.();
      socket.destroy();
    },
  };
}

export interface ConnectOptions {
  host?: string;
  port: number;
  /** Give up connecting after this long (default 10 s). */
  timeoutMs?: number;
}

/** Connect to a listening server. Rejects with ChannelError (REFUSED, TIMEOUT, ...). */
export function connectTcp(opts: ConnectOptions): Promise<Connection> {
  return connectWith(() => net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port }), 'connect', opts.timeoutMs);
}

/**
 * Shared by TCP and (later) TLS clients: `make` creates the socket, `readyEvent`
 * is the event that means "usable" ('connect'; 'secureConnect' for TLS).
 */
export function connectWith(make: () => net.Socket, readyEvent: string, timeoutMs = 10_000): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    const socket = make();
    const timer = setTimeout(() => {
      fail(new ChannelError('TIMEOUT', `connect timed out after ${timeoutMs} ms`));
      socket.destroy();
    }, timeoutMs);
    function fail(e: unknown): void {
      clearTimeout(timer);
      socket.off(readyEvent, ok);
      reject(toChannelError(e, 'connect'));
    }
    function ok(): void {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socketConnection(socket));
    }
    socket.once('error', fail);
    socket.once(readyEvent, ok);
  });
}

/** A listening server handing out Connections. */
export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Next incoming connection (queued if it arrived earlier). Rejects with CLOSED once the listener is closed. */
  accept(): Promise<Connection>;
  /** Stop listening; open connections stay open. */
  close(): Promise<void>;
}

export interface ListenOptions {
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
}

/** Listen for TCP connections (default 127.0.0.1, a free port). */
export function listenTcp(opts: ListenOptions = {}): Promise<Listener> {
  return listenWith(net.createServer(), 'connection', opts);
}

/** Shared by TCP and (later) TLS servers: `event` is 'connection' (net) or 'secureConnection' (tls). */
export function listenWith(server: net.Server, event: string, opts: ListenOptions = {}): Promise<Listener> {
  const host = opts.host ?? '127.0.0.1';
  const ready: Connection[] = [];
  const waiting: { resolve: (c: Connection) => void; reject: (e: ChannelError) => void }[] = [];
  let closed = false;
  server.on(event, (socket: net.Socket) => {
    const c = socketConnection(socket);
    const w = waiting.shift();
    if (w) w.resolve(c);
    else ready.push(c);
  });
  return new Promise<Listener>((resolve, reject) => {
    const onError = (e: unknown): void => reject(toChannelError(e, `listen ${host}:${opts.port ?? 0}`));
    server.once('error', onError);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', onError);
      server.on('error', () => undefined); // post-listen server errors surface via connections
      const addr = server.address() as net.AddressInfo;
      resolve({
        host,
        port: addr.port,
        accept() {
          const c = ready.shift();
          if (c) return Promise.resolve(c);
          if (closed) return Promise.reject(new ChannelError('CLOSED', 'listener closed'));
          return new Promise<Connection>((res, rej) => waiting.push({ resolve: res, reject: rej }));
        },
        close() {
          closed = true;
          for (const w of waiting.splice(0)) w.reject(new ChannelError('CLOSED', 'listener closed'));
          return new Promise<void>((res) => server.close(() => res()));
        },
      });
    });
  });
}
