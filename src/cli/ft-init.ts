// `x86ft ft init --control SPEC [--hosts ID,...] [--tls-dir DIR] [--days N]`: sets a cluster up for one
// machine (FT.md "Channel"): the cluster secret (created if absent) and a cluster CA with a certificate
// per host (src/ft/tls.ts). Also the role options `--tls-cert/--tls-key/--tls-ca` (tlsFromArgs).

import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { defaultSecretFile, openControl, parseControlSpec } from '../ft/control.js';
import type { FtTlsOptions } from '../ft/channel.js';
import { defaultTlsDir, initClusterTls, loadTls, TlsSetupError } from '../ft/tls.js';
import { usageLine, UsageError } from './usage.js';
import { parseArgs } from './args.js';

export const INIT_EXIT = { io: 1, usage: 2 } as const;

/** The channel's TLS options of `x86ft ft primary|secondary` (all three or none). */
export const TLS_KEYS = ['--tls-cert', '--tls-key', '--tls-ca'];

export const TLS_HELP = `  --tls-cert FILE         mutual TLS 1.3 on the channel: this host's certificate (PEM; its CN must be
                          the --host-id), e.g. TLSDIR/hosts/ID.crt made by 'x86ft ft init'
  --tls-key FILE          its private key (PEM, mode 0600: refused if group or others can read it)
  --tls-ca FILE           the cluster CA (PEM) that signed every host's certificate; a peer with a
                          certificate from another CA, or naming another host id, is refused.
                          Give all three or none; primary and secondary must agree.`;

/** `--tls-cert/--tls-key/--tls-ca` from parsed options: undefined when none is given. Throws Error (all three
 *  needed) or TlsSetupError (unreadable, wrong permissions, mismatched key, another CA), messages for a user. */
export function tlsFromArgs(str: (k: string) => string | undefined): FtTlsOptions | undefined {
  const [cert, key, ca] = TLS_KEYS.map(str);
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined || ca === undefined) throw new UsageError('--tls-cert, --tls-key and --tls-ca go together (give all three or none)');
  return loadTls({ cert: resolve(cert), key: resolve(key), ca: resolve(ca) });
}

export const INIT_HELP = `usage: x86ft ft init --control dir:PATH|etcd:HOST:PORT[,...] [--hosts ID,...] [--tls-dir DIR] [--days N]

Sets up a cluster on one machine: creates the cluster secret if there is none (dir:PATH/secret, or
for etcd: the secret file, \$X86FT_SECRET_FILE or ~/.x86ft/secret), a cluster CA if there is none,
and a certificate for each host id that has none, signed by the CA (RSA 2048, SHA-256; subject CN =
the host id, names localhost, 127.0.0.1, ::1). Files already there are kept: run it again with more
--hosts to add hosts. Prints the options each host's roles take, and its agent's command line
('x86ft host' passes them to every role it starts).

  --control SPEC          the control plane (default dir:$X86FT_CONTROL, else dir:~/.x86ft)
  --hosts ID,...          host ids to make certificates for (default: this machine's hostname)
  --tls-dir DIR           where the CA and certificates go (default PATH/tls for dir:PATH, else tls/
                          beside the secret file): DIR/ca.crt, DIR/ca.key (0600),
                          DIR/hosts/ID.crt, DIR/hosts/ID.key (0600); DIR is 0700
  --days N                validity of new host certificates in days (default 825; the CA: 3650)

exit status: 0 done; ${INIT_EXIT.io} the secret or a file cannot be written or read; ${INIT_EXIT.usage} bad arguments.
`;

export async function ftInitCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(INIT_HELP); return 0; }
  let spec: string | undefined, hostsArg: string | undefined, dirArg: string | undefined, days: number | undefined;
  const usage = (msg: string): number => { process.stderr.write(usageLine('ft init', msg, INIT_HELP)); return INIT_EXIT.usage; };
  try {
    parseArgs(args, {
      values: ['--control', '--hosts', '--tls-dir', '--days'],
      on: (a, v) => {
        if (a === '--control') spec = v as string;
        else if (a === '--hosts') hostsArg = v as string;
        else if (a === '--tls-dir') dirArg = v as string;
        else if (!/^\d+$/.test(v as string)) throw new UsageError(`--days expects a whole number of days (got '${v}')`);
        else days = Number(v);
      },
    });
  } catch (e) { if (e instanceof UsageError) return usage(e.message); throw e; }
  const hosts = hostsArg === undefined ? [hostname()] : hostsArg.split(',').filter((h) => h !== '');
  if (hosts.length === 0) return usage('--hosts needs at least one host id');
  let parsed: ReturnType<typeof parseControlSpec>;
  try { parsed = parseControlSpec(spec); } catch (e) { return usage((e as Error).message); }
  let secretWhere: string;
  try {
    // opening a dir: control plane creates and checks it; secret() creates the secret if absent
    const cp = await openControl(spec);
    try { await cp.secret(); } finally { await cp.close().catch(() => undefined); }
    secretWhere = parsed.kind === 'dir' ? resolve(parsed.path, 'secret') : defaultSecretFile();
  } catch (e) {
    process.stderr.write(`x86ft ft init: ${(e as Error).message}\n`);
    return (e as { code?: string }).code === 'BAD_SPEC' ? INIT_EXIT.usage : INIT_EXIT.io;
  }
  const dir = resolve(dirArg ?? defaultTlsDir(parsed.kind === 'dir' ? parsed : { kind: 'etcd' }, defaultSecretFile()));
  try {
    const r = await initClusterTls(dir, { hosts, days });
    const out = [`cluster secret: ${secretWhere}`, `cluster CA: ${dir}/ca.crt (${r.caCreated ? 'created' : 'kept'})`];
    for (const h of r.hosts) {
      out.push(`host ${h.id}: ${h.files.cert} (${h.created ? 'created' : 'kept'})`);
      out.push(`  its roles take: --host-id ${h.id} --tls-cert ${h.files.cert} --tls-key ${h.files.key} --tls-ca ${h.files.ca}`);
      out.push(`  its agent: x86ft host --id ${h.id}${spec === undefined ? '' : ` --control ${spec}`} --tls-cert ${h.files.cert} --tls-key ${h.files.key} --tls-ca ${h.files.ca}`);
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`x86ft ft init: ${(e as Error).message}\n`);
    return e instanceof TlsSetupError && e.code === 'BAD_ARGUMENT' ? INIT_EXIT.usage : INIT_EXIT.io;
  }
}
