// The FT channel over mutual TLS 1.3 (certificates from a throwaway CA made with openssl): a
// secondary with a certificate from the cluster CA joins; one without a client certificate, or with
// one from another CA, never reaches the secret handshake; the server keeps serving.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connectFt, listenFt, type FtTlsOptions } from '../../src/ft/channel.js';
import type { FtMessage } from '../../src/ft/protocol.js';
import { ident } from './channel-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'x86ft-fttls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function certs(): Record<string, FtTlsOptions> | undefined {
  try {
    const ext = join(dir, 'san.ext');
    execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${ext}`]);
    const mk = (ca: string, names: string[]): Record<string, FtTlsOptions> => {
      ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`);
      const out: Record<string, FtTlsOptions> = {};
      for (const n of names) {
        ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n}`);
        ssl('x509', '-req', '-in', `${n}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${n}.crt`, '-days', '1', '-extfile', ext);
        out[n] = { key: readFileSync(join(dir, `${n}.key`)), cert: readFileSync(join(dir, `${n}.crt`)), ca: readFileSync(join(dir, `${ca}.crt`)) };
      }
      return out;
    };
    return { ...mk('cluster', ['p', 's']), ...mk('rogue', ['intruder']) };
  } catch {
    return undefined;
  }
}

const c = certs();

describe('FT channel over mutual TLS 1.3', () => {
  it('openssl made the test certificates', () => {
    expect(c).toBeDefined();
  });

  it('a secondary with a cluster certificate joins; without one, or with a foreign CA’s, it cannot', async () => {
    const srv = await listenFt({ ...ident, hostId: 'p', tls: c!.p! });
    try {
      const good = async (): Promise<void> => {
        const accepted = srv.accept();
        const s = await connectFt({ ...ident, hostId: 's', port: srv.port, tls: c!.s! });
        const p = await accepted;
        const got = new Promise<FtMessage>((r) => s.onMessage(r));
        p.send({ t: 'sync', icount: 9 });
        expect(await got).toEqual({ t: 'sync', icount: 9 });
        p.abort();
        s.abort();
      };
      await good();
      // No client certificate: the server requires one.
      const none = { ca: c!.s!.ca } as unknown as FtTlsOptions;
      await expect(connectFt({ ...ident, hostId: 'x', port: srv.port, tls: none, handshakeTimeoutMs: 3000 })).rejects.toMatchObject({ name: 'ProtocolError' });
      // A client certificate from another CA: the server refuses it in the TLS handshake.
      const foreign = { ...c!.intruder!, ca: c!.s!.ca };
      await expect(connectFt({ ...ident, hostId: 'x', port: srv.port, tls: foreign, handshakeTimeoutMs: 3000 })).rejects.toMatchObject({ name: 'ProtocolError' });
      // A server the client's CA did not sign is refused by the client.
      const fakeSrv = await listenFt({ ...ident, hostId: 'p', tls: { ...c!.intruder!, ca: c!.p!.ca } });
      await expect(connectFt({ ...ident, hostId: 's', port: fakeSrv.port, tls: c!.s! })).rejects.toMatchObject({ code: 'CONNECT' });
      await fakeSrv.close();
      await good();
    } finally {
      await srv.close();
    }
  });

  it('silent TCP clients (no ClientHello) are dropped at the handshake deadline and never lock a peer out', async () => {
    // found by a README-only trial: 70 silent connections to a TLS primary kept a new secondary out for 75 s
    const srv = await listenFt({ ...ident, hostId: 'p', tls: c!.p!, handshakeTimeoutMs: 1500 });
    const silent: net.Socket[] = [];
    try {
      const closed = Array.from({ length: 70 }, () => {
        const sock = net.connect(srv.port, '127.0.0.1');
        sock.on('error', () => undefined);
        silent.push(sock);
        return new Promise<void>((r) => sock.once('close', () => r()));
      });
      await Promise.all(silent.map((sk) => new Promise<void>((r) => (sk.readyState === 'open' ? r() : sk.once('connect', () => r())))));
      // every silent connection is closed by the server (the deadline, then BUSY for those past the limit)
      await Promise.all(closed);
      // and a real peer joins after them
      const accepted = srv.accept();
      const s = await connectFt({ ...ident, hostId: 's', port: srv.port, tls: c!.s! });
      const p = await accepted;
      expect(p.peerHostId).toBe('s');
      p.abort();
      s.abort();
    } finally {
      for (const sk of silent) sk.destroy();
      await srv.close();
    }
  });
});
