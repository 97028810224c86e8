// `x86ft ft start|wait|stop|list|failover|restart-secondary`: an FT VM on a cluster of host agents
// (`x86ft host`), as a vSphere user drives one. start places the primary on a registered host (its
// agent starts `x86ft ft primary --place`, which claims generation 1 and places its own secondary on
// another host); wait follows the record to the guest's end; stop powers the guest off; list shows VMs
// and hosts; failover (a test failover) and restart-secondary ask the primary through the VM record.

import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { storePath } from '../ft/store.js';
import { resolve } from 'node:path';
import { agentProcessHere, primaryProcessHere } from '../ft/role.js';
import { lostReason, newerClaim, newVmRecord, openControl, parseControlSpec, updateVm, type ControlPlane, type HostRecord, type VmConfig, type VmRecord } from '../ft/control.js';
import { DEFAULT_FT_OPTIONS } from '../ft/vm-host.js';
import { candidateHosts, describeTls, placeRole } from '../ft/placement.js';
import { EXIT } from './run.js';
import { parseHostArgs, MACHINE_HELP_NO_CONSOLE } from './host.js';
import { FT_KEYS, ftOptions, vmConfigOf } from './ft.js';
import { formatStatus, judgedStatus, statusView, unreadableLines } from './ft-status.js';
import { usageLine, UsageError } from './usage.js';
import { TLS_KEYS } from './ft-init.js';
import { fsErrorText } from '../errors.js';
import { parseArgs } from './args.js';
import { hostname } from 'node:os';
import { loadElf } from '../machine/boot.js';
import { PhysMemory } from '../cpu/memory.js';

/** Exit statuses of ft start/wait/stop/list (README "Hosts and placement"). */
export const MANAGE_EXIT = { io: 1, usage: 2, notFound: 3, noHost: 5, timeout: 6, notProtected: 7, lost: 8, stopped: 130 } as const;

/** How long `ft start` waits for a host that may run the primary (issue 10: 15 s). */
const HOST_WAIT_MS = 15_000;
/** How long `ft start` waits for the placed primary to create the VM (node start + image load on a loaded host) when
 *  it cannot see that process (another machine); one it sees alive on this machine, it waits for up to
 *  PRIMARY_ALIVE_WAIT_MS; one that exited, or whose host lost its lease, ends the wait at once. */
const PRIMARY_WAIT_MS = 30_000;
const PRIMARY_ALIVE_WAIT_MS = 300_000;
const DRAIN_SETTLE_MS = 10_000;
/** How long `ft stop` waits for the primary to power the guest off before it ends the VM itself. */
const STOP_WAIT_MS = 15_000;
const POLL_MS = 100;
/** How long failover/restart-secondary wait for the operation and then for `protected` again (a new secondary's node
 *  start and snapshot on a loaded host take seconds). */
const PLANNED_WAIT_MS = 60_000;

export const START_HELP = `usage: x86ft ft start <guest.elf> --vm NAME --control SPEC [--store PATH] [--console-file FILE]
                       [--hosts ID,…] [FT options] [machine options]
       x86ft ft wait NAME --control SPEC
       x86ft ft stop NAME --control SPEC [--force]
       x86ft ft list --control SPEC [--json]
       x86ft ft failover NAME --control SPEC
       x86ft ft restart-secondary NAME --control SPEC

start: creates FT VM NAME on the cluster of host agents ('x86ft host'). It waits up to 15 s for a
registered host (within --hosts, if given), asks its agent to start the primary (a spawn request
not accepted within 1 s goes to the next host), and exits 0 once the primary has claimed
generation 1 and runs, leaving the VM running. The primary places the secondary itself on another
registered host: anti-affinity is enforced, never both roles on one host. With one host the VM
stays 'starting' and its record says why, and is protected as soon as a second host registers.
wait: waits for the guest's end and exits with its status, or until the VM is lost (no role's
host holds a live lease). stop: powers the guest off (state
'ended'; the name can then be used again); --force also ends a VM whose record is unreadable (it
fails its HMAC), claiming the next generation and writing a new 'ended' record (the logs and disk
layers stay). list: the VMs and the registered hosts (an unreadable record is listed as such).
failover (a test failover, as vSphere's): the protected VM's primary stops as if its host died and
the secondary takes over with nothing lost; a new secondary then joins from a live snapshot.
restart-secondary: the secondary is ended and a new one joins from a live snapshot (on any host
other than the primary's). Both wait until the VM is protected again and print it.

  --control SPEC          dir:PATH or etcd:HOST:PORT[,…] (default dir:$X86FT_CONTROL, else dir:~/.x86ft)
  --store PATH            shared storage for logs, layers, console (default: the dir: path; required with etcd:)
  --vm NAME               the FT VM (default 'default')
  --console-file FILE     the console file (default STORE/vms/NAME/console)
  --hosts ID,…            the hosts the VM's roles may run on (VM-host affinity)
  --json                  list: JSON {vms: [status objects as 'ft status --json'], hosts: [{id, addr, pid, leaseMs, expiresAt}]}
  FT options              --heartbeat-ms, --failure-timeout-ms, --max-held-bytes, --max-held-ms, --max-lag-ms (see 'x86ft ft --help')
machine options:
${MACHINE_HELP_NO_CONSOLE}
Refused with a usage error (they belong to other commands): --metrics (read the VM's figures with
'x86ft ft status'; an agent's with 'x86ft host --metrics'), --tls-cert/--tls-key/--tls-ca (the host
agents' TLS is every role's), --console (use --console-file and 'x86ft console'), --max-instructions,
--stats, --no-input.

exit status: start: 0 the primary runs; ${MANAGE_EXIT.usage} bad arguments, an unusable image, or the VM already running (its
primary is named); ${MANAGE_EXIT.noHost} no host accepted the primary within 15 s; ${MANAGE_EXIT.timeout} the primary was started but did
not create the VM: it exited or its host lost its lease first, or it did not within 30 s (300 s while it
runs on this machine) (see its agent's messages); ${MANAGE_EXIT.io} a control-plane error.
wait: the guest's debug-exit status (124 budget, 125 halt, 126 guest fault, 127 internal error, as
'x86ft run'), ${MANAGE_EXIT.stopped} when it was stopped ('ft stop'); ${MANAGE_EXIT.lost} the VM is lost (the hosts of all its roles lost their
leases: nobody runs the guest any more); ${MANAGE_EXIT.notFound} no VM NAME; ${MANAGE_EXIT.io} a control-plane error.
stop: 0 the VM is ended; ${MANAGE_EXIT.notFound} no VM NAME; ${MANAGE_EXIT.io} a control-plane error. list: 0; ${MANAGE_EXIT.io} a control-plane error.
failover, restart-secondary: 0 done and protected again; ${MANAGE_EXIT.notProtected} the VM is not protected, or the primary
refused saying why (nothing done), or it ended meanwhile; ${MANAGE_EXIT.timeout} not done, or not protected again, within 60 s; ${MANAGE_EXIT.notFound} no VM NAME; ${MANAGE_EXIT.io} a control-plane error.
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function say(sub: string, text: string): void { process.stderr.write(`x86ft ft ${sub}: ${text}\n`); }
const sayFt = say;

/** How a planned operation is carried out (`host drain`, an agent taken out of service by SIGTERM). */
export interface PlannedOptions {
  /** Where messages go (default stderr, prefixed with the command). */
  say?: (text: string) => void;
  /** Wait up to this long for a VM that is not protected yet (e.g. `starting-secondary`) before giving up (default 0). */
  waitProtectedMs?: number;
  /** Done once the role moved (the generation changed), without waiting for `protected` again (the new
   *  secondary may need a host that is not there). */
  handedOver?: boolean;
}

/** The status `ft wait` exits with for an ended record (the guest's, as `x86ft run`). */
export function endedStatus(rec: VmRecord): number {
  if (rec.exitStatus !== null) return rec.exitStatus;
  switch (rec.reason) {
    case 'stopped': return MANAGE_EXIT.stopped;
    case 'budget': return EXIT.budget;
    case 'halt': return EXIT.halt;
    case 'fault': return EXIT.fault;
    default: return rec.reason?.startsWith('stopped') ? MANAGE_EXIT.stopped : EXIT.internal;
  }
}

/** Registered hosts whose roles use different channel settings (plain TCP, TLS under one CA or another) cannot pair:
 *  a line saying which, or undefined when they agree. */
function tlsMix(hosts: HostRecord[]): string | undefined {
  const by = new Map<string, string[]>();
  for (const h of hosts) if (h.tls !== undefined) by.set(describeTls(h.tls), [...(by.get(describeTls(h.tls)) ?? []), h.id]);
  if (by.size < 2) return undefined;
  return `the registered hosts differ in channel TLS (${[...by].map(([k, ids]) => `${ids.sort().join(',')}: ${k}`).join('; ')}); a secondary goes only to a host with its primary's setting, so the VM may stay not protected: give every host agent the same --tls-* files or none`;
}

/** Why `ft wait` exits with a status other than 0, for stderr: the guest's failure status and the last line of its
 *  console file (a guest such as ft_demo says there why it failed, e.g. that it has no disk). */
function endedText(name: string, rec: VmRecord, st: number): string {
  const file = rec.config.consoleFile ?? storePath(rec.config.store, name, { kind: 'console' });
  let last = '';
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size, buf = Buffer.alloc(Math.min(size, 4096));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      last = buf.toString('latin1').replace(/[\r\n]+$/, '').split(/\r?\n/).pop()!.replace(/[\x00-\x1f\x7f]/g, '?').slice(-200);
    } finally { closeSync(fd); }
  } catch { /* no console file readable here: the status alone */ }
  const how = rec.exitStatus !== null ? `the guest exited with status ${st}` : rec.reason === 'stopped' || rec.reason?.startsWith('stopped') ? `it was stopped (${rec.reason})` : `the guest did not exit itself (${rec.reason ?? 'unknown'}; status ${st})`;
  return `VM '${name}' ended: ${how}${last ? `; the last line of its console ${file}: ${JSON.stringify(last)}` : ''}`;
}

/** Options: `--control SPEC`, `--json`, one NAME. */
function simpleArgs(sub: string, args: string[], needName: boolean): { spec?: string; name?: string; json: boolean; force: boolean } {
  const p = parseArgs(args, { flags: sub === 'list' ? ['--json'] : sub === 'stop' ? ['--force'] : [], values: ['--control'], emptyOk: 'all', maxPositionals: needName ? 1 : 0 });
  const spec = p.options.get('--control') as string | undefined, name = p.positionals[0], json = p.options.has('--json'), force = p.options.has('--force');
  if (needName && name === undefined) throw new UsageError('the VM NAME is required');
  return { spec, name, json, force };
}

export async function ftManageCommand(sub: 'start' | 'wait' | 'stop' | 'list' | 'failover' | 'restart-secondary', args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(START_HELP); return 0; }
  let cp: ControlPlane | undefined;
  try {
    if (sub === 'start') return await start(args, (c) => { cp = c; });
    let o: ReturnType<typeof simpleArgs>;
    try { o = simpleArgs(sub, args, sub !== 'list'); } catch (e) {
      process.stderr.write(usageLine(`ft ${sub}`, (e as Error).message, START_HELP));
      return MANAGE_EXIT.usage;
    }
    const unreadable: string[] = [];
    try { cp = await openControl(o.spec, { mustExist: true, onTampered: (e) => unreadable.push(e.message) }); } catch (e) {
      say(sub, (e as Error).message);
      return (e as { code?: string }).code === 'BAD_SPEC' ? MANAGE_EXIT.usage : MANAGE_EXIT.io;
    }
    if (sub === 'list') return await list(cp, o.json, unreadable);
    if (sub === 'stop' && o.force) return await forceStop(cp, o.name!);
    if (sub === 'wait') return await wait(cp, o.name!);
    if (sub === 'failover' || sub === 'restart-secondary') return await planned(cp, o.name!, sub);
    return await stop(cp, o.name!);
  } catch (e) {
    // an unreadable VM record (start, wait, failover, …): name the recovery
    const vm = (e as { code?: string }).code === 'TAMPERED' ? /\bvms\/([^/\s]+)\/record\b/.exec((e as Error).message)?.[1] : undefined;
    say(sub, `${(e as Error).message}${vm ? `; 'x86ft ft stop ${vm} --force' ends the VM and writes a new record` : ''}`);
    return (e as { code?: string }).code === 'BAD_NAME' ? MANAGE_EXIT.usage : MANAGE_EXIT.io;
  } finally {
    await cp?.close().catch(() => undefined);
  }
}

/** Options other x86ft commands take that ft start refuses, and why (it accepted them and did nothing: the new-user
 *  trial's `ft start --metrics abc` exited 0 and no role served metrics). */
const NOT_START_OPTIONS: Record<string, string> = {
  '--metrics': "the roles of a VM started by host agents serve no metrics of their own: read the VM's figures with 'x86ft ft status' (--json, --watch) and each agent's with 'x86ft host --metrics PORT'",
  '--tls-cert': "channel TLS is the host agents' ('x86ft host --tls-cert/--tls-key/--tls-ca'): every role an agent starts uses its host's files",
  '--max-instructions': "an FT VM runs until its guest ends or 'x86ft ft stop NAME'",
  '--console': "use --console-file FILE (the released console output) and 'x86ft console' to type",
  '--stats': "read the VM's figures with 'x86ft ft status'",
  '--no-input': "the console input of an FT VM is typed with 'x86ft console' only",
};

/** A usage error for an option ft start refuses, or undefined. */
function refusedStartOption(args: string[]): string | undefined {
  for (const [i, a] of args.entries()) {
    if (args[i - 1] === '--cmdline') continue; // the guest's words, not options
    const k = a.split('=')[0]!;
    const why = NOT_START_OPTIONS[k] ?? (TLS_KEYS.includes(k) ? NOT_START_OPTIONS['--tls-cert'] : undefined);
    if (why) return `${k} is not an 'ft start' option: ${why}`;
  }
  return undefined;
}

async function start(args: string[], opened: (cp: ControlPlane) => void): Promise<number> {
  let o: ReturnType<typeof parseHostArgs>, image: Buffer, vm: string, spec: string;
  let config;
  try {
    const refused = refusedStartOption(args);
    if (refused) throw new UsageError(refused);
    o = parseHostArgs(args, FT_KEYS.filter((k) => !['--listen', '--connect', '--host-id', '--digest-every'].includes(k)));
    const str = (k: string): string | undefined => { const v = o.rest.get(k); return typeof v === 'string' ? v : undefined; };
    spec = str('--control') ?? '';
    const parsed = parseControlSpec(spec);
    if (!str('--store') && parsed.kind !== 'dir') throw new UsageError('--store PATH is required with an etcd: control plane');
    const store = resolve(str('--store') ?? (parsed.kind === 'dir' ? parsed.path : ''));
    vm = str('--vm') ?? 'default';
    try { image = readFileSync(o.file!); } catch (e) {
      throw new UsageError(`ELF image ${o.file}: cannot read (${fsErrorText(e)})`);
    }
    config = vmConfigOf(o, args, image, store, ftOptions(o.rest));
  } catch (e) {
    process.stderr.write(usageLine('ft start', (e as Error).message, START_HELP));
    return MANAGE_EXIT.usage;
  }
  // the image loads here first (as every role will): a malformed ELF is refused now, not after the wait for a host
  try { loadElf(new PhysMemory(config.memorySize), image); } catch (e) {
    say('start', `${o.file}: ${(e as Error).message}`);
    return MANAGE_EXIT.usage;
  }
  let cp: ControlPlane;
  // a cluster exists where its agents registered: a control directory that does not exist is a typo, not a new cluster
  try { cp = await openControl(spec, { mustExist: true }); } catch (e) {
    say('start', (e as Error).message);
    return (e as { code?: string }).code === 'BAD_SPEC' || (e as { code?: string }).code === 'PERMISSIONS' ? MANAGE_EXIT.usage : MANAGE_EXIT.io;
  }
  opened(cp);
  const running = async (): Promise<string | undefined> => {
    const cur = await cp.readVm(vm);
    if (!cur || cur.state === 'ended') return undefined;
    const newer = await newerClaim(cp, cur);
    const lost = lostReason(cur, await cp.listHosts(), newer);
    if (lost) return `FT VM '${vm}' is lost: ${lost}; 'x86ft ft stop ${vm}' ends its record, then start it again`;
    return `FT VM '${vm}' is already running (primary: ${cur.primary ? `${cur.primary.host} pid ${cur.primary.pid}` : 'starting'})`;
  };
  const busy = await running();
  if (busy) { say('start', busy); return MANAGE_EXIT.usage; }
  const mixed = tlsMix(await cp.listHosts());
  if (mixed) say('start', mixed);
  const g0 = await cp.generation(vm);
  const by = { hostId: hostname() || 'localhost', pid: process.pid };
  const until = Date.now() + HOST_WAIT_MS;
  let placed;
  for (let said = false; ;) {
    if (candidateHosts(await cp.listHosts(), { notHosts: [], config }).length > 0) {
      placed = await placeRole(cp, { vm, generation: g0 + 1, role: 'primary', config, notHosts: [], primary: null, by }, (t) => say('start', t));
      if (placed) break;
    }
    if (Date.now() >= until) {
      say('start', `no registered host${config.hosts ? ` within --hosts ${config.hosts.join(',')}` : ''} accepted the primary within ${HOST_WAIT_MS / 1000} s (start 'x86ft host --id ID --control ${cp.spec}' on a host)`);
      return MANAGE_EXIT.noHost;
    }
    if (!said) { say('start', 'waiting for a registered host'); said = true; }
    await sleep(250);
  }
  say('start', `host ${placed.host} starts the primary (pid ${placed.pid ?? '?'})`);
  // Wait while the primary can still create the VM, not for a fixed time: at a load of 20-35 a primary's start
  // (node, the emulator's modules, the image) is stretched many times, while one that died (its agent lost the
  // lease and killed it, a crash) will never create it.
  const start0 = Date.now();
  const placedHost = (await cp.listHosts()).find((h) => h.id === placed.host);
  const hostReg = placedHost?.registeredAt;
  // the placing agent runs on this machine: its primary (started with its command line, the pid its decision
  // names, after the exec) is a process here, so one not here has exited, also before this loop first looked
  const local = placedHost !== undefined && agentProcessHere(placedHost.pid, placed.host);
  let seen = false, gone: string | undefined, lastHostCheck = 0;
  for (;;) {
    const rec = await cp.readVm(vm);
    if (rec && rec.generation > g0 && rec.state !== 'ended') {
      if (rec.primary?.host === placed.host && rec.primary.pid === placed.pid && rec.primary.addr) {
        process.stdout.write(`${vm}: generation ${rec.generation}, primary on host ${rec.primary.host} pid ${rec.primary.pid}, ${rec.state}\n`);
        return 0;
      }
      if (rec.primary && rec.primary.pid !== placed.pid) { say('start', `FT VM '${vm}' was started by someone else (primary: ${rec.primary.host} pid ${rec.primary.pid})`); return MANAGE_EXIT.usage; }
    }
    // the guest ran and ended already (a short guest, or one that failed at once, e.g. ft_demo without --disk):
    // started all the same; `ft wait` gives its status
    if (rec && rec.generation > g0 && rec.state === 'ended' && rec.primary?.pid === placed.pid && (rec.exitStatus !== null || ['budget', 'halt', 'fault'].includes(rec.reason ?? ''))) {
      process.stdout.write(`${vm}: generation ${rec.generation}, primary on host ${placed.host} pid ${placed.pid}, ended\n`);
      const st = endedStatus(rec);
      if (st !== 0) say('start', `${endedText(vm, rec, st)} ('x86ft ft wait ${vm}' exits with ${st})`);
      return 0;
    }
    // the placed primary created the VM and could not open its image, disks, console or log: it ended it
    if (rec && rec.generation > g0 && rec.state === 'ended' && rec.primary?.pid === placed.pid) {
      say('start', `${rec.reason ?? 'the primary ended before the guest ran'} (host ${placed.host})`);
      return MANAGE_EXIT.usage;
    }
    // judged after a read of the record made after the primary was found gone: it may have created the VM and ended
    if (gone) { say('start', `${gone} before it created VM '${vm}'; see that host agent's messages`); return MANAGE_EXIT.timeout; }
    const who = `the primary on host ${placed.host} (pid ${placed.pid ?? '?'})`;
    if (placed.pid !== null && primaryProcessHere(placed.pid, vm)) seen = true;
    else if (seen || (local && placed.pid !== null)) gone = `${who} exited`;
    if (!gone && Date.now() - lastHostCheck >= 1000) {
      lastHostCheck = Date.now();
      const h = (await cp.listHosts()).find((x) => x.id === placed.host);
      if (hostReg !== undefined && h?.registeredAt !== hostReg) gone = `host ${placed.host} lost its lease (its agent kills its roles), so ${who} ended`;
    }
    const waited = Date.now() - start0;
    if (!gone && waited >= (seen ? PRIMARY_ALIVE_WAIT_MS : PRIMARY_WAIT_MS)) {
      say('start', `${who} did not create VM '${vm}' within ${Math.round(waited / 1000)} s${seen ? ' (it still runs)' : ''}; see that host agent's messages`);
      return MANAGE_EXIT.timeout;
    }
    if (!gone) await sleep(POLL_MS);
  }
}

async function wait(cp: ControlPlane, name: string): Promise<number> {
  for (;;) {
    const rec = await cp.readVm(name);
    if (!rec) { say('wait', `no FT VM '${name}' in ${cp.spec}`); return MANAGE_EXIT.notFound; }
    if (rec.state === 'ended') {
      const st = endedStatus(rec);
      if (st !== 0) say('wait', endedText(name, rec, st));
      return st;
    }
    // judged by the hosts' leases (read after the record): nobody is left to end the record
    const newer = await newerClaim(cp, rec);
    const lost = lostReason(rec, await cp.listHosts(), newer);
    if (lost) { say('wait', `VM '${name}' is lost: ${lost}; its state is in the generation logs and disk layers ('x86ft ft stop ${name}' ends the record)`); return MANAGE_EXIT.lost; }
    await sleep(200);
  }
}

/**
 * `ft stop NAME --force`: ends a VM whose record cannot be read (it fails its HMAC: written without the cluster
 * secret, or damaged), so its name is usable again. It claims the next generation first (a primary still running
 * is fenced: its record writes are refused and its agent kills it), then writes a signed `ended` record over the
 * unreadable one. A readable record is stopped as `ft stop` does.
 */
async function forceStop(cp: ControlPlane, name: string): Promise<number> {
  try {
    await cp.readVm(name);
    return await stop(cp, name);
  } catch (e) {
    if ((e as { code?: string }).code !== 'TAMPERED') throw e;
  }
  const g = (await cp.generation(name)) + 1;
  const r = await cp.claim(name, g, { hostId: hostname() || 'localhost', pid: process.pid });
  if (!r.won) { say('stop', `generation ${g} of '${name}' was claimed by ${r.owner.hostId} pid ${r.owner.pid} meanwhile; run it again`); return MANAGE_EXIT.io; }
  const config: VmConfig = { image: '', imageSha256: '', memorySize: 0, cmdline: '', disks: [], nets: [], consoleFile: null, store: '', ft: DEFAULT_FT_OPTIONS, hosts: null };
  await cp.writeVm({ ...newVmRecord(name, g, config), state: 'ended', reason: 'stopped (forced: its record was unreadable)', exitStatus: null });
  say('stop', `the record of '${name}' was unreadable; VM '${name}' ended at generation ${g} (its logs and disk layers are kept)`);
  return 0;
}

async function stop(cp: ControlPlane, name: string): Promise<number> {
  let rec0: VmRecord | undefined;
  try { rec0 = await cp.readVm(name); } catch (e) {
    if ((e as { code?: string }).code === 'TAMPERED') { say('stop', `${(e as Error).message}; 'x86ft ft stop ${name} --force' ends the VM and writes a new record`); return MANAGE_EXIT.io; }
    throw e;
  }
  if (!rec0) { say('stop', `no FT VM '${name}' in ${cp.spec}`); return MANAGE_EXIT.notFound; }
  if (rec0.state === 'ended') return 0;
  // a record behind a newer claim is refused (STALE_GENERATION): its claimant is asked once it recorded itself,
  // or the VM is judged lost below and ended here
  await updateVm(cp, name, (r) => (r.state === 'ended' ? undefined : { ...r, stopRequested: Date.now() }))
    .catch((e: { code?: string }) => { if (e.code !== 'STALE_GENERATION') throw e; });
  const until = Date.now() + STOP_WAIT_MS;
  for (;;) {
    const rec = await cp.readVm(name);
    if (!rec || rec.state === 'ended') return 0;
    // the primary's host is gone (no live lease) or it never answered: end the VM here, fencing any
    // stale primary by claiming the next generation first (its record writes are then refused)
    const newer = await newerClaim(cp, rec);
    const hosts = await cp.listHosts();
    const lost = lostReason(rec, hosts, newer);
    const hostGone = rec.primary && hosts.length > 0 && !hosts.some((h) => h.id === rec.primary!.host);
    if (Date.now() >= until || lost !== undefined || hostGone) {
      const g = (await cp.generation(name)) + 1;
      const r = await cp.claim(name, g, { hostId: hostname() || 'localhost', pid: process.pid });
      if (!r.won) { await sleep(POLL_MS); continue; } // a failover or the primary moved on: look again
      const why = lost !== undefined ? 'it was lost' : hostGone ? "the primary's host has no live lease" : 'the primary did not answer';
      await updateVm(cp, name, (x) => ({ ...x, generation: g, state: 'ended', primary: null, secondary: null, reason: `stopped (forced: ${why})`, exitStatus: null }));
      say('stop', `${why}; VM '${name}' ended at generation ${g}`);
      return 0;
    }
    await sleep(POLL_MS);
  }
}

/**
 * A planned operation, asked of the primary of the VM's current generation through its record (the role
 * polls it: FtPrimary.handOver / restartSecondary); done when a later generation is recorded (failover:
 * the old secondary's process is the primary), then waits for `protected` again.
 */
export async function planned(cp: ControlPlane, name: string, op: 'failover' | 'restart-secondary', avoid?: string, o: PlannedOptions = {}): Promise<number> {
  const say = (sub: string, text: string): void => (o.say ? o.say(text) : sayFt(sub, text));
  let rec0 = await cp.readVm(name);
  if (!rec0) { say(op, `no FT VM '${name}' in ${cp.spec}`); return MANAGE_EXIT.notFound; }
  // a VM getting its secondary (starting-secondary) is protected again soon: an agent taken out of service waits
  for (const until = Date.now() + (o.waitProtectedMs ?? 0); rec0.state !== 'ended' && !(rec0.state === 'protected' && rec0.primary && rec0.secondary) && Date.now() < until;) {
    await sleep(POLL_MS);
    rec0 = (await cp.readVm(name)) ?? rec0;
  }
  const lost = lostReason(rec0, await cp.listHosts());
  if (lost || rec0.state !== 'protected' || !rec0.primary || !rec0.secondary) {
    say(op, `VM '${name}' is ${lost ? `lost: ${lost}` : `${rec0.state}${rec0.reason ? ` (${rec0.reason})` : ''}`}: ${op} needs it protected; nothing done`);
    return MANAGE_EXIT.notProtected;
  }
  const field = op === 'failover' ? 'failoverRequested' : 'restartSecondaryRequested';
  const req = { at: Date.now(), generation: rec0.generation, ...(avoid ? { avoid } : {}) };
  await updateVm(cp, name, (r) => (r.generation !== req.generation || r.state === 'ended' ? undefined : { ...r, [field]: req }));
  const until = Date.now() + PLANNED_WAIT_MS;
  let rec: VmRecord | undefined = rec0;
  // the primary marks the request it read: acted (actedAt) or refused (why); a restart of a secondary that was
  // still joining keeps the generation (it had acked nothing: dropped without a claim)
  let acted = false;
  while (rec && rec.state !== 'ended' && rec.generation === rec0.generation) {
    const q = rec[field]?.at === req.at ? rec[field] : undefined;
    if (q?.refused !== undefined) { say(op, `the primary (${rec0.primary.host} pid ${rec0.primary.pid}) did not act: ${q.refused}`); return MANAGE_EXIT.notProtected; }
    if (q?.actedAt !== undefined) { acted = true; if (op === 'restart-secondary') break; }
    if (Date.now() >= until) {
      if (acted) { say(op, `the primary (${rec0.primary.host} pid ${rec0.primary.pid}) handed over, but no secondary took generation ${rec0.generation + 1} within ${PLANNED_WAIT_MS / 1000} s (state: ${rec.state}${rec.reason ? `: ${rec.reason}` : ''})`); return MANAGE_EXIT.timeout; }
      // withdrawn, so that the primary does not act on it later
      await updateVm(cp, name, (r) => (r[field]?.at === req.at ? { ...r, [field]: null } : undefined)).catch(() => undefined);
      say(op, `the primary (${rec0.primary.host} pid ${rec0.primary.pid}) did not read the request within ${PLANNED_WAIT_MS / 1000} s (its state: ${rec.state}); request withdrawn`);
      return MANAGE_EXIT.timeout;
    }
    await sleep(POLL_MS);
    rec = await cp.readVm(name);
  }
  if (!rec || rec.state === 'ended') { say(op, `VM '${name}' ended meanwhile`); return MANAGE_EXIT.notProtected; }
  if (o.handedOver) return 0;
  const g = rec.generation, old = rec0.secondary;
  while (!(rec && rec.state === 'protected' && rec.generation >= g && rec.secondary && rec.secondary.pid > 1 && rec.secondary.pid !== old.pid)) {
    if (rec?.state === 'ended') { say(op, `VM '${name}' ended meanwhile`); return MANAGE_EXIT.notProtected; }
    if (Date.now() >= until) { say(op, `done (generation ${g}), but not protected again within ${PLANNED_WAIT_MS / 1000} s${rec?.reason ? `: ${rec.reason}` : ''}`); return MANAGE_EXIT.timeout; }
    await sleep(POLL_MS);
    rec = await cp.readVm(name);
  }
  // judged on the settled record (just after the generation moved on it may still name the old primary)
  if (op === 'failover' && rec.primary?.pid !== rec0.secondary.pid) say(op, `generation ${rec.generation}: the primary is ${rec.primary ? `${rec.primary.host} pid ${rec.primary.pid}` : 'unknown'}, not the old secondary`);
  process.stdout.write(`${name}: generation ${rec.generation}, primary on host ${rec.primary!.host} pid ${rec.primary!.pid}, secondary on host ${rec.secondary.host} pid ${rec.secondary.pid}, protected\n`);
  return 0;
}

/**
 * `x86ft host drain ID`: moves every role of host ID away, one VM at a time, as the planned operations do —
 * a secondary there: restart-secondary avoiding ID; a primary there: a test failover (the new primary
 * leaves ID out when it places its secondary). Does not stop the agent or keep later roles off it.
 */
export async function drainHost(cp: ControlPlane, id: string, o: PlannedOptions = {}): Promise<number> {
  const say = o.say ?? ((t: string): void => { process.stderr.write(`x86ft host drain: ${t}\n`); });
  let worst = 0;
  const on = (r: VmRecord): boolean => r.state !== 'ended' && (r.primary?.host === id || r.secondary?.host === id);
  const vms = (await cp.listVms()).filter(on).sort((a, b) => a.name.localeCompare(b.name));
  if (!vms.length) { say(`no FT VM has a role on host ${id}`); return 0; }
  for (const v of vms) {
    const op = v.primary?.host === id ? 'failover' : 'restart-secondary';
    say(`VM '${v.name}': ${op === 'failover' ? 'its primary' : 'its secondary'} runs on ${id}: ${op}`);
    const st = await planned(cp, v.name, op, id, { ...o, say });
    // the record settles after the generation moved on (a handed-over primary is named until its successor
    // writes): judged once it no longer names this host, or after DRAIN_SETTLE_MS
    let now = await cp.readVm(v.name);
    for (const until = Date.now() + DRAIN_SETTLE_MS; st === 0 && now && on(now) && Date.now() < until;) {
      await sleep(POLL_MS);
      now = await cp.readVm(v.name);
    }
    if (st === 0 && now && on(now)) { say(`VM '${v.name}' still has a role on ${id} (no other host free?)`); worst = Math.max(worst, MANAGE_EXIT.notProtected); }
    else if (st !== 0) worst = st === MANAGE_EXIT.notProtected ? Math.max(worst, st) : st;
  }
  return worst;
}

async function list(cp: ControlPlane, json: boolean, unreadable: string[] = []): Promise<number> {
  const recs = (await cp.listVms()).sort((a, b) => a.name.localeCompare(b.name));
  const newer = await Promise.all(recs.map((r) => newerClaim(cp, r)));
  const hosts = (await cp.listHosts()).sort((a, b) => a.id.localeCompare(b.id));
  const vms = recs.map((r, i) => judgedStatus(r, hosts, newer[i]));
  if (json) {
    process.stderr.write(unreadableLines(unreadable)); // the JSON keeps its shape
    process.stdout.write(JSON.stringify({ vms, hosts: hosts.map((h: HostRecord) => ({ id: h.id, addr: h.addr, pid: h.pid, leaseMs: h.leaseMs, expiresAt: h.expiresAt })) }) + '\n');
    return 0;
  }
  process.stdout.write(vms.length ? formatStatus(recs.map((r, i) => statusView(r, hosts, newer[i]))) : `no FT VMs in ${cp.spec}\n`);
  process.stdout.write(unreadableLines(unreadable));
  process.stdout.write(hosts.length ? `hosts: ${hosts.map((h) => `${h.id} (pid ${h.pid}, lease ${h.leaseMs} ms)`).join(', ')}\n` : 'hosts: none registered\n');
  return 0;
}
