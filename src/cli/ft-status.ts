// `x86ft ft status [NAME] --control SPEC [--json]`: the FT VMs as FT.md "Status a user sees" shows
// them. The JSON is exactly the status object (vmStatus), an array of them without NAME.

import { openControl, vmStatus, type ControlPlane, type VmStatus } from '../ft/control.js';

export const STATUS_EXIT = { io: 1, usage: 2, notFound: 3 } as const;

export const STATUS_HELP = `usage: x86ft ft status [NAME] --control dir:PATH [--json]

Shows every FT VM (or VM NAME): generation, state (starting, protected, not-protected,
starting-secondary, failing-over, ended), primary and secondary (host, pid: SIGKILL of that pid is a
failover; channel address), lag of the secondary, outputs held under the Output Rule, log bandwidth,
age of the last heartbeat and the last failover. An ended VM stays listed as 'ended'.

  --control dir:PATH      the control plane (default dir:$X86FT_CONTROL, else dir:~/.x86ft)
  --json                  print JSON: an array of {name, generation, state, primary:{host,pid,addr}|null,
                          secondary:{host,pid,addr}|null, lag:{instructions,ms}, held:{outputs,bytes},
                          logBitsPerSecond, heartbeatAgeMs, lastFailover:{at,durationMs}|null}
                          (with NAME: that object alone)

exit status: 0; ${STATUS_EXIT.io} the control plane cannot be read; ${STATUS_EXIT.usage} bad arguments; ${STATUS_EXIT.notFound} no VM NAME.
`;

function role(r: VmStatus['primary']): string {
  return r ? `${r.host} pid ${r.pid}` : '-';
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

/** The status objects as a table (one line per VM). */
export function formatStatus(list: VmStatus[]): string {
  const head = ['VM', 'GEN', 'STATE', 'PRIMARY', 'SECONDARY', 'LAG', 'HELD', 'LOG', 'HEARTBEAT', 'LAST FAILOVER'];
  const rows = list.map((s) => [
    s.name, String(s.generation), s.state, role(s.primary), role(s.secondary),
    `${s.lag.instructions} instr / ${s.lag.ms} ms`, `${s.held.outputs} (${bytes(s.held.bytes)})`,
    `${(s.logBitsPerSecond / 1e6).toFixed(3)} Mbit/s`, `${s.heartbeatAgeMs} ms`,
    s.lastFailover ? `${new Date(s.lastFailover.at).toISOString()} (${s.lastFailover.durationMs} ms)` : '-',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export async function ftStatusCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(STATUS_HELP); return 0; }
  let spec: string | undefined, name: string | undefined, json = false;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a === '--json') json = true;
    else if (a === '--control') {
      spec = args[++k];
      if (spec === undefined) return usage('--control needs a value');
    } else if (a.startsWith('-')) return usage(`unknown option ${a}`);
    else if (name === undefined) name = a;
    else return usage(`unexpected argument ${a}`);
  }
  let cp: ControlPlane;
  try { cp = await openControl(spec); } catch (e) {
    process.stderr.write(`x86ft ft status: ${(e as Error).message}\n`);
    return (e as { code?: string }).code === 'BAD_SPEC' ? STATUS_EXIT.usage : STATUS_EXIT.io;
  }
  try {
    const recs = name === undefined ? await cp.listVms() : [await cp.readVm(name)].filter((r) => r !== undefined);
    if (name !== undefined && recs.length === 0) {
      process.stderr.write(`x86ft ft status: no FT VM '${name}' in ${cp.spec}\n`);
      return STATUS_EXIT.notFound;
    }
    const list = recs.map(vmStatus).sort((a, b) => a.name.localeCompare(b.name));
    if (json) process.stdout.write(JSON.stringify(name === undefined ? list : list[0]) + '\n');
    else process.stdout.write(list.length ? formatStatus(list) : `no FT VMs in ${cp.spec}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`x86ft ft status: ${(e as Error).message}\n`);
    return (e as { code?: string }).code === 'BAD_NAME' ? STATUS_EXIT.usage : STATUS_EXIT.io;
  } finally {
    await cp.close().catch(() => undefined);
  }
}

function usage(msg: string): number {
  process.stderr.write(`x86ft ft status: ${msg}\n\n${STATUS_HELP}`);
  return STATUS_EXIT.usage;
}
