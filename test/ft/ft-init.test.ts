// `x86ft ft init` and the channel's TLS material, with real files: the CLI makes the cluster secret, a
// CA and host certificates (checked by openssl, which no one here wrote, and by Node's TLS 1.3 in a
// real channel); a peer with a certificate from another cluster's CA is refused, and so is a peer
// whose certificate names another host than its hello; the role options refuse bad files clearly.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectFt, listenFt, type FtTlsOptions } from '../../src/ft/channel.js';
import type { FtMessage } from '../../src/ft/protocol.js';
import { loadTls, tlsLayout } from '../../src/ft/tls.js';
import { CLI, guest, tempDir } from './protect-harness.js';
import { ftInitCommand } from '../../src/cli/ft-init.js';
import { ftCommand } from '../../src/cli/ft.js';
import { protectCommand } from '../../src/cli/protect.js';
import { inProcess } from './cli-capture.js';
import { ident } from './channel-helpers.js';

const dir = tempDir('ftinit');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function x86ft(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const mode = (p: string): number => statSync(p).mode & 0o777;


const ctl = join(dir, 'ctl'), other = join(dir, 'other');
const L = tlsLayout(join(ctl, 'tls')), O = tlsLayout(join(other, 'tls'));

describe('x86ft ft init', () => {
  it('creates the secret, a CA and host certificates that openssl verifies; a second run keeps them and adds hosts', async () => {
    const r = x86ft('ft', 'init', '--control', `dir:${ctl}`, '--hosts', 'h1,h2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`--host-id h1 --tls-cert ${L.host('h1').cert} --tls-key ${L.host('h1').key} --tls-ca ${L.caCert}`);
    expect(r.stdout).toContain(`its agent: x86ft host --id h2 --control dir:${ctl} --tls-cert ${L.host('h2').cert} --tls-key ${L.host('h2').key} --tls-ca ${L.caCert}\n`);
    expect(readFileSync(join(ctl, 'secret'), 'utf8')).toMatch(/^[0-9a-f]{64}\n?$/);
    expect(mode(join(ctl, 'secret'))).toBe(0o600);
    expect(mode(join(ctl, 'tls'))).toBe(0o700);
    expect(mode(L.caKey)).toBe(0o600);
    for (const h of ['h1', 'h2']) {
      expect(mode(L.host(h).key)).toBe(0o600);
      expect(execFileSync('openssl', ['verify', '-CAfile', L.caCert, L.host(h).cert], { encoding: 'utf8' })).toContain(': OK');
      const text = execFileSync('openssl', ['x509', '-in', L.host(h).cert, '-noout', '-subject', '-ext', 'subjectAltName,extendedKeyUsage,basicConstraints'], { encoding: 'utf8' });
      expect(text).toMatch(new RegExp(`subject=CN ?= ?${h}`));
      expect(text).toContain('IP Address:127.0.0.1');
      expect(text).toContain('TLS Web Client Authentication');
      expect(text).toContain('CA:FALSE');
    }
    expect(execFileSync('openssl', ['x509', '-in', L.caCert, '-noout', '-ext', 'basicConstraints'], { encoding: 'utf8' })).toContain('CA:TRUE');
    const before = [readFileSync(L.caCert), readFileSync(L.host('h1').cert), readFileSync(join(ctl, 'secret'))];
    const again = x86ft('ft', 'init', '--control', `dir:${ctl}`, '--hosts', 'h1,h3');
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('(kept)');
    expect([readFileSync(L.caCert), readFileSync(L.host('h1').cert), readFileSync(join(ctl, 'secret'))]).toEqual(before);
    expect(execFileSync('openssl', ['verify', '-CAfile', L.caCert, L.host('h3').cert], { encoding: 'utf8' })).toContain(': OK');
    // another cluster: its own CA
    expect((await inProcess(() => ftInitCommand(['--control', `dir:${other}`, '--hosts', 'h1,intruder']))).status).toBe(0);
    expect(readFileSync(O.caCert)).not.toEqual(readFileSync(L.caCert));
  });

  it('bad arguments: exit 2, one clear line, no certificate made', async () => {
    for (const args of [['--hosts', 'bad/id'], ['--days', 'x'], ['--bogus'], ['--hosts'], ['--control', 'nope:x']]) {
      const r = await inProcess(() => ftInitCommand(['--control', `dir:${join(dir, 'bad')}`, ...args]));
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^x86ft ft init: /);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(existsSync(join(dir, 'bad', 'tls'))).toBe(false);
  });
});

describe('the channel with ft init certificates (mutual TLS 1.3)', () => {
  const tls = (l: typeof L, h: string): FtTlsOptions => loadTls(l.host(h));

  it('hosts of the cluster join; a certificate from another CA or naming another host is refused; the server keeps serving', async () => {
    const rejects: string[] = [];
    const srv = await listenFt({ ...ident, hostId: 'h1', tls: tls(L, 'h1'), onReject: (e) => rejects.push(e.code) });
    try {
      const join2 = async (): Promise<void> => {
        const accepted = srv.accept();
        const s = await connectFt({ ...ident, hostId: 'h2', port: srv.port, tls: tls(L, 'h2') });
        const p = await accepted;
        expect(p.peerHostId).toBe('h2');
        const got = new Promise<FtMessage>((r) => s.onMessage(r));
        p.send({ t: 'sync', icount: 7 });
        expect(await got).toEqual({ t: 'sync', icount: 7 });
        p.abort(); s.abort();
      };
      await join2();
      // the other cluster's host h1: its certificate is not from this CA (refused in the TLS handshake)
      await expect(connectFt({ ...ident, hostId: 'h1x', port: srv.port, tls: { ...tls(O, 'intruder'), ca: readFileSync(L.caCert) }, handshakeTimeoutMs: 3000 }))
        .rejects.toMatchObject({ name: 'ProtocolError' });
      // a primary whose certificate is from another CA is refused by the secondary
      const fake = await listenFt({ ...ident, hostId: 'h1', tls: { ...tls(O, 'h1'), ca: readFileSync(L.caCert) } });
      await expect(connectFt({ ...ident, hostId: 'h2', port: fake.port, tls: tls(L, 'h2'), handshakeTimeoutMs: 3000 })).rejects.toMatchObject({ code: 'CONNECT' });
      await fake.close();
      // a cluster certificate used under another host id (h3's certificate, hello says h2): WRONG_PEER
      await expect(connectFt({ ...ident, hostId: 'h2', port: srv.port, tls: tls(L, 'h3'), handshakeTimeoutMs: 3000 })).rejects.toMatchObject({ code: 'WRONG_PEER' });
      expect(rejects).toContain('WRONG_PEER');
      await join2();
    } finally {
      await srv.close();
    }
  });

  it('loadTls refuses a readable key, a key of another certificate, a certificate of another CA, a missing file', () => {
    const loose = join(dir, 'loose.key');
    copyFileSync(L.host('h1').key, loose);
    chmodSync(loose, 0o644);
    expect(() => loadTls({ ...L.host('h1'), key: loose })).toThrow(expect.objectContaining({ code: 'PERMISSIONS' }));
    expect(() => loadTls({ ...L.host('h1'), key: L.host('h2').key })).toThrow(expect.objectContaining({ code: 'INVALID', message: expect.stringContaining('is not the key of') }));
    expect(() => loadTls({ ...O.host('h1'), ca: L.caCert })).toThrow(expect.objectContaining({ code: 'INVALID', message: expect.stringContaining('was not issued by') }));
    expect(() => loadTls({ ...L.host('h1'), cert: join(dir, 'missing.crt') })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('ft primary|secondary with an incomplete or bad TLS triple: exit 2 with a clear message before anything runs', async () => {
    const r1 = await inProcess(() => ftCommand(['primary', '/nonexistent.elf', '--control', `dir:${ctl}`, '--listen', '127.0.0.1:0', '--host-id', 'h1', '--tls-cert', L.host('h1').cert]));
    expect(r1.status).toBe(2);
    expect(r1.stderr).toContain('go together');
    const r2 = await inProcess(() => ftCommand(['secondary', '--control', `dir:${ctl}`, '--host-id', 'h2', '--tls-cert', L.host('h1').cert, '--tls-key', L.host('h2').key, '--tls-ca', L.caCert]));
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('is not the key of');
    expect(r2.stderr).not.toMatch(/\n\s+at /);
  });

  it('protect --tls-dir without the files names that option and the fix (not --tls-cert, which it was never given)', async () => {
    const r = await inProcess(() => protectCommand([guest('ft_demo'), '--control', `dir:${join(dir, 'ptls')}`, '--tls-dir', join(dir, 'nonexistent')]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^x86ft protect: --tls-dir .*nonexistent: .*local-a\.crt does not exist \(make the files with 'x86ft ft init --control SPEC --hosts local-a,local-b --tls-dir .*'\); see 'x86ft protect --help'\n$/);
    expect(r.stderr).not.toContain('--tls-cert');
  });
});
