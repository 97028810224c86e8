// Prometheus metrics of an FT role (FT.md "Status a user sees": each role and host agent serves them):
// a prom-client Registry read from the role's status() at scrape time and counted from its events,
// and the HTTP endpoint (`--metrics PORT`, 127.0.0.1, GET /metrics). A host agent makes its own
// registry with newMetricsRegistry() and serves it the same way. Imports prom-client, node:http and
// role.ts's types only; the roles do not import it.

import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { VM_STATES } from './control.js';
import type { RoleEvent, RoleOutcome, RoleStatus } from './role.js';
import { HostResourceError } from '../errors.js';

/** Every metric name starts with this. */
export const METRICS_PREFIX = 'x86ft_';

/** A registry with the process metrics (memory, CPU, event-loop lag: a stalled loop delays heartbeats) and
 *  the default labels given (e.g. `{vm, host}`). */
export function newMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  return registry;
}

export interface RoleMetricsOptions {
  vm: string;
  hostId: string;
  /** The role's status now, or undefined before it exists. */
  status: () => RoleStatus | undefined;
  /** The VM's heartbeat period (ms): `heartbeats_missed` = whole periods without a word from the peer. */
  heartbeatMs: number;
  /** Default: a new registry with labels {vm, host}. */
  registry?: Registry;
  /** Clock for rates and durations (ms; default Date.now). */
  now?: () => number;
}

/**
 * The metrics of one role process (names below, all prefixed `x86ft_`, labels `vm` and `host`):
 * gauges read from status() at each scrape — `ft_generation`, `ft_state{state}` (1 for the current
 * state, 0 for the others), `ft_role{role}`, `ft_peer_up`, `ft_lag_instructions`, `ft_lag_seconds`,
 * `ft_held_outputs`, `ft_held_bytes`, `ft_held_oldest_seconds`, `ft_heartbeat_age_seconds`,
 * `ft_heartbeats_missed`, `ft_log_bits_per_second` (since the previous scrape at least 1 s ago);
 * counters — `guest_instructions_total`, `ft_log_bytes_total` (written by a primary, received by a
 * secondary), `ft_failovers_total` (this process went live), `ft_divergences_total`, `ft_restores_total`
 * (protected again after losing the peer); and `ft_last_failover_seconds`, `ft_last_restore_seconds`.
 * Feed it the role's events (`observe`) and its outcome (`outcome`).
 */
export class RoleMetrics {
  readonly registry: Registry;
  private readonly now: () => number;
  private peerUp = false;
  /** When the peer was lost (ms), for the time to restore redundancy; undefined while protected. */
  private lostAt: number | undefined;
  private readonly failovers: Counter;
  private readonly divergences: Counter;
  private readonly restores: Counter;
  private readonly lastFailover: Gauge;
  private readonly lastRestore: Gauge;

  private heartbeatMs: number;

  constructor(private readonly o: RoleMetricsOptions) {
    this.now = o.now ?? Date.now;
    this.heartbeatMs = o.heartbeatMs;
    const r = (this.registry = o.registry ?? newMetricsRegistry({ vm: o.vm, host: o.hostId }));
    const st = (): RoleStatus | undefined => { try { return o.status(); } catch { return undefined; } };
    const gauge = (name: string, help: string, read: (s: RoleStatus) => number): void => {
      new Gauge({ name: METRICS_PREFIX + name, help, registers: [r], collect() { const s = st(); if (s) this.set(read(s)); } });
    };
    gauge('ft_generation', 'Generation of the FT VM this role runs (grows at every won claim).', (s) => s.generation);
    gauge('ft_lag_instructions', 'Primary: instructions executed that the secondary has not acked; secondary: instructions its replay trails the last sync mark.', (s) => s.lag.instructions);
    gauge('ft_lag_seconds', 'Primary: seconds of its execution the secondary has not acked.', (s) => s.lag.ms / 1000);
    gauge('ft_held_outputs', 'Outputs held under the Output Rule (primary) or kept for re-issue (secondary).', (s) => s.held.outputs);
    gauge('ft_held_bytes', 'Bytes of the held outputs.', (s) => s.held.bytes);
    gauge('ft_held_oldest_seconds', 'Age of the oldest held output in seconds (0 when none).', (s) => (s.heldAgeMs ?? 0) / 1000);
    gauge('ft_heartbeat_age_seconds', 'Seconds since the peer was last heard from (0 without a peer).', (s) => s.heartbeatAgeMs / 1000);
    // from the role's status (0 without a peer there), never from the events seen here: a metrics object made after
    // the peer came up, or a peer event this process missed, showed 0 missed beats while the age was 555 ms
    gauge('ft_heartbeats_missed', 'Whole heartbeat periods since the peer was last heard from (0 without a peer).', (s) => Math.floor(s.heartbeatAgeMs / this.heartbeatMs));
    gauge('ft_peer_max_silence_seconds', 'Longest silence from the current peer so far in seconds (how close it came to the failure timeout; 0 without a peer).', (s) => (s.maxSilenceMs ?? 0) / 1000);
    gauge('ft_peer_up', '1 while the channel to the peer is up.', () => (this.peerUp ? 1 : 0));
    new Gauge({ name: METRICS_PREFIX + 'ft_state', help: 'State of the FT VM as this role sees it: 1 for the current state.', labelNames: ['state'], registers: [r],
      collect() { const s = st(); if (s) for (const v of VM_STATES) this.set({ state: v }, v === s.state ? 1 : 0); } });
    new Gauge({ name: METRICS_PREFIX + 'ft_role', help: 'Role of this process: 1 for the current one.', labelNames: ['role'], registers: [r],
      collect() { const s = st(); if (s) for (const v of ['primary', 'secondary'] as const) this.set({ role: v }, v === s.role ? 1 : 0); } });
    // counters follow a monotonic reading of status(); a reading that went down started over (a new machine or log)
    const counter = (name: string, help: string, read: (s: RoleStatus) => number): void => {
      let last = 0;
      new Counter({ name: METRICS_PREFIX + name, help, registers: [r], collect() {
        const s = st();
        if (!s) return;
        const v = read(s);
        const d = v >= last ? v - last : v;
        last = v;
        if (d > 0) this.inc(d);
      } });
    };
    counter('guest_instructions_total', 'Guest instructions retired (primary) or replayed (secondary) by this process.', (s) => s.icount);
    counter('ft_log_bytes_total', 'Log bytes written to the generation log and channel (primary) or received (secondary).', (s) => s.logBytes);
    let sample: { bytes: number; at: number } | undefined, bps = 0;
    const now = this.now;
    new Gauge({ name: METRICS_PREFIX + 'ft_log_bits_per_second', help: 'Log bandwidth in bits per second between the last two samples (at least 1 s apart).', registers: [r],
      collect() {
        const s = st();
        if (!s) return;
        const t = now();
        if (!sample || s.logBytes < sample.bytes) sample = { bytes: s.logBytes, at: t };
        else if (t - sample.at >= 1000) { bps = ((s.logBytes - sample.bytes) * 8 * 1000) / (t - sample.at); sample = { bytes: s.logBytes, at: t }; }
        this.set(Math.round(bps));
      } });
    this.failovers = new Counter({ name: METRICS_PREFIX + 'ft_failovers_total', help: 'Failovers this process made (it won the claim and went live as the primary).', registers: [r] });
    this.divergences = new Counter({ name: METRICS_PREFIX + 'ft_divergences_total', help: 'Divergences found by the secondary (this one, or the primary\'s secondary).', registers: [r] });
    this.restores = new Counter({ name: METRICS_PREFIX + 'ft_restores_total', help: 'Times the VM became protected again after losing its peer (redundancy restored).', registers: [r] });
    this.lastFailover = new Gauge({ name: METRICS_PREFIX + 'ft_last_failover_seconds', help: 'Duration of the last failover: primary failed -> this process releasing output (seconds).', registers: [r] });
    this.lastRestore = new Gauge({ name: METRICS_PREFIX + 'ft_last_restore_seconds', help: 'Duration of the last restore: peer lost -> protected again (seconds).', registers: [r] });
  }

  /** The VM's heartbeat period once known (a secondary learns it from the VM record). */
  setHeartbeatMs(ms: number): void { if (ms > 0) this.heartbeatMs = ms; }

  /** Feed every role event (in order). */
  observe(e: RoleEvent): void {
    const t = this.now();
    switch (e.kind) {
      case 'peer':
        this.peerUp = e.up;
        if (!e.up) { this.lostAt ??= t; if (e.divergence) this.divergences.inc(); }
        break;
      case 'live':
        this.peerUp = false;
        this.failovers.inc();
        this.lastFailover.set(e.failoverMs / 1000);
        this.lostAt = t - e.failoverMs;
        break;
      case 'state':
        if (e.state === 'protected' && this.lostAt !== undefined) {
          this.restores.inc();
          this.lastRestore.set((t - this.lostAt) / 1000);
          this.lostAt = undefined;
        }
        break;
      default: break;
    }
  }

  /** Feed the role's outcome (a diverged secondary counts its divergence). */
  outcome(o: RoleOutcome): void {
    if (o.kind === 'diverged') this.divergences.inc();
    this.peerUp = false;
  }

  /** The exposition text (what GET /metrics answers). */
  text(): Promise<string> { return this.registry.metrics(); }
}

/** A running metrics endpoint. */
export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` at `http://HOST:PORT/metrics` (HOST default 127.0.0.1; port 0 = any free port).
 * Other paths: 404. A failing collector is a 500 for that scrape, never fatal. Rejects when the port
 * cannot be bound (the message names it).
 */
export function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${e.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new HostResourceError(`cannot serve metrics on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => {
      server.on('error', () => undefined);
      server.unref();
      const a = server.address() as { port: number };
      resolve({ host, port: a.port, close: () => new Promise<void>((r) => { server.closeAllConnections?.(); server.close(() => r()); }) });
    });
  });
}

