import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTls, listenTls } from '../../src/replay/channel-tls.js';
import { readAll } from '../../src/replay/reader.js';
import { LogWriter } from '../../src/replay/writer.js';
import { sampleEntries, sampleHeader } from '../../src/replay/codec-bench.js';

const dir = mkdtempSync(join(tmpdir(), 'x86ft-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
  } catch {
    return undefined;
  }
}

const creds = selfSigned();

describe.skipIf(!creds)('tls channel', () => {
  it('carries a log over TLS with the same Connection interface', async () => {
    const server = await listenTls({ tls: { key: creds!.key, cert: creds!.cert } });
    const accepted = server.accept();
    const client = await connectTls({ port: server.port, tls: { ca: creds!.cert } });
    const conn = await accepted;
    const entries = sampleEntries(3000, 4);
    const w = new LogWriter(client.sink, sampleHeader());
    const reading = readAll(conn.source);
    for (const e of entries) if (!w.append(e)) await w.drained();
    await w.close();
    expect((await reading).entries).toEqual(entries);
    conn.close();
    client.close();
    await server.close();
  });

  it('an untrusted server certificate is a typed error', async () => {
    const server = await listenTls({ tls: { key: creds!.key, cert: creds!.cert } });
    await expect(connectTls({ port: server.port })).rejects.toMatchObject({ name: 'ChannelError' });
    await server.close();
  });
});
