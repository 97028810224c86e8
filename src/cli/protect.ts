// `x86ft protect <guest.elf> --control dir:PATH`: run a guest under fault tolerance on this machine
// (a primary and a secondary as two processes, src/ft/supervisor.ts). stdout carries the guest's
// console exactly once and nothing else; messages go to stderr.

import { parseHostArgs, MACHINE_HELP_NO_CONSOLE } from './host.js';
import { parseControlSpec } from '../ft/control.js';
import { PRIMARY_HOST, PROTECT_EXIT, SECONDARY_HOST, Supervisor } from '../ft/supervisor.js';
import { parseMetricsPort } from './args.js';
import { tlsLayout } from '../ft/tls.js';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError, usageLine } from './usage.js';
import { onStopSignal } from './signals.js';
import { ftOptions } from './ft-options.js';

/** Options protect passes on to the roles (with a value). */
const FT_VALUE_KEYS = ['--heartbeat-ms', '--failure-timeout-ms', '--max-held-bytes', '--max-held-ms', '--max-lag-ms'];
const PASS_KEYS = ['--console-file', '--store', '--digest-every', ...FT_VALUE_KEYS];

const HELP = `usage: x86ft protect <guest.elf> --control dir:PATH [--vm NAME] [--console-file FILE] [--no-input]
                      [--metrics PORT] [--tls-dir DIR] [FT options] [machine options]

Runs the guest fault-tolerant on this machine: a primary (host id ${PRIMARY_HOST}) and a secondary
(host id ${SECONDARY_HOST}) as two processes ('x86ft ft primary|secondary'). The guest survives the
death of either (SIGKILL of the primary is a failover: the secondary takes over where the primary's
log ends; the survivor runs not protected). stdout carries the guest's console, every byte exactly
once across failovers, and nothing else; stdin is typed input, each byte delivered to the guest
exactly once; messages (the roles' too, prefixed) go to stderr. 'x86ft ft status' shows the VM.

  --control dir:PATH      the control plane (claims, VM records, cluster secret); required
  --store PATH            shared storage for logs, disk layers, console (default: the dir: path)
  --vm NAME               the FT VM's name (default 'default'); a second protect of a running VM
                          exits 2 naming its primary
  --console-file FILE     also keep the console in FILE (byte n at offset n; default
                          STORE/vms/NAME/console)
  --no-input              do not forward stdin to the guest
  --metrics PORT          the primary serves Prometheus metrics on 127.0.0.1:PORT, the secondary on PORT+1
                          (0: any free ports; the roles name them on stderr)
  --tls-dir DIR           mutual TLS 1.3 on the channel with the certificates 'x86ft ft init --hosts
                          ${PRIMARY_HOST},${SECONDARY_HOST}' made in DIR (DIR/hosts/ID.crt, .key, DIR/ca.crt)
  --digest-every N        instructions between digests in the log (default 1M)
  --heartbeat-ms N        heartbeat period (default 50)
  --failure-timeout-ms N  silence after which a role counts as failed (default 500)
  --max-held-bytes SIZE   outputs held for acks before the guest is slowed (default 4M)
  --max-held-ms N         age of the oldest held output before the guest is slowed (default 200)
  --max-lag-ms N          ms of execution the secondary has not acked before the guest is slowed (default 50)
machine options:
${MACHINE_HELP_NO_CONSOLE}

exit status: the guest's debug-exit status (124 budget, 125 halt, 126 guest fault, 127 internal
error, as 'x86ft run'); ${PROTECT_EXIT.lost} the guest was lost (both roles died, or a role failed to start);
${PROTECT_EXIT.usage} bad arguments, an unusable image or disk, a control directory others can read, or the VM already running; ${PROTECT_EXIT.stopped} SIGINT/SIGTERM
(both roles were ended).
`;

export async function protectCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return 0; }
  let o: ReturnType<typeof parseHostArgs>;
  let control: string;
  let vm: string;
  const primaryArgs: string[] = [];
  const secondaryArgs: string[] = [];
  try {
    if (argv.includes('--console')) throw new UsageError('--console is not an option of protect: the console is its stdout (and --console-file)');
    o = parseHostArgs(argv, ['--control', '--vm', '--metrics', '--tls-dir', ...PASS_KEYS]);
    const c = o.rest.get('--control');
    if (typeof c !== 'string') throw new UsageError('--control dir:PATH is required');
    const spec = parseControlSpec(c);
    if (spec.kind !== 'dir' && !o.rest.has('--store')) throw new UsageError('--store PATH is required with an etcd: control plane');
    control = c;
    vm = (o.rest.get('--vm') as string | undefined) ?? 'default';
    // the roles' FT options checked here, so that a bad value is protect's usage error, not a role's failure
    ftOptions(o.rest as Map<string, string | true>);
    // Everything but protect's own options goes to the primary as given; FT and store options to both.
    for (let k = 0; k < argv.length; k++) {
      const a = argv[k]!;
      if (!a.startsWith('-')) continue; // the guest ELF (parseHostArgs allows one)
      if (a === '--no-input' || a === '--stats') continue;
      const v = argv[++k]!; // parseHostArgs checked that every other option has its value
      if (a === '--control' || a === '--vm') continue;
      if (a === '--metrics') {
        // the primary serves PORT, the secondary PORT+1 (0: each any free port, named on stderr)
        const port = parseMetricsPort(v);
        if (port === 65535) throw new UsageError('--metrics PORT needs PORT+1 free for the secondary (at most 65534)');
        primaryArgs.push(a, String(port));
        secondaryArgs.push(a, String(port && port + 1));
        continue;
      }
      if (a === '--tls-dir') {
        const dir = resolve(v);
        for (const [args, host] of [[primaryArgs, PRIMARY_HOST], [secondaryArgs, SECONDARY_HOST]] as const) {
          const f = tlsLayout(dir).host(host);
          // named as the option given (the role would complain about a --tls-cert the user never wrote)
          for (const file of [f.cert, f.key, f.ca]) {
            if (!existsSync(file)) throw new UsageError(`--tls-dir ${v}: ${file} does not exist (make the files with 'x86ft ft init --control SPEC --hosts ${PRIMARY_HOST},${SECONDARY_HOST} --tls-dir ${v}')`);
          }
          args.push('--tls-cert', f.cert, '--tls-key', f.key, '--tls-ca', f.ca);
        }
        continue;
      }
      primaryArgs.push(a, v);
      if (['--store', '--digest-every', ...FT_VALUE_KEYS].includes(a)) secondaryArgs.push(a, v);
    }
  } catch (e) {
    process.stderr.write(usageLine('protect', (e as Error).message, HELP));
    return PROTECT_EXIT.usage;
  }
  const sup = new Supervisor({
    image: o.file!, control, vm, primaryArgs, secondaryArgs, input: o.input,
    stdin: o.input ? process.stdin : undefined, stdout: process.stdout, stderr: process.stderr,
  });
  const unlisten = onStopSignal(() => sup.stop());
  try {
    return await sup.run();
  } finally {
    unlisten();
    if (o.input) process.stdin.destroy();
  }
}
