// Placement (FT.md "Redundancy restored"): choose a registered host for a role and ask its agent
// through a signed spawn request. Anti-affinity is enforced here (never a host in `notHosts`, i.e.
// the primary's) and again by the agent and by the secondary itself; `--hosts` restricts the set;
// a request not decided within 1 s is withdrawn and goes to the next host. Imports the control
// plane (and node:crypto for the TLS setting) only; used by `x86ft ft start` and by a primary that needs a secondary.

import { X509Certificate } from 'node:crypto';
import type { ControlPlane, HostRecord, Owner, RoleRef, SpawnDecision, SpawnRequest, VmConfig } from './control.js';

/** How long a spawn request may go undecided before it is withdrawn (FT.md: 1 s). */
export const DECISION_MS = 1000;

export interface PlaceRequest {
  vm: string;
  generation: number;
  role: 'primary' | 'secondary';
  config: VmConfig;
  /** Hosts never to use (anti-affinity: the primary's host; hosts of failed roles until they re-register). */
  notHosts: string[];
  primary: RoleRef | null;
  by: Owner;
  /** The requesting primary's channel TLS setting (tls.ts `tlsSetting`): a secondary goes only to a host whose
   *  record has the same (a plain-TCP role cannot join a TLS one, nor roles under two cluster CAs); undefined: any. */
  tls?: string | null;
}

export interface Placed {
  host: string;
  /** pid of the role the agent started. */
  pid: number | null;
  spawnId: string;
}

/** Hosts a role of `req` may go to now, in the order tried (live leases, not excluded, in `--hosts`). */
export function candidateHosts(hosts: HostRecord[], req: Pick<PlaceRequest, 'notHosts' | 'config' | 'tls'>): HostRecord[] {
  return hosts
    .filter((h) => !req.notHosts.includes(h.id) && (!req.config.hosts || req.config.hosts.includes(h.id)) && !tlsDiffers(h, req.tls))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The channel TLS setting a host record carries (HostRecord.tls): the SHA-256 fingerprint of the cluster CA
 *  (`AA:BB:…`, node's X509Certificate.fingerprint256), null for plain TCP. Two roles can pair only when equal. */
export function tlsSetting(tls: { ca: string | Buffer | (string | Buffer)[] } | undefined): string | null {
  if (!tls) return null;
  const ca = Array.isArray(tls.ca) ? tls.ca[0] : tls.ca; // the cluster CA (loadTls gives one)
  return ca === undefined ? null : new X509Certificate(ca).fingerprint256;
}

/** A TLS setting for a message: `plain TCP` or `TLS (CA AA:BB:CC:DD…)`. */
export function describeTls(setting: string | null | undefined): string {
  return setting ? `TLS (cluster CA ${setting.slice(0, 11)}…)` : setting === null ? 'plain TCP' : 'an unknown channel setting';
}

/** True when host `h` says its roles use another channel TLS setting than `tls` (both known). */
export function tlsDiffers(h: HostRecord, tls: string | null | undefined): boolean {
  return tls !== undefined && h.tls !== undefined && h.tls !== tls;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for the one decision on request `id` (up to `ms`), withdrawing it if none came: the decision that holds. */
async function decision(cp: ControlPlane, id: string, by: string, ms: number): Promise<SpawnDecision> {
  const until = Date.now() + ms;
  for (;;) {
    const e = await cp.readSpawn(id);
    if (e?.decision) return e.decision;
    if (Date.now() >= until) break;
    await sleep(25);
  }
  return cp.decideSpawn(id, { kind: 'withdrawn', by, at: Date.now(), reason: `not accepted within ${ms} ms`, pid: null });
}

/**
 * Places the role on the first candidate host whose agent accepts. Returns undefined when no host
 * accepted (none registered, all excluded, all refused or silent) or, for a secondary, when the VM has
 * ended; `report` gets one line per refusal.
 */
export async function placeRole(cp: ControlPlane, req: PlaceRequest, report?: (text: string) => void, decisionMs = DECISION_MS): Promise<Placed | undefined> {
  const tried = new Set<string>();
  for (;;) {
    // a secondary is never placed for a VM that has ended (its guest may end while a placement is under way)
    if (req.role === 'secondary' && (await cp.readVm(req.vm))?.state === 'ended') return undefined;
    const hosts = candidateHosts(await cp.listHosts(), req).filter((h) => !tried.has(h.id));
    const h = hosts[0];
    if (!h) return undefined;
    tried.add(h.id);
    const r: SpawnRequest = { id: '', vm: req.vm, generation: req.generation, role: req.role, host: h.id, notHosts: req.notHosts, primary: req.primary, config: req.config, by: req.by, postedAt: Date.now() };
    const id = await cp.postSpawn(r);
    const d = await decision(cp, id, req.by.hostId, decisionMs);
    // decided by the agent (it starts the role before it records 'accepted'): the request is done; requests and
    // decisions were kept for every VM ever run (x86ft/spawn/* grew without end). A withdrawn one stays: a slow
    // agent may still be about to decide it, and its create-if-absent must keep finding the withdrawal
    if (d.kind !== 'withdrawn') await cp.deleteSpawn(id).catch(() => undefined);
    if (d.kind === 'accepted') return { host: h.id, pid: d.pid, spawnId: id };
    report?.(`host ${h.id} did not start the ${req.role}: ${d.kind}${d.reason ? ` (${d.reason})` : ''}`);
  }
}
