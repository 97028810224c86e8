// TLS transport (node:tls): the TCP transport's Connection and Listener over
// TLS sockets. Nothing else changes: a TLSSocket is a net.Socket.

import type net from 'node:net';
import tls from 'node:tls';
import { connectWith, listenWith, type ListenOptions, type Listener } from './channel-tcp.js';
import type { Connection } from './channel.js';

export interface TlsConnectOptions {
  host?: string;
  port: number;
  /** TLS options: ca, cert, key, servername, rejectUnauthorized, ... */
  tls?: tls.ConnectionOptions;
  timeoutMs?: number;
}

/** Connect over TLS; resolves after the handshake. Rejects with ChannelError. */
export function connectTls(opts: TlsConnectOptions): Promise<Connection> {
  return connectWith(() => tls.connect({ host: opts.host ?? '127.0.0.1', port: opts.port, ...opts.tls }), 'secureConnect', opts.timeoutMs);
}

/**
 * Listen for TLS connections; `tls` needs at least key and cert. `tls.handshakeTimeout` (ms, default 120000 as
 * node:tls documents) bounds each TLS handshake from the TCP accept on, and `maxHandshakes` (default unlimited)
 * caps handshakes in progress: a connection over the cap is closed at once. Both are enforced here on the raw
 * socket: node:tls's own handshakeTimeout never fires for a client that connects and sends nothing (measured on
 * Node 20: 70 silent clients held a listener for minutes), which would let silent clients hold the listener.
 */
export function listenTls(opts: ListenOptions & { tls: tls.TlsOptions; maxHandshakes?: number }): Promise<Listener> {
  const server = tls.createServer(opts.tls);
  // A failed handshake is that client's problem: it must not crash the server.
  server.on('tlsClientError', () => undefined);
  const deadlineMs = opts.tls.handshakeTimeout ?? 120_000;
  const max = opts.maxHandshakes ?? Infinity;
  const inHandshake = new Map<string, { raw: net.Socket; timer: ReturnType<typeof setTimeout> }>();
  const key = (s: net.Socket): string => `${s.remoteAddress}|${s.remotePort}`;
  server.prependListener('connection', (raw: net.Socket) => {
    if (inHandshake.size >= max) {
      raw.destroy();
      return;
    }
    const k = key(raw);
    const timer = setTimeout(() => raw.destroy(), deadlineMs);
    inHandshake.set(k, { raw, timer });
    raw.once('close', () => {
      clearTimeout(timer);
      if (inHandshake.get(k)?.raw === raw) inHandshake.delete(k);
    });
  });
  server.prependListener('secureConnection', (s: tls.TLSSocket) => {
    const e = inHandshake.get(key(s));
    if (!e) return;
    clearTimeout(e.timer);
    inHandshake.delete(key(s));
  });
  return listenWith(server, 'secureConnection', opts);
}
