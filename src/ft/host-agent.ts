// The host agent (`x86ft host`, FT.md "Words": like ESXi's agent for vCenter): registers this host
// in the control plane with a lease renewed every quarter of it, starts primaries and secondaries
// when a signed spawn request names this host, keeps every role it starts in its own process group
// (a host dies with `kill -9 -- -PGID`), kills its roles at once when it cannot renew its lease
// (FT.md "Fencing"), kills a primary of its own that a newer generation has replaced, and on SIGTERM
// refuses new roles while the CLI hands the running ones over (host drain), then stops what is left. Imports the control plane only; the roles run as `x86ft ft` processes.
// A warm spare (like a standby process of a VM host's agent): one `x86ft` process per agent that has started node and
// loaded the roles' modules and waits on an IPC channel for a command line; a secondary placed here goes to it, so
// the respawn path does not wait for node to start (seconds on a loaded host), and a new spare is started after use.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { forwardStderrLines, roleNamed } from './child-stderr.js';
import type { TlsFiles } from './tls.js';
import { describeTls, tlsDiffers, tlsSetting } from './placement.js';
import {
  ControlError, keepLease, updateVm, type ControlEvent, type ControlPlane, type HostLease, type SpawnEntry, type SpawnRequest, type VmRecord, type Watch,
} from './control.js';

/** Exit statuses of `x86ft host` (README "Hosts"). */
export const HOST_EXIT = { io: 1, usage: 2, leaseLost: 4, stopped: 130 } as const;

/** Default lease (FT.md "Host leases": --lease-ms 2000). */
export const DEFAULT_LEASE_MS = 2000;
/** A spawn request older than this when the agent first sees it is stale (its requester moved on after 1 s). */
const STALE_REQUEST_MS = 10_000;
/** Period of the listing that backs up the watch (a missed event never loses a request). */
const SCAN_MS = 250;
/** A used (or dead) warm spare is replaced after this: the role it became starts first, without a node start beside it. */
const SPARE_RESTART_MS = 3000;
/** A primary that handed over on request ends itself (its wind-down took over 5 s at a load of 45); fencing kills it only after this. */
const HANDOVER_EXIT_MS = 30_000;

export interface HostAgentOptions {
  id: string;
  control: ControlPlane;
  /** The --control spec, passed on to the roles. */
  spec: string;
  /** IP address the roles on this host listen on (their channel and console services); published as the host's address. */
  listenHost: string;
  leaseMs: number;
  /** This host's channel TLS files (`x86ft host --tls-cert/--tls-key/--tls-ca`, absolute paths), passed on to every
   *  role it starts, so the channel to a primary, a secondary and a respawned secondary is mutual TLS 1.3. */
  tls?: TlsFiles;
  /** The x86ft CLI entry the roles run (default: this build's dist/src/cli/main.js). */
  cli?: string;
  /** Messages (the agent's and its roles', prefixed). */
  stderr: NodeJS.WritableStream;
  /** Counts what the agent did (its --metrics): a role started, a spawn request refused, an old primary fenced. */
  onCount?: (what: 'started' | 'refused' | 'fenced', role: 'primary' | 'secondary') => void;
  /** Keep a warm spare process for the next secondary (default true; `x86ft host --no-spare` turns it off). */
  spare?: boolean;
}

/** The warm spare: a started `x86ft` process waiting for its command line (main.ts spareArgv). */
interface Spare {
  child: ChildProcess;
  /** It loaded the roles' modules and listens for its command line. */
  ready: boolean;
  /** The role it became (undefined while it waits). */
  rc?: RoleChild;
  /** Writes its last stderr line without a newline (when it has exited). */
  flush: () => void;
  /** Ended by the agent (drain, stop, lease lost): not replaced. */
  ended?: boolean;
}

interface RoleChild {
  child: ChildProcess;
  vm: string;
  /** The role the process plays now (started as; a secondary gone live is the primary: roleNamed). */
  role: 'primary' | 'secondary';
  spawnId: string;
  /** Generation at which this child was last seen as the record's primary (fencing), 0 = never. */
  primaryAt: number;
  exited: Promise<void>;
  done: boolean;
  /** A primary of ours asked to hand over (ft failover, host drain, an agent leaving service): it fenced itself and
   *  exits on its own (status 4); this kills it only if it has not within HANDOVER_EXIT_MS. */
  handingOver?: boolean;
  /** Its kill after HANDOVER_EXIT_MS (fencing), if it has not ended by then. */
  handoverKill?: ReturnType<typeof setTimeout>;
}

/** The command line of a role started for `req` on host `hostId` (VmConfig back to `x86ft ft` options; the
 *  host's TLS files, when it has them, for the channel). */
export function roleArgs(req: SpawnRequest, spec: string, hostId: string, listenHost: string, tls?: TlsFiles): string[] {
  const c = req.config;
  const common = ['--control', spec, '--store', c.store, '--vm', req.vm, '--host-id', hostId, '--place'];
  if (tls) common.push('--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-ca', tls.ca);
  if (req.role === 'secondary') {
    const args = ['ft', 'secondary', ...common, '--listen', `${listenHost}:0`];
    if (req.primary?.addr) args.push('--connect', req.primary.addr);
    return args;
  }
  const args = ['ft', 'primary', c.image, ...common, '--listen', `${listenHost}:0`, '--mem', String(c.memorySize)];
  if (c.cmdline !== '') args.push('--cmdline', c.cmdline);
  for (const d of c.disks) args.push('--disk', d);
  for (const n of c.nets) args.push('--net', n);
  if (c.consoleFile) args.push('--console-file', c.consoleFile);
  if (c.hosts) args.push('--hosts', c.hosts.join(','));
  const ft = c.ft;
  args.push('--heartbeat-ms', String(ft.heartbeatMs), '--failure-timeout-ms', String(ft.failureTimeoutMs),
    '--max-held-bytes', String(ft.maxHeldBytes), '--max-held-ms', String(ft.maxHeldMs), '--max-lag-ms', String(ft.maxLagMs));
  return args;
}

export class HostAgent {
  private lease: HostLease | undefined;
  private stopLease: (() => void) | undefined;
  private watch: Watch | undefined;
  private scan: ReturnType<typeof setInterval> | undefined;
  private readonly children = new Map<number, RoleChild>();
  private readonly seen = new Set<string>();
  private stopping = false;
  /** Taken out of service (SIGTERM): its roles are being handed over, new spawn requests are refused. */
  private draining = false;
  private finished: ((code: number) => void) | undefined;
  private readonly done: Promise<number>;
  private scanning = false;
  private spare: Spare | undefined;
  /** This host's channel TLS setting (HostRecord.tls). */
  private tls: string | null = null;
  private spareTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: HostAgentOptions) {
    this.done = new Promise((r) => { this.finished = r; });
  }

  private say(text: string): void { this.o.stderr.write(`x86ft host ${this.o.id}: ${text}\n`); }

  /** Registers the host (ControlError HOST_EXISTS when a live agent holds the id) and starts serving requests. */
  async start(): Promise<void> {
    const cp = this.o.control;
    this.tls = tlsSetting(this.o.tls && { ca: readFileSync(this.o.tls.ca) });
    this.lease = await cp.registerHost({ id: this.o.id, addr: this.o.listenHost, pid: process.pid, tls: this.tls }, this.o.leaseMs);
    this.stopLease = keepLease(this.lease, (err) => this.leaseLost(err));
    this.watch = await cp.watch((ev) => this.onEvent(ev));
    this.scan = setInterval(() => void this.scanRequests(), SCAN_MS);
    this.say(`registered (lease ${this.o.leaseMs} ms, pid ${process.pid}, process group ${processGroup()}); waiting for spawn requests`);
    void this.scanRequests();
    if (this.o.spare !== false) this.startSpare();
  }

  /** Resolves with the exit status once the agent has stopped (SIGTERM: stop(); lease lost). */
  run(): Promise<number> { return this.done; }

  /** Roles running now, by role (its --metrics). */
  running(): { primary: number; secondary: number } {
    const n = { primary: 0, secondary: 0 };
    for (const c of this.children.values()) if (!c.done) n[c.role]++;
    return n;
  }

  /** pids of the roles running now. */
  get rolePids(): number[] { return [...this.children.values()].filter((c) => !c.done).map((c) => c.child.pid!); }

  private onEvent(ev: ControlEvent): void {
    if (this.stopping) return;
    if (ev.kind === 'spawn' && ev.entry) void this.consider(ev.entry);
    else if (ev.kind === 'vm' && ev.record) this.fence(ev.record);
  }

  private async scanRequests(): Promise<void> {
    if (this.scanning || this.stopping) return;
    this.scanning = true;
    try {
      for (const e of await this.o.control.listSpawns({ host: this.o.id, undecided: true })) await this.consider(e);
      const vms = new Set([...this.children.values()].filter((c) => !c.done).map((c) => c.vm));
      for (const vm of vms) { const r = await this.o.control.readVm(vm); if (r) this.fence(r); }
    } catch (e) {
      if (!(e instanceof ControlError && e.code === 'CLOSED')) this.say(`control plane: ${(e as Error).message}`);
    } finally { this.scanning = false; }
  }

  /** Acts once on each undecided request for this host. */
  private async consider(entry: SpawnEntry): Promise<void> {
    const r = entry.request;
    if (entry.decision || r.host !== this.o.id || this.seen.has(r.id) || this.stopping) return;
    this.seen.add(r.id);
    const cp = this.o.control;
    const refuse = this.refusal(r) ?? await this.endedRefusal(r) ?? await this.tlsRefusal(r);
    if (refuse) {
      const d = await cp.decideSpawn(r.id, { kind: 'rejected', by: this.o.id, at: Date.now(), reason: refuse, pid: null }).catch(() => undefined);
      if (d?.kind === 'rejected' && d.by === this.o.id) { this.say(`refused to start a ${r.role} of '${r.vm}': ${refuse}`); this.o.onCount?.('refused', r.role); }
      return;
    }
    // Start first (fork+exec returns the pid at once; the role needs far longer to do anything), then record
    // the one decision: if the requester withdrew first, the child is killed before it acts.
    const rc = this.startRole(r);
    let d;
    try {
      d = await cp.decideSpawn(r.id, { kind: 'accepted', by: this.o.id, at: Date.now(), reason: null, pid: rc.child.pid ?? null });
    } catch (e) {
      this.say(`control plane: ${(e as Error).message}; not starting the ${r.role} of '${r.vm}'`);
      rc.child.kill('SIGKILL');
      return;
    }
    if (d.kind !== 'accepted' || d.by !== this.o.id) {
      rc.child.kill('SIGKILL');
      this.say(`spawn request ${r.id} was ${d.kind} by ${d.by} first; the ${r.role} of '${r.vm}' was not started`);
      return;
    }
    this.say(`started the ${r.role} of '${r.vm}' (generation ${r.generation}) as pid ${rc.child.pid}`);
    this.o.onCount?.('started', r.role);
  }

  /** A secondary for a primary whose host's roles use another channel TLS setting could never join it: refused
   *  (placement leaves such hosts out; this is the agent's check again, as for anti-affinity). */
  private async tlsRefusal(r: SpawnRequest): Promise<string | undefined> {
    if (r.role !== 'secondary' || !r.primary) return undefined;
    const ph = (await this.o.control.listHosts().catch(() => [])).find((h) => h.id === r.primary!.host);
    if (!ph || !tlsDiffers(ph, this.tls)) return undefined;
    return `the primary's host ${ph.id} uses ${describeTls(ph.tls)} and this host ${describeTls(this.tls)}: its secondary could never join (give every host agent the same --tls-* files or none)`;
  }

  /** Why this host must not start `r` (undefined: it may). Anti-affinity is checked here again (FT.md). */
  private refusal(r: SpawnRequest): string | undefined {
    if (this.draining) return `host ${this.o.id} is being taken out of service (its roles are handed over)`;
    if (r.notHosts.includes(this.o.id)) return `host ${this.o.id} is excluded (anti-affinity: never both roles on one host)`;
    if (r.role === 'secondary' && r.primary?.host === this.o.id) return `the primary runs on this host (${this.o.id}): anti-affinity`;
    if (r.config.hosts && !r.config.hosts.includes(this.o.id)) return `host ${this.o.id} is not in the VM's --hosts (${r.config.hosts.join(',')})`;
    if (Date.now() - r.postedAt > STALE_REQUEST_MS) return `the request is ${Math.round((Date.now() - r.postedAt) / 1000)} s old (stale)`;
    if (!existsSync(r.config.image)) return `the guest image ${r.config.image} is not reachable from this host`;
    if (!existsSync(r.config.store)) return `the store ${r.config.store} is not reachable from this host`;
    return undefined;
  }

  private get cli(): string { return this.o.cli ?? fileURLToPath(new URL('../cli/main.js', import.meta.url)); }

  /** Starts the warm spare (main.ts spareArgv); its stderr is forwarded with its role's prefix once it has one. */
  private startSpare(): void {
    this.spareTimer = undefined;
    if (this.stopping || this.draining || this.spare) return;
    // same process group as the agent (no detached): kill -9 -- -PGID takes the whole host down
    const child = spawn(process.execPath, [this.cli], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, X86FT_SPARE: '1' } });
    const sp: Spare = { child, ready: false, flush: () => undefined };
    this.spare = sp;
    child.on('message', (m: { t?: string }) => {
      if (m?.t !== 'ready' || sp.ready) return;
      sp.ready = true;
      this.say(`warm spare pid ${child.pid} ready (node started, the roles' modules loaded)`);
    });
    const flush = sp.flush = forwardStderrLines(child, (line) => (sp.rc ? `[${this.seeLine(sp.rc, line)} of ${sp.rc.vm} pid ${child.pid}] ` : `[spare pid ${child.pid}] `), this.o.stderr);
    const gone = (how: string): void => {
      if (sp.rc) return; // a role now: its own exit handler reports it
      flush();
      if (this.spare === sp) this.spare = undefined;
      if (this.stopping || this.draining || sp.ended) return;
      this.say(`the warm spare (pid ${child.pid}) ${how}; starting another in ${SPARE_RESTART_MS} ms`);
      this.spareLater();
    };
    child.on('error', (e) => gone(`could not start: ${e.message}`));
    child.on('exit', (code, sig) => gone(sig ? `was killed by ${sig}` : `exited with status ${code}`));
  }

  private spareLater(): void {
    if (this.o.spare === false || this.spareTimer || this.stopping) return;
    this.spareTimer = setTimeout(() => this.startSpare(), SPARE_RESTART_MS);
    this.spareTimer.unref();
  }

  /** The ready warm spare, taken (a new one is started later), or undefined. */
  private takeSpare(): Spare | undefined {
    const sp = this.spare;
    if (!sp?.ready || !sp.child.connected) return undefined;
    this.spare = undefined;
    this.spareLater();
    return sp;
  }

  /** A secondary for a VM that has ended (its guest ended while the request was on its way) is not started. */
  private async endedRefusal(r: SpawnRequest): Promise<string | undefined> {
    if (r.role !== 'secondary') return undefined; // a primary creates its VM
    const rec = await this.o.control.readVm(r.vm).catch(() => undefined);
    if (rec?.state === 'ended') return `FT VM '${r.vm}' has ended`;
    return undefined;
  }

  /** A role's stderr line: the role it names (a secondary gone live is the primary), and whether it handed over
   *  (it then ends by itself: stop() does not signal it). Returns the role for the line's prefix. */
  private seeLine(rc: RoleChild, line: string): 'primary' | 'secondary' {
    rc.role = roleNamed(line) ?? rc.role;
    if (/^x86ft ft primary: stopping: handed over to /.test(line)) rc.handingOver = true;
    return rc.role;
  }

  private startRole(r: SpawnRequest): RoleChild {
    const argv = roleArgs(r, this.o.spec, this.o.id, this.o.listenHost, this.o.tls);
    // a secondary (the respawn path) goes to the warm spare; a primary is started with its command line, so its
    // /proc/PID/cmdline names it (killOldPrimary fences a same-machine old primary by that)
    const sp = r.role === 'secondary' ? this.takeSpare() : undefined;
    let child: ChildProcess, flushStderr: () => void;
    if (sp) {
      child = sp.child;
      flushStderr = sp.flush; // its forwarder names the role from now on (sp.rc)
      sp.child.send({ t: 'run', argv });
    } else {
      // same process group as the agent (no detached): kill -9 -- -PGID takes the whole host down
      child = spawn(process.execPath, [this.cli, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
      // the prefix follows the role the process names (a secondary gone live is the primary)
      flushStderr = forwardStderrLines(child, (line) => `[${this.seeLine(rc, line)} of ${r.vm} pid ${child.pid}] `, this.o.stderr);
    }
    const rc: RoleChild = {
      child, vm: r.vm, role: r.role, spawnId: r.id, primaryAt: 0, done: false,
      exited: new Promise((resolve) => {
        const end = (how: string): void => {
          if (rc.done) return;
          rc.done = true;
          flushStderr();
          // (while stopping, only a primary that handed over: whether it ended by itself)
          if (!this.stopping || rc.handingOver) this.say(`the ${rc.role} of '${r.vm}' (pid ${child.pid}) ${how}`);
          if (rc.handoverKill) clearTimeout(rc.handoverKill);
          if (child.pid !== undefined) void this.forgetSecondary(r.vm, child.pid, how);
          resolve();
        };
        child.on('error', (e) => end(`could not start: ${e.message}`));
        child.on('exit', (code, sig) => end(sig ? `was killed by ${sig}` : `exited with status ${code}`));
      }),
    };
    if (sp) sp.rc = rc;
    if (child.pid !== undefined) this.children.set(child.pid, rc);
    return rc;
  }

  /** A secondary of ours that exited while the VM's record still names it: the record must not go on showing it
   *  (ft status said `starting-secondary` with a secondary that had exited, and a VM whose primary's host had
   *  gone was never judged lost). Only that exact process (host id and pid) is taken out, never a later one. */
  private async forgetSecondary(vm: string, pid: number, how: string): Promise<void> {
    const id = this.o.id;
    await updateVm(this.o.control, vm, (rec) => {
      // pid 0: the primary named this host's secondary before it recorded itself (its write can be refused for
      // good: a record behind a newer claim), so it is ours when no other secondary of that VM runs here
      const unnamed = rec.secondary?.pid === 0 && ![...this.children.values()].some((c) => !c.done && c.vm === vm && c.role === 'secondary');
      if (rec.state === 'ended' || rec.secondary?.host !== id || (rec.secondary.pid !== pid && !unnamed)) return undefined;
      const state = rec.state === 'protected' || rec.state === 'starting-secondary' ? 'not-protected' : rec.state;
      return { ...rec, secondary: null, state, reason: `the secondary on host ${id} (pid ${pid}) ${how}` };
    }).catch(() => undefined); // the VM's record may be gone (a name reused) or the control plane away: nothing to correct
  }

  /** Fencing through the host agent (FT.md): a role of ours that was the VM's primary at generation g, while the
   *  record now names another primary at a later generation, is killed (it may be stalled, or cut off). */
  private fence(rec: VmRecord): void {
    for (const c of this.children.values()) {
      if (c.done || c.vm !== rec.name) continue;
      const ours = rec.primary?.host === this.o.id && rec.primary.pid === c.child.pid;
      if (ours) { c.primaryAt = rec.generation; continue; }
      if (c.primaryAt > 0 && rec.generation > c.primaryAt && rec.state !== 'ended') {
        // a planned hand-over asked of that generation: the old primary fenced itself and ends on its own (status 4);
        // killing it at once would race its own exit (a stalled one is still killed, after HANDOVER_EXIT_MS)
        if (rec.failoverRequested?.generation === c.primaryAt) {
          if (!c.handoverKill) {
            c.handingOver = true;
            c.handoverKill = setTimeout(() => {
              if (c.done) return;
              this.say(`our old primary pid ${c.child.pid} of '${rec.name}' handed over but did not end within ${HANDOVER_EXIT_MS} ms; killing it (fencing)`);
              c.child.kill('SIGKILL');
              this.o.onCount?.('fenced', c.role);
            }, HANDOVER_EXIT_MS);
            c.handoverKill.unref();
          }
          continue;
        }
        this.say(`'${rec.name}' generation ${rec.generation} has primary ${rec.primary ? `${rec.primary.host} pid ${rec.primary.pid}` : '(none)'}; killing our old primary pid ${c.child.pid} (fencing)`);
        c.child.kill('SIGKILL');
        c.primaryAt = 0;
        this.o.onCount?.('fenced', c.role);
      }
    }
  }

  private leaseLost(err: ControlError): void {
    if (this.stopping) return;
    this.say(`lost the lease (${err.message}): killing every role on this host (FT.md "Fencing")`);
    this.stopping = true;
    for (const c of this.children.values()) if (!c.done) c.child.kill('SIGKILL');
    this.endSpare('SIGKILL');
    void this.shutdown(HOST_EXIT.leaseLost, false);
  }

  /** SIGTERM/SIGINT, first step: refuse new roles from now on (the CLI then hands the running ones over, as
   *  `host drain` does, and calls stop()). The lease is kept meanwhile: the roles still run here. */
  beginDrain(): void {
    if (this.stopping || this.draining) return;
    this.draining = true;
    this.endSpare('SIGTERM');
    this.say('taking this host out of service: handing its roles over to other hosts, refusing new ones');
  }

  /** SIGTERM/SIGINT: stop the roles cleanly (SIGTERM; SIGKILL after `graceMs`; a primary that handed over is not
   *  signalled, it ends by itself: SIGKILL only after HANDOVER_EXIT_MS), release the lease, exit 130. */
  stop(graceMs = 5000): void {
    if (this.stopping) return;
    this.stopping = true;
    void this.stopRoles(graceMs);
  }

  private async stopRoles(graceMs: number): Promise<void> {
    // the records first: a primary here that handed over (host drain just now) ends on its own, not by SIGTERM
    const vms = new Set([...this.children.values()].filter((c) => !c.done).map((c) => c.vm));
    const recs = new Map<string, VmRecord>();
    await Promise.all([...vms].map(async (vm) => { const r = await this.o.control.readVm(vm).catch(() => undefined); if (r) recs.set(vm, r); }));
    for (const c of this.children.values()) {
      const r = recs.get(c.vm);
      // a primary of ours that the record no longer names (handed over): it fenced itself and ends on its own
      if (!c.done && r && r.state !== 'ended' && c.role === 'primary' && r.primary?.pid !== c.child.pid) c.handingOver = true;
    }
    const live = [...this.children.values()].filter((c) => !c.done);
    this.say(`stopping${live.length ? `: ending ${live.length} role(s)` : ''}`);
    for (const c of live) if (!c.handingOver) c.child.kill('SIGTERM');
    this.endSpare('SIGTERM');
    setTimeout(() => { for (const c of live) if (!c.done && !c.handingOver) c.child.kill('SIGKILL'); }, graceMs).unref();
    setTimeout(() => { for (const c of live) if (!c.done) c.child.kill('SIGKILL'); }, Math.max(graceMs, HANDOVER_EXIT_MS)).unref();
    void this.shutdown(HOST_EXIT.stopped, true);
  }

  /** Ends the waiting spare (it has no role: nothing to hand over). */
  private endSpare(sig: NodeJS.Signals): void {
    if (this.spareTimer) clearTimeout(this.spareTimer);
    this.spareTimer = undefined;
    const sp = this.spare;
    this.spare = undefined;
    if (sp && !sp.rc) { sp.ended = true; sp.child.kill(sig); }
  }

  private async shutdown(code: number, release: boolean): Promise<void> {
    this.stopLease?.();
    if (this.scan) clearInterval(this.scan);
    await Promise.all([...this.children.values()].map((c) => c.exited));
    await this.watch?.close().catch(() => undefined);
    if (release) await this.lease?.release().catch(() => undefined);
    this.finished?.(code);
  }
}

/** This process's group id (/proc/self/stat field 5; Node has no getpgid), '?' when unknown. */
export function processGroup(pid: number | 'self' = 'self'): string {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[2] ?? '?';
  } catch { return '?'; }
}
