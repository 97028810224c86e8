// `x86ft ft primary|secondary`: the two fault-tolerance roles as processes (src/ft/primary.ts,
// src/ft/secondary.ts). Messages go to stderr; the console goes to the console file.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ElfError } from '../machine/boot.js';
import { checkName, openControl, parseControlSpec, updateVm, type ControlPlane, type FtOptions, type PlannedRequest, type VmConfig, type VmRecord, type Watch } from '../ft/control.js';
import { FtPrimary } from '../ft/primary.js';
import { FtSecondary, SecondaryRefused } from '../ft/secondary.js';
import { exportDiskCommand } from './ft-export-disk.js';
import { DEFAULT_FT_OPTIONS } from '../ft/vm-host.js';
import { FT_EXIT, setVmState, type RoleEvent, type RoleOutcome } from '../ft/role.js';
import { parseCount, parseMetricsPort } from './args.js';
import { ftOptions } from './ft-options.js';
export { ftOptions };
import { ftStatusCommand } from './ft-status.js';
import { ftManageCommand } from './ft-manage.js';
import { publishStatus } from '../ft/status-publisher.js';
import { ConsoleHost } from '../ft/console-host.js';
import { parseHostArgs, MACHINE_HELP_NO_CONSOLE } from './host.js';
import { exitCodeFor } from './run.js';
import { usageLine, suggest, UsageError } from './usage.js';
import { ftInitCommand, tlsFromArgs, TLS_HELP, TLS_KEYS } from './ft-init.js';
import type { FtTlsOptions } from '../ft/channel.js';
// prom-client loads only with --metrics (src/ft/metrics.ts)
import type { RoleMetrics, MetricsServer } from '../ft/metrics.js';
import type { RoleStatus } from '../ft/role.js';
import { historyWriter, type HistoryWriter } from '../ft/history.js';
import { onStopSignal } from './signals.js';

const METRICS_HELP = `  --metrics PORT          serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0 = any free port;
                          the address goes to stderr): generation, state, lag, held outputs, log
                          bytes and bit rate, heartbeat age, failovers, divergences (README "Metrics")`;

function metricsFromArgs(str: (k: string) => string | undefined): number | undefined {
  const v = str('--metrics');
  return v === undefined ? undefined : parseMetricsPort(v);
}

/** Starts the role's metrics endpoint (when asked) and returns its event tap; `end` closes it. */
async function startMetrics(port: number | undefined, role: string, vm: string, hostId: string, heartbeatMs: number, status: () => RoleStatus | undefined):
  Promise<{ metrics?: RoleMetrics; server?: MetricsServer; tap: (next: (e: RoleEvent) => void) => (e: RoleEvent) => void }> {
  if (port === undefined) return { tap: (next) => next };
  const { RoleMetrics, serveMetrics } = await import('../ft/metrics.js');
  const metrics = new RoleMetrics({ vm, hostId, status, heartbeatMs });
  const server = await serveMetrics(metrics.registry, port);
  process.stderr.write(`x86ft ft ${role}: metrics on http://${server.host}:${server.port}/metrics\n`);
  return { metrics, server, tap: (next) => (e) => { metrics.observe(e); next(e); } };
}

const FT_OPTS_HELP = `  --heartbeat-ms N        heartbeat period (default ${DEFAULT_FT_OPTIONS.heartbeatMs})
  --failure-timeout-ms N  silence after which the peer counts as failed (default ${DEFAULT_FT_OPTIONS.failureTimeoutMs})
  --max-held-bytes SIZE   outputs held for acks before the guest is slowed (default 4M)
  --max-held-ms N         age of the oldest held output before the guest is slowed (default ${DEFAULT_FT_OPTIONS.maxHeldMs})
  --max-lag-ms N          ms of execution the secondary has not acked before the guest is slowed (default ${DEFAULT_FT_OPTIONS.maxLagMs})`;

const EXIT_HELP = `exit status: the guest's debug-exit status when it ends (124 budget, 125 halt, 126 guest fault,
127 internal error, as 'x86ft run'); ${FT_EXIT.usage} bad arguments, an unusable image/disk/port, the VM already
running (its primary is named), or a secondary on the primary's host; ${FT_EXIT.diverged} the secondary found a
divergence (it told the primary and stopped; it never claims); ${FT_EXIT.fenced} another host holds the
generation this role needed (lost claim, or the generation moved on while its acks stalled): it stopped
at once, releasing nothing more; ${FT_EXIT.io} a storage or control-plane error; ${FT_EXIT.stopped} SIGINT/SIGTERM.`;

const HELP = `usage: x86ft ft primary <guest.elf> --control dir:PATH --listen ADDR --host-id ID [--vm NAME]
                         [--console-file FILE] [--store PATH] [FT options] [machine options]
       x86ft ft secondary --control dir:PATH [--connect ADDR] --host-id ID [--vm NAME] [FT options]
       x86ft ft export-disk [NAME] --out FILE [--disk N] [--control SPEC]   (see its --help)
       x86ft ft init --control SPEC [--hosts ID,...]   cluster secret, CA and host certificates (see its --help)
       x86ft ft status [NAME] [--json] [--watch]      (see its --help)
       x86ft ft start|wait|stop|list|failover|restart-secondary …  an FT VM on a cluster of host agents (see 'x86ft ft start --help')

The two roles of a fault-tolerant VM (FT.md). The primary creates VM NAME (default 'default':
it claims the VM's first generation; exit ${FT_EXIT.usage} naming the running primary if there is one),
waits for its secondary, then runs the guest: its log goes to STORE/vms/NAME/gen-<g>.log and to
the secondary, and every output (console byte, frame, disk write, flush) is released only after
the secondary acked the instruction that produced it. The secondary replays in lockstep; when
the primary fails it claims the next generation, kills the old primary if it runs on this machine,
goes live where the primary's log ends, re-issues the outputs the primary may not have completed,
and runs on as the primary (not protected). When the secondary fails the primary claims the next
generation and runs on alone. The console goes to the console file (byte n at offset n), never
doubled or lost across a failover; disks are written through per-generation layers in the store
('x86ft replay --control dir:PATH NAME' replays the generations as one run).

  --control dir:PATH      the control plane (claims, VM records, the cluster secret)
  --store PATH            shared storage for logs, layers, console (default: the dir: path)
  --listen HOST:PORT      primary: channel address for the secondary (port 0 = any); secondary with
                          --place: where it listens for a new secondary once it is the primary
  --connect HOST:PORT     secondary: the primary's channel address (default: from the VM record)
  --host-id ID            this host's id (default the hostname); the secondary's must differ
  --vm NAME               the FT VM (default 'default')
  --console-file FILE     primary: the console file (default STORE/vms/NAME/console); truncated at creation
  --digest-every N        instructions between digests in the log (default 1M)
${TLS_HELP}
${METRICS_HELP}
  --place                 place the secondary, and a new one whenever it is lost (also after this
                          secondary took over), on another registered host through its agent; the new
                          one joins from a live snapshot (roles started by 'x86ft host' do)
  --hosts ID,…            primary: the hosts the VM's roles may run on (VM-host affinity)
${FT_OPTS_HELP}
machine options (primary; the secondary takes them from the VM record):
${MACHINE_HELP_NO_CONSOLE}

${EXIT_HELP}
`;

function parseAddr(s: string, what: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`${what} expects HOST:PORT (got '${s}')`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** The VM configuration `ft primary` / `ft start` options describe (paths made absolute). */
export function vmConfigOf(o: ReturnType<typeof parseHostArgs>, args: string[], image: Buffer, store: string, ft: FtOptions): VmConfig {
  const str = (k: string): string | undefined => { const v = o.rest.get(k); return typeof v === 'string' ? v : undefined; };
  const hosts = str('--hosts');
  if (hosts !== undefined) for (const h of hosts.split(',')) checkName('--hosts: host id', h);
  return {
    image: resolve(o.file!), imageSha256: createHash('sha256').update(image).digest('hex'),
    memorySize: o.mem, cmdline: o.cmdline,
    disks: o.disks.map((d) => `${resolve(d.path)}${d.readOnly ? ':ro' : ''}`),
    nets: args.filter((_, k) => args[k - 1] === '--net'),
    consoleFile: str('--console-file') ? resolve(str('--console-file')!) : null,
    store, ft, hosts: hosts === undefined ? null : hosts.split(','),
  };
}


export const FT_KEYS = ['--control', '--store', '--listen', '--connect', '--host-id', '--vm', '--console-file', '--digest-every', '--hosts',
  '--heartbeat-ms', '--failure-timeout-ms', '--max-held-bytes', '--max-held-ms', '--max-lag-ms', '--metrics', ...TLS_KEYS];

/** Appends the role's events to the VM's history (src/ft/history.ts), then `next`. */
function withHistory(h: HistoryWriter, next: (e: RoleEvent) => void): (e: RoleEvent) => void {
  return (e) => { h.observe(e); next(e); };
}

function roleOf(r: { status(): RoleStatus } | undefined): { generation: number; role: 'primary' | 'secondary' } | undefined {
  const st = r?.status();
  return st && { generation: st.generation, role: st.role };
}

/** Feeds the role's 'input-consumed' events to the console host, then `next`. */
function withConsole(host: ConsoleHost, next: (e: RoleEvent) => void): (e: RoleEvent) => void {
  return (e) => {
    if (e.kind === 'input-consumed') host.consumed(e.through);
    next(e);
  };
}

/** The role this process plays now: a secondary that went live is the primary from then on (its messages say so;
 *  a supervisor or host agent forwarding them relabels its prefix from them, see forwardStderrLines). */
interface RoleLabel { now: 'primary' | 'secondary' }

function say(label: RoleLabel): (e: RoleEvent) => void {
  return (e) => {
    if (e.kind === 'input-consumed') return; // for console services (x86ft protect / console)
    const text = e.kind === 'message' ? e.text
      : e.kind === 'state' ? `state ${e.state}, generation ${e.generation}`
      : e.kind === 'peer' ? `${e.up ? 'peer up' : 'peer lost'}: ${e.hostId}${e.reason ? ` (${e.reason})` : ''}`
      : `live at instruction ${e.icount} as generation ${e.generation}${label.now === 'secondary' ? ' (now the primary)' : ''}: ${e.reissued} output(s) re-issued, failover took ${e.failoverMs} ms`;
    process.stderr.write(`x86ft ft ${label.now}: ${text}\n`);
    if (e.kind === 'live') label.now = 'primary';
  };
}

function exitFor(role: string, out: RoleOutcome): number {
  switch (out.kind) {
    case 'ended': return exitCodeFor(out.result);
    case 'fenced': process.stderr.write(`x86ft ft ${role}: ${out.message}\n`); return FT_EXIT.fenced;
    case 'diverged': return FT_EXIT.diverged;
    case 'peer-ended': return out.status ?? 0;
    case 'stopped': return FT_EXIT.stopped;
  }
}

/** A primary stopped before its guest ran (e.g. 'ft stop' while it waited for a secondary) ends the VM it created. */
async function endIfStopped(cp: ControlPlane, vm: string, out: RoleOutcome): Promise<RoleOutcome> {
  if (out.kind === 'stopped') await setVmState(cp, vm, (r) => { if (r.primary?.pid === process.pid && r.state !== 'ended') { r.state = 'ended'; r.reason = 'stopped'; r.exitStatus = null; } });
  return out;
}

const SUBS = ['start', 'wait', 'stop', 'list', 'failover', 'restart-secondary', 'status', 'init', 'primary', 'secondary', 'export-disk'];

/** The backup poll of a role's own VM record (the watch brings a request at once; this, one a watch missed). */
const REQUEST_POLL_MS = 2000;

/**
 * `x86ft ft stop|failover|restart-secondary`: the role that is the VM's primary acts when its record asks
 * (watched: dir through fs.watch, etcd pushed; a slow poll covers a watch that could not be set up): stop
 * powers the guest off; a planned failover or secondary restart is asked of one generation's primary and
 * done once (FtPrimary.handOver / restartSecondary), the request marked `actedAt` or `refused` (why).
 */
function watchRequests(cp: ControlPlane, vm: string, signal: { aborted: boolean }, role: { handOver(reason: string): boolean; restartSecondary(reason: string, avoid?: string): boolean; status(): RoleStatus }): () => void {
  let busy = false, closed = false, watch: Watch | undefined;
  const done = new Set<string>();
  const act = (r: VmRecord | undefined): void => {
    if (!r || r.primary?.pid !== process.pid || r.state === 'ended' || signal.aborted) return;
    if (r.stopRequested) {
      process.stderr.write(`x86ft ft: 'ft stop' asked for VM '${vm}' to be powered off\n`);
      signal.aborted = true;
      return;
    }
    const f = r.failoverRequested, s = r.restartSecondaryRequested;
    // once per request: acted, or refused and said so in the record (the asking command reports which)
    const ask = (field: 'failoverRequested' | 'restartSecondaryRequested', q: PlannedRequest | null | undefined, doIt: () => boolean): void => {
      const key = `${field}${q?.at}`;
      if (!q || q.generation !== r.generation || q.actedAt !== undefined || q.refused !== undefined || done.has(key)) return;
      done.add(key);
      const st = role.status().state;
      const mark = doIt() ? { actedAt: Date.now() } : { refused: `the primary is ${st}${st === 'protected' ? '' : ' (no secondary paired)'}; nothing done` };
      void updateVm(cp, vm, (x) => (x[field]?.at === q.at ? { ...x, [field]: { ...x[field], ...mark } } : undefined)).catch(() => undefined);
    };
    ask('failoverRequested', f, () => role.handOver(f!.avoid ? `host ${f!.avoid} leaves service ('host drain ${f!.avoid}' or its agent stopping)` : "'ft failover' asked for a test failover"));
    ask('restartSecondaryRequested', s, () => role.restartSecondary(s!.avoid ? `'host drain ${s!.avoid}' asked for a secondary elsewhere` : "'ft restart-secondary' asked for a new secondary", s!.avoid));
  };
  const poll = (): void => {
    if (busy || signal.aborted) return;
    busy = true;
    cp.readVm(vm).then(act, () => undefined).finally(() => { busy = false; });
  };
  // (a read once the watch is up: a request written before it)
  cp.watch((ev) => { if (ev.kind === 'vm' && ev.name === vm) act(ev.record); }, { vm }).then((w) => { if (closed) void w.close(); else { watch = w; poll(); } }, () => undefined);
  const t = setInterval(poll, REQUEST_POLL_MS);
  t.unref();
  return () => { closed = true; clearInterval(t); void watch?.close(); };
}

export async function ftCommand(argv: string[]): Promise<number> {
  const [sub, ...args] = argv;
  if (sub === 'status') return ftStatusCommand(args);
  if (sub === 'export-disk') return exportDiskCommand(args);
  if (sub === 'init') return ftInitCommand(args);
  if (sub === 'start' || sub === 'wait' || sub === 'stop' || sub === 'list' || sub === 'failover' || sub === 'restart-secondary') return ftManageCommand(sub, args);
  if (sub === undefined) {
    // a usage error like any other: one line on stderr (the help is one option away)
    process.stderr.write(usageLine('ft', `missing subcommand (${SUBS.join(', ')})`, HELP));
    return FT_EXIT.usage;
  }
  if (sub === '--help' || sub === '-h' || ((sub === 'primary' || sub === 'secondary') && (args.includes('--help') || args.includes('-h')))) {
    process.stdout.write(HELP);
    return 0;
  }
  if (sub !== 'primary' && sub !== 'secondary') {
    process.stderr.write(usageLine('ft', `unknown subcommand '${sub}' (${SUBS.join(', ')})${suggest(sub, SUBS)}`, HELP));
    return FT_EXIT.usage;
  }
  const role = sub;
  let control: ControlPlane | undefined;
  let stopMetrics: (() => Promise<void> | undefined) | undefined;
  const signal = { aborted: false };
  const unlisten = onStopSignal(() => { signal.aborted = true; }, { once: true });
  const label: RoleLabel = { now: role };
  try {
    let o: ReturnType<typeof parseHostArgs>;
    let spec: string, hostId: string, vm: string, store: string, ft: FtOptions, digestEvery: number | undefined;
    let tls: FtTlsOptions | undefined, metricsPort: number | undefined;
    try {
      // the secondary has no guest ELF argument: parse as if it had one
      o = parseHostArgs(role === 'secondary' ? ['(secondary)', ...args] : args, FT_KEYS, ['--place']);
      const str = (k: string): string | undefined => { const v = o.rest.get(k); return typeof v === 'string' ? v : undefined; };
      const s = str('--control');
      if (s === undefined) throw new UsageError('--control dir:PATH is required');
      const parsed = parseControlSpec(s);
      spec = s;
      store = resolve(str('--store') ?? (parsed.kind === 'dir' ? parsed.path : ''));
      if (!str('--store') && parsed.kind !== 'dir') throw new UsageError('--store PATH is required with an etcd: control plane');
      hostId = str('--host-id') ?? hostname();
      vm = str('--vm') ?? 'default';
      ft = ftOptions(o.rest);
      const de = str('--digest-every');
      digestEvery = de === undefined ? undefined : parseCount(de, '--digest-every');
      if (role === 'primary' && str('--listen') === undefined) throw new UsageError('--listen HOST:PORT is required');
      if (role === 'primary') parseAddr(str('--listen')!, '--listen');
      if (str('--connect') !== undefined) parseAddr(str('--connect')!, '--connect');
      tls = tlsFromArgs(str);
      metricsPort = metricsFromArgs(str);
    } catch (e) {
      process.stderr.write(usageLine(`ft ${role}`, (e as Error).message, HELP));
      return FT_EXIT.usage;
    }
    const str = (k: string): string | undefined => { const v = o.rest.get(k); return typeof v === 'string' ? v : undefined; };
    try {
      control = await openControl(spec);
    } catch (e) {
      process.stderr.write(`x86ft ft ${role}: ${(e as Error).message}\n`);
      return FT_EXIT.usage;
    }
    // the console service (x86ft console, x86ft protect) runs wherever this role runs the guest live
    const consoleHost = new ConsoleHost({ control, vm, hostId, onMessage: (text) => process.stderr.write(`x86ft ft ${label.now}: ${text}\n`) });
    if (role === 'primary') {
      let image: Buffer;
      try { image = readFileSync(o.file!); } catch (e) {
        process.stderr.write(`x86ft ft primary: ${o.file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}\n`);
        return FT_EXIT.usage;
      }
      const config = vmConfigOf(o, args, image, store, ft);
      let p: FtPrimary | undefined;
      const m = await startMetrics(metricsPort, role, vm, hostId, ft.heartbeatMs, () => p?.status()).catch((e: Error) => e);
      if (m instanceof Error) { process.stderr.write(`x86ft ft ${role}: ${m.message}\n`); return FT_EXIT.usage; }
      const hist = historyWriter(control, vm, hostId, () => roleOf(p));
      p = new FtPrimary({ vm, config, control, hostId, listen: parseAddr(str('--listen')!, '--listen'), tls, digestEvery, onEvent: m.tap(withHistory(hist, withConsole(consoleHost, say(label)))), signal, consoleInput: consoleHost, place: o.rest.has('--place') });
      stopMetrics = () => m.server?.close();
      try { await p.start(); } catch (e) {
        const what = e instanceof ElfError ? `${o.file}: ` : '';
        process.stderr.write(`x86ft ft primary: ${what}${(e as Error).message}\n`);
        return (e as { code?: string }).code === 'VM_EXISTS' || e instanceof ElfError || /cannot listen|no such file|cannot open/i.test((e as Error).message) ? FT_EXIT.usage : FT_EXIT.io;
      }
      const primary = p;
      const unpublish = publishStatus(control, vm, () => primary.status());
      const unwatch = watchRequests(control, vm, signal, primary);
      try { const out = await endIfStopped(control, vm, await p.run()); m.metrics?.outcome(out); await hist.outcome(out); return exitFor('primary', out); } finally { unpublish(); unwatch(); }
    }
    let s: FtSecondary | undefined;
    const m = await startMetrics(metricsPort, role, vm, hostId, ft.heartbeatMs, () => s?.status()).catch((e: Error) => e);
      if (m instanceof Error) { process.stderr.write(`x86ft ft ${role}: ${m.message}\n`); return FT_EXIT.usage; }
    stopMetrics = () => m.server?.close();
    const hist = historyWriter(control, vm, hostId, () => roleOf(s));
    s = new FtSecondary({ vm, control, hostId, place: o.rest.has('--place'), listen: str('--listen') ? parseAddr(str('--listen')!, '--listen') : undefined, connect: str('--connect') ? parseAddr(str('--connect')!, '--connect') : undefined, tls, digestEvery, onEvent: m.tap(withHistory(hist, withConsole(consoleHost, say(label)))), signal, consoleInput: consoleHost });
    try { await s.start(); } catch (e) {
      process.stderr.write(`x86ft ft secondary: ${(e as Error).message}\n`);
      return e instanceof SecondaryRefused ? FT_EXIT.usage : FT_EXIT.io;
    }
    // the VM's heartbeat period is in its record (the secondary's --heartbeat-ms is not used)
    const hb = (await control.readVm(vm).catch(() => undefined))?.config.ft.heartbeatMs;
    if (hb !== undefined) m.metrics?.setHeartbeatMs(hb);
    const secondary = s;
    const unpublish = publishStatus(control, vm, () => secondary.status());
    const unwatch = watchRequests(control, vm, signal, secondary);
    try { const out = await endIfStopped(control, vm, await s.run()); m.metrics?.outcome(out); await hist.outcome(out); return exitFor(label.now, out); } finally { unpublish(); unwatch(); }
  } catch (e) {
    process.stderr.write(`x86ft ft ${label.now}: ${(e as Error).message}\n`);
    return FT_EXIT.io;
  } finally {
    unlisten();
    await stopMetrics?.()?.catch(() => undefined);
    await control?.close().catch(() => undefined);
  }
}

