// `x86ft host --id ID --control SPEC`: the host agent (src/ft/host-agent.ts) as a process.
// Messages go to stderr; it runs until SIGTERM/SIGINT or until it loses its lease.

import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ControlError, checkName, checkLeaseMs, openControl, parseControlSpec, type ControlPlane } from '../ft/control.js';
import { DEFAULT_LEASE_MS, HOST_EXIT, HostAgent } from '../ft/host-agent.js';
import { parseCount, parseArgs, parseMetricsPort } from './args.js';
import { Counter, Gauge } from 'prom-client';
import { METRICS_PREFIX, newMetricsRegistry, serveMetrics, type MetricsServer } from '../ft/metrics.js';
import { usageLine, UsageError } from './usage.js';
import { drainHost } from './ft-manage.js';
import { onStopSignal } from './signals.js';
import { tlsFromArgs, TLS_KEYS } from './ft-init.js';
import { certificateHostId, type TlsFiles } from '../ft/tls.js';

export const HOST_HELP = `usage: x86ft host --id ID --control dir:PATH|etcd:HOST:PORT[,HOST:PORT…] [--store PATH]
                  [--lease-ms N] [--listen ADDR] [--metrics PORT] [--tls-cert F --tls-key F --tls-ca F]
                  [--no-spare]
       x86ft host drain ID --control SPEC

A host agent (FT.md "Words"): registers host ID in the control plane with a lease renewed every
quarter of it, and starts the primaries and secondaries that signed spawn requests ask this host
for ('x86ft ft start', and a primary placing its secondary). Anti-affinity is checked again here: a
request that would put a secondary on its primary's host, or a host outside the VM's --hosts, is
refused. Every role runs in the agent's process group: start the agent as a group leader (e.g.
'setsid x86ft host …'), and 'kill -9 -- -PGID' takes the whole host down at once. When the lease
cannot be renewed (the control plane is unreachable for a whole lease, or another agent took the
id) the agent kills its roles at once, so a cut-off host never goes on releasing output (FT.md
"Fencing"); it also kills a primary of its own that a newer generation replaced. SIGTERM/SIGINT
take the host out of service, as maintenance mode does: new roles are refused, each protected VM's
role here is handed over as 'host drain' does (a primary fails over to its secondary, a secondary
is replaced elsewhere; nothing is lost), waiting up to 30 s for a VM still getting its secondary;
then the roles left (a VM with nowhere to go: its guest powers off) are stopped (SIGTERM, SIGKILL
after 5 s) and the lease released. A second SIGTERM/SIGINT stops at once. The agent keeps one warm
spare process (node started, the roles' modules loaded, waiting for a role): a secondary placed on
this host starts in it, so the VM is protected again without waiting for a process start; a new
spare is started a few seconds after each use.

  --id ID                 this host's id (A-Z a-z 0-9 . _ -, default the hostname); one live agent per id
  --control SPEC          the control plane (default dir:$X86FT_CONTROL, else dir:~/.x86ft)
  --store PATH            shared storage this host reaches (checked at start); with etcd: and no
                          $X86FT_SECRET_FILE, the cluster secret is PATH/secret
  --lease-ms N            host lease in ms (default ${DEFAULT_LEASE_MS}; 100 to 3600000)
  --listen ADDR           the IP address roles on this host listen on (default 127.0.0.1)
  --metrics PORT          serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0 = any free port; the
                          address goes to stderr): roles running, started, refused, fenced (README "Metrics")
  --tls-cert FILE --tls-key FILE --tls-ca FILE
                          this host's certificate (its CN must be --id), key and the cluster CA, e.g. made
                          by 'x86ft ft init --hosts ID,…': every role this agent starts (primary, secondary,
                          a respawned secondary) gets them, so the channel is mutual TLS 1.3. Give all
                          three or none, and the same choice on every host of the cluster (a plain-TCP
                          role cannot join a TLS one)
  --no-spare              no warm spare process: every role is a new process (slower respawn, less memory)

drain: moves every FT role of host ID away for maintenance, one VM at a time: a secondary there is
replaced by one on another host ('ft restart-secondary'), a primary there hands over to its secondary
('ft failover', nothing lost), whose new secondary goes elsewhere; each VM is protected again before
the next. It does not stop the agent: stop it (SIGTERM) to keep new roles off the host.

exit status: ${HOST_EXIT.stopped} stopped by SIGTERM/SIGINT; ${HOST_EXIT.leaseLost} the lease was lost (roles killed); ${HOST_EXIT.usage} bad arguments,
the id is held by a live agent, or an unusable control plane or store; ${HOST_EXIT.io} a control-plane error at start.
drain: 0 every role moved (or none there); 7 a VM was not protected (nothing done for it) or still has a
role there (no other host free); 6 a VM was not protected again within 60 s; 2 bad arguments; 1 a
control-plane error.
`;

/** SIGTERM: how long a VM that is not protected yet (its secondary joining) is waited for before the agent stops
 *  without handing it over (its guest then powers off: nowhere to go). */
const DRAIN_WAIT_PROTECTED_MS = 30_000;

const KEYS = ['--id', '--control', '--store', '--lease-ms', '--listen', '--metrics', ...TLS_KEYS];

/** Distinct unverifiable control values an agent reports (each once). */
const FORGED_LOGGED_MAX = 100;

export async function hostAgentCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HOST_HELP); return 0; }
  if (argv[0] === 'drain') return drainCommand(argv.slice(1));
  let opt: Map<string, string>;
  let id: string, leaseMs: number, listenHost: string, spec: string, metricsPort: number | undefined, tls: TlsFiles | undefined;
  try {
    opt = parseArgs(argv, { values: KEYS, flags: ['--no-spare'], emptyOk: 'all' }).options as Map<string, string>;
    id = opt.get('--id') ?? hostname();
    checkName('host id', id);
    leaseMs = opt.has('--lease-ms') ? parseCount(opt.get('--lease-ms')!, '--lease-ms') : DEFAULT_LEASE_MS;
    checkLeaseMs(leaseMs);
    listenHost = opt.get('--listen') ?? '127.0.0.1';
    if (!/^[A-Za-z0-9.:-]+$/.test(listenHost)) throw new UsageError(`--listen expects an IP address or host name (got '${listenHost}')`);
    metricsPort = opt.has('--metrics') ? parseMetricsPort(opt.get('--metrics')!) : undefined;
    // checked here (files, key, CA) so a mistake is one line at start, not a failure of every role it starts
    const loaded = tlsFromArgs((k) => opt.get(k));
    if (loaded) {
      const cn = certificateHostId(loaded.cert);
      if (cn !== id) throw new UsageError(`--tls-cert ${opt.get('--tls-cert')} is the certificate of host '${cn ?? '(no CN)'}', not of host '${id}' (its CN must be the --id)`);
      tls = { cert: resolve(opt.get('--tls-cert')!), key: resolve(opt.get('--tls-key')!), ca: resolve(opt.get('--tls-ca')!) };
    }
    spec = opt.get('--control') ?? '';
    const parsed = parseControlSpec(spec);
    const store = opt.get('--store');
    if (store !== undefined) {
      const p = resolve(store);
      if (!existsSync(p) || !statSync(p).isDirectory()) throw new UsageError(`--store ${store}: not a directory`);
      if (parsed.kind === 'etcd' && !process.env.X86FT_SECRET_FILE) process.env.X86FT_SECRET_FILE = join(p, 'secret');
    }
    if (spec === '') spec = `dir:${parsed.kind === 'dir' ? parsed.path : ''}`;
  } catch (e) {
    process.stderr.write(usageLine('host', (e as Error).message, HOST_HELP));
    return HOST_EXIT.usage;
  }
  // an address this host cannot listen on would fail every role it starts: refused at start instead
  const bindError = await new Promise<string | undefined>((res) => {
    const srv = createServer();
    srv.once('error', (e) => res((e as Error).message));
    srv.listen(0, listenHost, () => srv.close(() => res(undefined)));
  });
  if (bindError !== undefined) {
    process.stderr.write(usageLine('host', `--listen ${listenHost}: the roles could not listen there (${bindError})`, HOST_HELP));
    return HOST_EXIT.usage;
  }
  let cp: ControlPlane;
  // forged, unsigned or moved values (e.g. spawn requests) are ignored by the control plane: say so, once per
  // value (bounded: a flood of them cannot grow the agent's memory or its log without end)
  const forged = new Set<string>();
  const onTampered = (e: Error): void => {
    if (forged.has(e.message) || forged.size >= FORGED_LOGGED_MAX) return;
    forged.add(e.message);
    process.stderr.write(`x86ft host ${id}: ignored: ${e.message}${forged.size === FORGED_LOGGED_MAX ? ` (no more such values are reported)` : ''}\n`);
  };
  try { cp = await openControl(spec, { onTampered }); } catch (e) {
    process.stderr.write(`x86ft host: ${(e as Error).message}\n`);
    return HOST_EXIT.usage;
  }
  // the agent's own metrics (each role serves its VM's with its own --metrics)
  const registry = metricsPort === undefined ? undefined : newMetricsRegistry({ host: id });
  const counted = registry && {
    started: new Counter({ name: METRICS_PREFIX + 'host_roles_started_total', help: 'Roles this agent started, by role.', labelNames: ['role'], registers: [registry] }),
    refused: new Counter({ name: METRICS_PREFIX + 'host_spawns_refused_total', help: 'Spawn requests this agent refused (anti-affinity, --hosts, stale, unreachable image or store), by role.', labelNames: ['role'], registers: [registry] }),
    fenced: new Counter({ name: METRICS_PREFIX + 'host_primaries_fenced_total', help: 'Old primaries of this host killed because a newer generation has another primary.', labelNames: ['role'], registers: [registry] }),
  };
  // every labelled counter has its samples from the start (0), not only once first counted (Prometheus' rate()
  // and absent() need the series to exist)
  if (counted) for (const c of Object.values(counted)) for (const role of ['primary', 'secondary']) c.inc({ role }, 0);
  const agent: HostAgent = new HostAgent({ id, control: cp, spec, listenHost, leaseMs, tls, spare: !opt.has('--no-spare'), stderr: process.stderr, onCount: (what, role) => counted?.[what].inc({ role }) });
  let server: MetricsServer | undefined;
  if (registry) {
    new Gauge({ name: METRICS_PREFIX + 'host_roles_running', help: 'Roles running on this host now, by role.', labelNames: ['role'], registers: [registry],
      collect() { const n = agent.running(); this.set({ role: 'primary' }, n.primary); this.set({ role: 'secondary' }, n.secondary); } });
    try { server = await serveMetrics(registry, metricsPort!); } catch (e) {
      process.stderr.write(`x86ft host: ${(e as Error).message}\n`);
      await cp.close().catch(() => undefined);
      return HOST_EXIT.usage;
    }
    process.stderr.write(`x86ft host ${id}: metrics on http://${server.host}:${server.port}/metrics\n`);
  }
  // SIGTERM/SIGINT take the host out of service as 'host drain' does (a vSphere user's maintenance mode: the
  // guests go on elsewhere), then stop what is left; a second signal stops at once
  let draining = false;
  const stop = (): void => {
    if (draining) { agent.stop(); return; }
    draining = true;
    agent.beginDrain();
    const say = (t: string): void => { process.stderr.write(`x86ft host ${id}: ${t}\n`); };
    void drainHost(cp, id, { say, waitProtectedMs: DRAIN_WAIT_PROTECTED_MS, handedOver: true })
      .catch((e: unknown) => { say(`handing the roles over: ${(e as Error).message}`); })
      .finally(() => agent.stop());
  };
  let unlisten: (() => void) | undefined;
  try {
    try { await agent.start(); } catch (e) {
      process.stderr.write(`x86ft host: ${(e as Error).message}\n`);
      return e instanceof ControlError && (e.code === 'HOST_EXISTS' || e.code === 'BAD_NAME') ? HOST_EXIT.usage : HOST_EXIT.io;
    }
    // after start: a signal that came during it (kept until now) stops a registered agent
    unlisten = onStopSignal(stop);
    return await agent.run();
  } finally {
    unlisten?.();
    await server?.close();
    await cp.close().catch(() => undefined);
  }
}

/** `x86ft host drain ID --control SPEC`. */
async function drainCommand(argv: string[]): Promise<number> {
  let id: string | undefined, spec: string | undefined;
  try {
    const p = parseArgs(argv, { values: ['--control'], emptyOk: 'all', maxPositionals: 1 });
    spec = p.options.get('--control') as string | undefined;
    id = p.positionals[0];
    if (id === undefined) throw new UsageError('the host ID is required');
    checkName('host id', id);
  } catch (e) {
    process.stderr.write(usageLine('host drain', (e as Error).message, HOST_HELP));
    return HOST_EXIT.usage;
  }
  let cp: ControlPlane | undefined;
  try {
    cp = await openControl(spec, { mustExist: true });
    return await drainHost(cp, id);
  } catch (e) {
    process.stderr.write(`x86ft host drain: ${(e as Error).message}\n`);
    return (e as { code?: string }).code === 'BAD_SPEC' ? HOST_EXIT.usage : HOST_EXIT.io;
  } finally {
    await cp?.close().catch(() => undefined);
  }
}
