// What the FT roles (primary.ts, secondary.ts) share: their status and events (the hooks a
// supervisor, `ft status` or metrics build on), outcomes, and the run of a live primary to the
// guest's end. Imports src/machine, src/replay and the control plane; not the roles.

import { readFileSync } from 'node:fs';
import type { RunResult } from '../machine/machine.js';
import type { ControlPlane, RoleRef, VmState, VmRecord } from './control.js';
import { machineId, updateVm } from './control.js';

/** A role's status now (what `x86ft ft status` and metrics read). */
export interface RoleStatus {
  role: 'primary' | 'secondary';
  vm: string;
  generation: number;
  state: VmState;
  /** Instructions retired by this role's machine. */
  icount: number;
  /** Primary: instructions and ms of its execution the secondary has not acked; secondary: how far its replay trails the last sync mark. */
  lag: { instructions: number; ms: number };
  /** Outputs held under the Output Rule (primary) or kept for re-issue (secondary). */
  held: { outputs: number; bytes: number };
  /** Primary: age (ms) of the oldest held output, 0 when none (the `--max-held-ms` bound). */
  heldAgeMs?: number;
  /** Log bytes written (primary) or received (secondary). */
  logBytes: number;
  /** ms since the peer was last heard from (0 without a peer). */
  heartbeatAgeMs: number;
  /** The longest silence (ms) from the current peer since it was paired (0 without a peer). */
  maxSilenceMs?: number;
}

/** Events a role reports (in order). */
export type RoleEvent =
  /** The VM's state or generation changed (also after a won claim). */
  | { kind: 'state'; state: VmState; generation: number }
  /** The peer connected (primary: a secondary joined) or was lost. */
  | { kind: 'peer'; up: boolean; hostId: string; reason?: string; /** lost because the secondary reported a divergence */ divergence?: boolean }
  /** This secondary went live at G (failover done: it releases output from now on). */
  | { kind: 'live'; generation: number; icount: number; reissued: number; failoverMs: number }
  /** Console input: every typed byte before offset `through` (counted from the VM's creation) has been
   *  consumed by the guest, and the primary may say so (the fact is released under the Output Rule). */
  | { kind: 'input-consumed'; through: number }
  /** Something a user should read (stderr). */
  | { kind: 'message'; text: string };

/** How a role ended. */
export type RoleOutcome =
  /** The guest ended (exit, halt, fault, ...): every output released. */
  | { kind: 'ended'; result: RunResult }
  /** Another host holds the generation this role needed (lost claim, generation moved on): stopped at once, releasing nothing more. */
  | { kind: 'fenced'; message: string }
  /** A secondary found a divergence: it told the primary and stopped; it never claims. */
  | { kind: 'diverged'; message: string }
  /** The secondary's primary ended the run in order (bye): the guest's status when it gave one. */
  | { kind: 'peer-ended'; status?: number; reason: string }
  /** Stopped on request (signal). */
  | { kind: 'stopped' };

/**
 * Startup grace, in failure timeouts: until the first sync mark is acked, a role does not count its
 * peer's silence for up to this many failure timeouts (a peer that dies is still seen at once, by
 * its connection). Both roles build the machine, scan its RAM and compile the guest's first code
 * then, which on a loaded host stalls their event loops for longer than one failure timeout.
 */
export const STARTUP_GRACE_TIMEOUTS = 10;

/** Exit statuses of `x86ft ft primary|secondary` other than the guest's own (documented in the README). */
export const FT_EXIT = { usage: 2, diverged: 3, fenced: 4, io: 1, stopped: 130 } as const;

/** Records the VM's state (best effort: a control-plane error is reported, never fatal to the guest). */
export async function setVmState(cp: ControlPlane, vm: string, change: (r: VmRecord) => void, report?: (t: string) => void): Promise<void> {
  try {
    await updateVm(cp, vm, (r) => { change(r); return r; });
  } catch (e) {
    report?.(`control plane: could not update VM '${vm}': ${(e as Error).message}`);
  }
}

/** This process as a status RoleRef; `lease` is its host's registration (RoleRef.lease) when a host agent placed it. */
export function selfRef(hostId: string, addr: string | null, lease?: number): RoleRef {
  const machine = machineId();
  return { host: hostId, pid: process.pid, addr, ...(lease === undefined ? {} : { lease }), ...(machine ? { machine } : {}) };
}

/** The registration of `hostId` this role runs under (RoleRef.lease), or undefined when no agent holds that id. */
export async function hostLease(control: ControlPlane, hostId: string): Promise<number | undefined> {
  return (await control.listHosts()).find((h) => h.id === hostId)?.registeredAt;
}

/** The argument vector of process `pid` on this machine (/proc/PID/cmdline), or undefined when there is none. */
function processArgv(pid: number): string[] | undefined {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0'); } catch { return undefined; }
}

/** Whether process `pid` runs on this machine as the `x86ft host` agent of id `hostId` (its /proc/PID/cmdline names
 *  both): then the roles that agent starts are processes of this machine too. False when no such process is here. */
export function agentProcessHere(pid: number, hostId: string): boolean {
  const argv = processArgv(pid);
  if (!argv) return false;
  const at = argv.indexOf('host');
  if (at < 0) return false;
  return argv.slice(at + 1).some((a, k, rest) => a === `--id=${hostId}` || (a === '--id' && rest[k + 1] === hostId));
}

/** Whether process `pid` runs on this machine as an `x86ft ft primary` of VM `vm` (its /proc/PID/cmdline names
 *  both; a reused pid is not taken for it). False when no such process is here: another machine's, or gone. */
export function primaryProcessHere(pid: number, vm: string): boolean {
  const cmd = processArgv(pid)?.join(' ');
  if (cmd === undefined) return false;
  return /\bft primary\b/.test(cmd) && (cmd.includes(vm) || vm === 'default');
}
