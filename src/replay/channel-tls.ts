// TLS transport (node:tls): the TCP transport's Connection and Listener over
// TLS sockets. Nothing else changes: a TLSSocket is a net.Socket.

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

/** Listen for TLS connections; `tls` needs at least key and cert. */
export function listenTls(opts: ListenOptions & { tls: tls.TlsOptions }): Promise<Listener> {
  const server = tls.createServer(opts.tls);
  // A failed handshake is that client's problem: it must not crash the server.
  server.on('tlsClientError', () => undefined);
  return listenWith(server, 'secureConnection', opts);
}
