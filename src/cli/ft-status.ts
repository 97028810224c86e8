// `x86ft ft status [NAME] --control SPEC [--json] [--watch [--interval-ms N]]`: the FT VMs as FT.md
// "Status a user sees" shows them, and the hosts with their leases. The JSON of one VM is the status
// object (vmStatus) plus `failovers`, `lastRestore`, `reason`; an array of them without NAME. --watch
// redraws every second on a terminal, or prints one JSON object per line with --json.

import { usageLine, UsageError } from './usage.js';
import { parseArgs } from './args.js';
import { vmEvents, type VmEvent } from '../ft/history.js';
import { lostReason, newerClaim, openControl, roleHostGone, vmStatus, type ControlPlane, type HostRecord, type NewerClaim, type ReportedState, type VmRecord, type VmStatus } from '../ft/control.js';
import { onStopSignal } from './signals.js';

export const STATUS_EXIT = { io: 1, usage: 2, notFound: 3 } as const;

export const STATUS_HELP = `usage: x86ft ft status [NAME] --control SPEC [--json] [--hosts] [--events] [--watch [--interval-ms N]]

Shows every FT VM (or VM NAME): generation, state (starting, protected, not-protected,
starting-secondary, failing-over, ended; lost: the VM runs under host agents and no role's host
holds a live lease any more, so nobody is left to run the guest or update its record), primary and secondary (host, pid: SIGKILL of that pid is a
failover; channel address), lag of the secondary, outputs held under the Output Rule, log bandwidth,
age of the last heartbeat, the last failover, failovers so far and the last time redundancy was
restored; then the registered hosts and their leases. An ended VM stays listed as 'ended'.

  --control SPEC          the control plane, dir:PATH or etcd:HOST:PORT[,...]
                          (default dir:$X86FT_CONTROL, else dir:~/.x86ft)
  --json                  print JSON: an array of {name, generation, state, primary:{host,pid,addr}|null,
                          secondary:{host,pid,addr}|null, lag:{instructions,ms}, held:{outputs,bytes},
                          logBitsPerSecond, heartbeatAgeMs, lastFailover:{at,durationMs}|null,
                          failovers, lastRestore:{at,durationMs}|null, reason} (with NAME: that object alone)
  --hosts                 with --json: print {at, vms:[...], hosts:[...]} (as one --watch line)
  --events                each VM's history too (JSON: an 'events' array of {at, generation, host,
                          role, kind, text}, oldest first, at most 32): state changes, peers up and
                          lost, failovers, divergences, ends
  --watch                 keep showing it until interrupted (Ctrl-C: exit 0): redrawn in place on a
                          terminal; with --json one line per refresh: {at, vms:[...], hosts:[{id, addr,
                          pid, leaseMs, registeredAt, renewedAt, expiresAt, leaseLeftMs}]}
  --interval-ms N         --watch refresh period (default 1000)

exit status: 0; ${STATUS_EXIT.io} the control plane cannot be read (without --watch; --watch reports it and retries);
${STATUS_EXIT.usage} bad arguments; ${STATUS_EXIT.notFound} no VM NAME (without --watch).
`;

/** One VM as `ft status --json` prints it: FT.md's status object, plus failovers so far, the last
 *  restore of redundancy and why it is not protected / ended (additions keep FT.md's fields as they are). */
export interface VmStatusView extends Omit<VmStatus, 'state'> {
  /** The record's state, or `lost` when no role's host holds a live lease any more (`lostReason`). */
  state: ReportedState;
  failovers: number;
  lastRestore: { at: number; durationMs: number } | null;
  reason: string | null;
  /** An ended VM: the guest's exit status (its debug-exit value; what `ft wait` exits with), null otherwise or when
   *  the guest did not exit itself (stopped, budget, halt, fault: `reason` says which). */
  exitStatus: number | null;
  /** With --events: the VM's history, oldest first (src/ft/history.ts). */
  events?: VmEvent[];
}

/** A host as `--watch --json` prints it: the host record plus ms left on its lease (by this machine's clock). */
export interface HostView extends HostRecord {
  leaseLeftMs: number;
}

/** One VM's view, judged by the hosts' leases (`hosts` = the live ones) and a claim above the record's generation
 *  (`newer`, see `newerClaim`): `lost` with the reason when none of its roles' hosts is left (FT.md "Status": the
 *  record cannot say so, nobody is left to write it). */
export function statusView(rec: VmRecord, hosts: readonly HostRecord[], newer?: NewerClaim): VmStatusView {
  const j = judge(rec, hosts, newer);
  return { ...vmStatus(rec), state: j.state, failovers: rec.failovers ?? 0, lastRestore: rec.lastRestore ?? null, reason: j.reason, exitStatus: rec.state === 'ended' ? rec.exitStatus : null };
}

/** FT.md's status object with the state judged by the hosts' leases (`lost`, see statusView). */
export function judgedStatus(rec: VmRecord, hosts: readonly HostRecord[], newer?: NewerClaim): Omit<VmStatus, 'state'> & { state: ReportedState } {
  return { ...vmStatus(rec), state: judge(rec, hosts, newer).state };
}

/** The state to report and why: `lost` (no role's host left, or the claimant of a newer generation's), else
 *  `protected` only while the record says so, no newer generation is claimed, the primary's host and the
 *  secondary's hold live leases and the secondary recorded its process (FT.md's `protected` needs a live primary
 *  and a joined secondary: the primary has not written the loss yet), `not-protected` with why otherwise. */
export function judge(rec: VmRecord, hosts: readonly HostRecord[], newer?: NewerClaim): { state: ReportedState; reason: string | null } {
  const lost = lostReason(rec, hosts, newer);
  if (lost) return { state: 'lost', reason: lost };
  if (newer && rec.state !== 'ended') {
    const by = newer.owner ? `host ${newer.owner.hostId} pid ${newer.owner.pid}` : 'an unreadable claim';
    return { state: 'not-protected', reason: `generation ${newer.generation} was claimed by ${by}, which has not recorded it yet (the record's generation ${rec.generation} roles are fenced)` };
  }
  if (rec.state !== 'protected' || !rec.placed) return { state: rec.state, reason: rec.reason ?? null };
  const p = rec.primary, s = rec.secondary;
  const pGone = p && roleHostGone(rec, p, hosts);
  if (pGone) return { state: 'not-protected', reason: `the primary's host ${p.host} has ${pGone === 'no live lease' ? 'no live lease (its agent is gone; the secondary takes over)' : pGone}` };
  if (!s) return { state: 'not-protected', reason: rec.reason ?? 'no secondary is recorded' };
  const sGone = roleHostGone(rec, s, hosts);
  if (sGone) return { state: 'not-protected', reason: `the secondary's host ${s.host} has ${sGone === 'no live lease' ? 'no live lease (its agent is gone)' : sGone}` };
  if (!s.pid) return { state: 'not-protected', reason: `the secondary on host ${s.host} has not recorded its process yet` };
  return { state: rec.state, reason: rec.reason ?? null };
}

/** The line under a listing for each VM record left out because it fails verification (`onTampered` messages). */
export function unreadableLines(messages: readonly string[]): string {
  return messages.map((m) => {
    const vm = /\bvms\/([^/\s]+)\/record\b/.exec(m)?.[1];
    return vm ? `${vm}: unreadable record: ${m} ('x86ft ft stop ${vm} --force' ends it)\n` : `unreadable control value: ${m}\n`;
  }).join('');
}

function hostView(h: HostRecord, now: number): HostView {
  return { ...h, leaseLeftMs: Math.max(0, h.expiresAt - now) };
}

function role(r: VmStatus['primary']): string {
  // pid 0: named by its peer, never recorded by itself (it ended or has not joined yet); no process to kill
  return r ? (r.pid ? `${r.host} pid ${r.pid}` : `${r.host} (no pid recorded)`) : '-';
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const when = (t: { at: number; durationMs: number } | null): string => (t ? `${new Date(t.at).toISOString()} (${t.durationMs} ms)` : '-');

/** The status objects as a table (one line per VM). */
export function formatStatus(list: VmStatusView[]): string {
  return table(['VM', 'GEN', 'STATE', 'PRIMARY', 'SECONDARY', 'LAG', 'HELD', 'LOG', 'HEARTBEAT', 'FAILOVERS', 'LAST FAILOVER', 'LAST RESTORE'], list.map((s) => [
    s.name, String(s.generation), s.state, role(s.primary), role(s.secondary),
    `${s.lag.instructions} instr / ${s.lag.ms} ms`, `${s.held.outputs} (${bytes(s.held.bytes)})`,
    `${(s.logBitsPerSecond / 1e6).toFixed(3)} Mbit/s`, `${s.heartbeatAgeMs} ms`, String(s.failovers), when(s.lastFailover), when(s.lastRestore),
  ])) + list.map(explain).filter((t) => t).map((t) => `${t}\n`).join('');
}

/** The line under the table that says why a VM is not protected, or how it ended ('' when protected). */
function explain(s: VmStatusView): string {
  if (s.state === 'ended') {
    return `${s.name}: ended: ${s.exitStatus !== null ? `the guest exited with status ${s.exitStatus}${s.exitStatus ? ' (a failure status: see its console file)' : ''}` : s.reason ?? 'the guest did not exit itself'}`;
  }
  return s.reason && s.state !== 'protected' ? `${s.name}: ${s.reason}` : '';
}

/** The hosts as a table: id, agent address, pid, lease left, and the roles they run (an ended VM's record
 *  keeps its last roles, but nothing runs them). */
export function formatHosts(hosts: HostView[], vms: VmStatusView[]): string {
  if (hosts.length === 0) return 'no hosts registered\n';
  const running = vms.filter((v) => v.state !== 'ended');
  return table(['HOST', 'ADDR', 'PID', 'LEASE LEFT', 'ROLES'], hosts.map((h) => [
    h.id, h.addr ?? '-', String(h.pid), `${h.leaseLeftMs} ms of ${h.leaseMs}`,
    running.flatMap((v) => [v.primary?.host === h.id ? `${v.name} primary` : '', v.secondary?.host === h.id ? `${v.name} secondary` : ''].filter((x) => x)).join(', ') || '-',
  ]));
}

async function read(cp: ControlPlane, o: Args): Promise<{ vms: VmStatusView[]; hosts: HostView[] }> {
  const recs = o.name === undefined ? await cp.listVms() : [await cp.readVm(o.name)].filter((r): r is VmRecord => r !== undefined);
  // the hosts after the records: a role recorded before its host's lease is read is judged by that lease
  const live = await cp.listHosts();
  const now = Date.now();
  const hosts = live.map((h) => hostView(h, now)).sort((a, b) => a.id.localeCompare(b.id));
  const views = await Promise.all(recs.map(async (r) => {
    const v = statusView(r, live, await newerClaim(cp, r));
    return o.events ? { ...v, events: vmEvents(r) } : v;
  }));
  return { vms: views.sort((a, b) => a.name.localeCompare(b.name)), hosts };
}

/** The history of each VM, one line per event (oldest first). */
export function formatEvents(vms: VmStatusView[]): string {
  return vms.map((v) => `\n${v.name} events:\n` + ((v.events ?? []).map((e) => `  ${new Date(e.at).toISOString()}  gen ${e.generation}  ${e.host} (${e.role})  ${e.text}\n`).join('') || '  (none)\n')).join('');
}

interface Args { spec?: string; name?: string; json: boolean; watch: boolean; intervalMs: number; events: boolean; hosts: boolean }

function parse(args: string[]): Args | string {
  const o: Args = { json: false, watch: false, intervalMs: 1000, events: false, hosts: false };
  try {
    o.name = parseArgs(args, {
      flags: ['--json', '--watch', '--events', '--hosts'], values: ['--control', '--interval-ms'], emptyOk: 'all', maxPositionals: 1,
      on: (a, v) => {
        if (typeof v !== 'string') o[a.slice(2) as 'json' | 'watch' | 'events' | 'hosts'] = true;
        else if (a === '--control') o.spec = v;
        else if (!/^\d+$/.test(v) || Number(v) < 10 || Number(v) > 3_600_000) throw new UsageError(`--interval-ms expects 10..3600000 (got '${v}')`);
        else o.intervalMs = Number(v);
      },
    }).positionals[0];
  } catch (e) { if (e instanceof UsageError) return e.message; throw e; }
  if (!o.watch && args.includes('--interval-ms')) return '--interval-ms goes with --watch';
  return o;
}

export async function ftStatusCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(STATUS_HELP); return 0; }
  const o = parse(args);
  if (typeof o === 'string') return usage(o);
  let cp: ControlPlane;
  const unreadable: string[] = [];
  try { cp = await openControl(o.spec, { mustExist: true, onTampered: (e) => unreadable.push(e.message) }); } catch (e) {
    process.stderr.write(`x86ft ft status: ${(e as Error).message}\n`);
    return (e as { code?: string }).code === 'BAD_SPEC' ? STATUS_EXIT.usage : STATUS_EXIT.io;
  }
  try {
    return o.watch ? await watch(cp, o, unreadable) : await once(cp, o, unreadable);
  } finally {
    await cp.close().catch(() => undefined);
  }
}

async function once(cp: ControlPlane, o: Args, unreadable: string[]): Promise<number> {
  try {
    const { vms, hosts } = await read(cp, o);
    const bad = unreadableLines(unreadable.splice(0));
    if (o.name !== undefined && vms.length === 0) {
      process.stderr.write(`x86ft ft status: no FT VM '${o.name}' in ${cp.spec}\n`);
      return STATUS_EXIT.notFound;
    }
    if (o.json) { process.stderr.write(bad); process.stdout.write(JSON.stringify(o.hosts ? { at: Date.now(), vms, hosts } : o.name === undefined ? vms : vms[0]) + '\n'); }
    else process.stdout.write((vms.length ? formatStatus(vms) : bad ? '' : `no FT VMs in ${cp.spec}\n`) + bad + (o.events ? formatEvents(vms) : '') + '\n' + formatHosts(hosts, vms));
    return 0;
  } catch (e) {
    const tampered = (e as { code?: string }).code === 'TAMPERED' && o.name !== undefined;
    process.stderr.write(`x86ft ft status: ${(e as Error).message}${tampered ? `; 'x86ft ft stop ${o.name} --force' ends the VM and writes a new record` : ''}\n`);
    return (e as { code?: string }).code === 'BAD_NAME' ? STATUS_EXIT.usage : STATUS_EXIT.io;
  }
}

/** Refreshes every intervalMs until SIGINT/SIGTERM (exit 0). A read error is reported and retried. */
async function watch(cp: ControlPlane, o: Args, unreadable: string[]): Promise<number> {
  const tty = process.stdout.isTTY === true && !o.json;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const unlisten = onStopSignal(stop, { once: true });
  let lastError = '';
  try {
    for (let done = false; !done;) {
      try {
        const { vms, hosts } = await read(cp, o);
        const bad = unreadableLines([...new Set(unreadable.splice(0))]);
        lastError = '';
        const at = Date.now();
        if (o.json) process.stdout.write(JSON.stringify({ at, vms, hosts }) + '\n');
        else {
          const body = (vms.length ? formatStatus(vms) : o.name !== undefined ? `no FT VM '${o.name}' (yet)\n` : `no FT VMs in ${cp.spec}\n`) + bad + (o.events ? formatEvents(vms) : '') + '\n' + formatHosts(hosts, vms);
          // on a terminal: redraw in place (cursor home, clear); elsewhere one block per refresh
          process.stdout.write(tty ? `\x1b[H\x1b[2J${new Date(at).toISOString()}  ${cp.spec}  (Ctrl-C to stop)\n\n${body}` : `${new Date(at).toISOString()}\n${body}\n`);
        }
      } catch (e) {
        // once per outage: the client's message changes while it lasts (no answer, then its circuit breaker)
        if (!lastError) process.stderr.write(`x86ft ft status: ${(e as Error).message} (retrying)\n`);
        lastError = (e as Error).message;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped.then(() => { done = true; }), new Promise<void>((r) => { timer = setTimeout(r, o.intervalMs); })]);
      clearTimeout(timer);
    }
    return 0;
  } finally {
    unlisten();
  }
}

function usage(msg: string): number {
  process.stderr.write(usageLine('ft status', msg, STATUS_HELP));
  return STATUS_EXIT.usage;
}
