// Cluster TLS material (FT.md "Channel": mutual TLS 1.3 for clusters): a cluster CA and one certificate
// per host, made by `x86ft ft init`, and the loader the roles use for `--tls-cert/--tls-key/--tls-ca`.
// X.509 is built by node-forge (no hand-written ASN.1); keys come from node:crypto. Imports Node,
// channel.ts's option type and the error base class only; node-forge loads only when `ft init` makes
// certificates (its ~40 ms of start-up was paid by every role, supervisor and agent process).

import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fsp, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type forge from 'node-forge';
import type { FtTlsOptions } from './channel.js';
import { X86ftError } from '../errors.js';

/** Why TLS material could not be made or used; `message` is fit for a user. An X86ftError like every error
 *  x86ft throws on purpose (code: what went wrong). */
export class TlsSetupError extends X86ftError {
  declare readonly code: 'BAD_ARGUMENT' | 'NOT_FOUND' | 'PERMISSIONS' | 'INVALID' | 'IO';
  constructor(code: 'BAD_ARGUMENT' | 'NOT_FOUND' | 'PERMISSIONS' | 'INVALID' | 'IO', message: string, opts?: { cause?: unknown }) {
    super(code, message, opts);
  }
}

/** Paths of a `--tls-cert/--tls-key/--tls-ca` triple. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** Layout of a TLS directory made by `x86ft ft init`: `ca.crt`, `ca.key`, `hosts/ID.crt`, `hosts/ID.key`. */
export function tlsLayout(dir: string): { caCert: string; caKey: string; host: (id: string) => TlsFiles } {
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    host: (id) => ({ cert: join(dir, 'hosts', `${id}.crt`), key: join(dir, 'hosts', `${id}.key`), ca: join(dir, 'ca.crt') }),
  };
}

/** A host id usable as a certificate subject and file name (the control plane's name rule). */
const HOST_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface InitTlsOptions {
  /** Host ids to make certificates for (each once: an existing certificate is kept). */
  hosts: string[];
  /** Validity of new certificates in days (default 825; the CA: 10 years). */
  days?: number;
}

export interface InitTlsResult {
  dir: string;
  /** true when this call created the CA (false: an existing one was used). */
  caCreated: boolean;
  hosts: { id: string; files: TlsFiles; created: boolean }[];
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // positive INTEGER (RFC 5280 4.1.2.2)
  return b.toString('hex');
}

type Forge = typeof forge;

function keyPair(forge: Forge): { pub: forge.pki.rsa.PublicKey; priv: forge.pki.rsa.PrivateKey; pem: string } {
  // RSA: node-forge signs RSA only; generation is native (node:crypto), signing pure JS.
  const k = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { pub: forge.pki.publicKeyFromPem(k.publicKey) as forge.pki.rsa.PublicKey, priv: forge.pki.privateKeyFromPem(k.privateKey) as forge.pki.rsa.PrivateKey, pem: k.privateKey };
}

function validity(c: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  c.validity.notBefore = new Date(now - 3600_000); // an hour of clock skew between hosts
  c.validity.notAfter = new Date(now + days * 86_400_000);
}

/** Writes `data` to `path` only if absent (link of a complete temporary: never a half-written file). Returns false if it existed. */
async function writeNew(path: string, data: string, mode: number): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, data, { mode, flag: 'wx' });
  try {
    await fsp.link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
}

async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}

/**
 * Makes (or completes) the cluster's TLS directory `dir` (0700): a CA (`ca.crt`, `ca.key` 0600) if there
 * is none, and for each host id without one a certificate signed by it (`hosts/ID.crt`, `hosts/ID.key`
 * 0600): subject CN = the host id (the channel checks it against the peer's host id), SAN DNS:localhost,
 * IP:127.0.0.1, IP:::1 (and DNS:ID when ID is a DNS name), extended key usage server and client
 * authentication. Idempotent: existing files are kept, never overwritten.
 * Errors: TlsSetupError BAD_ARGUMENT (host id), INVALID (an existing CA that cannot be read), IO.
 */
export async function initClusterTls(dir: string, o: InitTlsOptions): Promise<InitTlsResult> {
  const days = o.days ?? 825;
  if (!(Number.isInteger(days) && days > 0 && days <= 36500)) throw new TlsSetupError('BAD_ARGUMENT', `certificate validity must be 1..36500 days (got ${days})`);
  for (const id of o.hosts) if (!HOST_ID.test(id)) throw new TlsSetupError('BAD_ARGUMENT', `host id '${id}' is not a valid name ([A-Za-z0-9._-], at most 64, not starting with . _ -)`);
  const L = tlsLayout(dir);
  const forge: Forge = (await import('node-forge')).default;
  try {
    await fsp.mkdir(join(dir, 'hosts'), { recursive: true, mode: 0o700 });
    await fsp.chmod(dir, 0o700);
    let caCreated = false;
    if (!(await exists(L.caCert)) || !(await exists(L.caKey))) {
      const k = keyPair(forge);
      const c = forge.pki.createCertificate();
      c.publicKey = k.pub;
      c.serialNumber = serial();
      validity(c, 3650);
      const name = [{ name: 'commonName', value: `x86ft cluster CA ${randomBytes(4).toString('hex')}` }, { name: 'organizationName', value: 'x86ft' }];
      c.setSubject(name);
      c.setIssuer(name);
      c.setExtensions([
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]);
      c.sign(k.priv, forge.md.sha256.create());
      // key first: a ca.crt without its key would look complete to the next run
      await fsp.rm(L.caKey, { force: true });
      await fsp.rm(L.caCert, { force: true });
      await writeNew(L.caKey, k.pem, 0o600);
      await writeNew(L.caCert, forge.pki.certificateToPem(c), 0o644);
      caCreated = true;
    }
    let ca: forge.pki.Certificate, caKey: forge.pki.rsa.PrivateKey;
    try {
      ca = forge.pki.certificateFromPem(await fsp.readFile(L.caCert, 'utf8'));
      caKey = forge.pki.privateKeyFromPem(await fsp.readFile(L.caKey, 'utf8')) as forge.pki.rsa.PrivateKey;
    } catch (e) {
      throw new TlsSetupError('INVALID', `${dir}: the cluster CA cannot be read (${(e as Error).message}); move the directory away to make a new one`, { cause: e });
    }
    const hosts: InitTlsResult['hosts'] = [];
    for (const id of o.hosts) {
      const files = L.host(id);
      if ((await exists(files.cert)) && (await exists(files.key))) { hosts.push({ id, files, created: false }); continue; }
      const k = keyPair(forge);
      const c = forge.pki.createCertificate();
      c.publicKey = k.pub;
      c.serialNumber = serial();
      validity(c, days);
      c.setSubject([{ name: 'commonName', value: id }, { name: 'organizationName', value: 'x86ft' }]);
      c.setIssuer(ca.subject.attributes);
      const alt: { type: number; value?: string; ip?: string }[] = [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }];
      if (/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(id) && id !== 'localhost') alt.unshift({ type: 2, value: id });
      c.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames: alt },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
      ]);
      c.sign(caKey, forge.md.sha256.create());
      await fsp.rm(files.key, { force: true });
      await fsp.rm(files.cert, { force: true });
      await writeNew(files.key, k.pem, 0o600);
      await writeNew(files.cert, forge.pki.certificateToPem(c), 0o644);
      hosts.push({ id, files, created: true });
    }
    return { dir, caCreated, hosts };
  } catch (e) {
    if (e instanceof TlsSetupError) throw e;
    throw new TlsSetupError('IO', `${dir}: ${(e as Error).message}`, { cause: e });
  }
}

/** The default TLS directory of a control plane: `PATH/tls` for dir:PATH, else beside the cluster secret file. */
export function defaultTlsDir(control: { kind: 'dir'; path: string } | { kind: 'etcd' }, secretFile: string): string {
  return control.kind === 'dir' ? join(control.path, 'tls') : join(dirname(secretFile), 'tls');
}

/**
 * Reads a `--tls-cert/--tls-key/--tls-ca` triple for the channel. Checks, so a mistake is a clear
 * error before any connection: the files exist and hold PEM certificates / a private key, the key
 * is not readable by group or others (PERMISSIONS, like the cluster secret), and the certificate
 * was issued by the CA. Errors: TlsSetupError NOT_FOUND, PERMISSIONS, INVALID.
 */
export function loadTls(f: TlsFiles): FtTlsOptions {
  const read = (what: string, p: string): Buffer => {
    try { return readFileSync(p); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TlsSetupError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `${what} ${p}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { cause: e });
    }
  };
  const cert = read('--tls-cert', f.cert), key = read('--tls-key', f.key), ca = read('--tls-ca', f.ca);
  if ((statSync(f.key).mode & 0o077) !== 0) throw new TlsSetupError('PERMISSIONS', `--tls-key ${f.key} is readable or writable by group or others (mode ${(statSync(f.key).mode & 0o777).toString(8)}); chmod 600 it`);
  let c: X509Certificate, a: X509Certificate;
  try { c = new X509Certificate(cert); } catch { throw new TlsSetupError('INVALID', `--tls-cert ${f.cert}: not a PEM certificate`); }
  try { a = new X509Certificate(ca); } catch { throw new TlsSetupError('INVALID', `--tls-ca ${f.ca}: not a PEM certificate`); }
  let matches = false;
  try { matches = c.checkPrivateKey(createPrivateKey(key)); } catch { throw new TlsSetupError('INVALID', `--tls-key ${f.key}: not a usable private key`); }
  if (!matches) throw new TlsSetupError('INVALID', `--tls-key ${f.key} is not the key of --tls-cert ${f.cert}`);
  if (!c.checkIssued(a) || !c.verify(a.publicKey)) throw new TlsSetupError('INVALID', `--tls-cert ${f.cert} was not issued by --tls-ca ${f.ca}`);
  return { cert, key, ca };
}

/** The subject common name of a certificate (the host id for certificates made by `ft init`), or undefined. */
export function certificateHostId(pem: string | Buffer): string | undefined {
  try { return /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1]; } catch { return undefined; }
}
