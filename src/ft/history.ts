// The event history of an FT VM: what its roles did (state changes, peers joining and lost,
// failovers, divergences, ends), newest last, bounded, kept in the VM record (`events`) so
// `x86ft ft status --events` shows it from any host. A role process feeds its RoleEvents and
// outcome here (the CLI does; the roles do not import this). Writes go through updateVm in order,
// best effort: a control-plane error is dropped, never fatal; a stale role's write is refused
// by the control plane (STALE_GENERATION) like any other record write of a fenced generation.

import { updateVm, type ControlPlane, type VmRecord } from './control.js';
import type { RoleEvent, RoleOutcome } from './role.js';

/** Entries kept per VM (oldest dropped first). */
export const HISTORY_MAX = 32;

/** One entry: `at` ms since the epoch; `generation` the writer's; `host` its host id; `role` its role. */
export interface VmEvent {
  at: number;
  generation: number;
  host: string;
  role: 'primary' | 'secondary';
  kind: 'state' | 'peer-up' | 'peer-lost' | 'failover' | 'divergence' | 'ended' | 'fenced' | 'stopped';
  text: string;
}

/** A VM record with its history (older records have none). */
export type VmRecordWithHistory = VmRecord & { events?: VmEvent[] };

/** The history of a record, oldest first ([] when it has none). Roles on different hosts append in the order their
 *  writes land, not the order things happened: sorted by time (stable: one writer's entries keep their order). */
export function vmEvents(rec: VmRecord): VmEvent[] {
  const e = (rec as VmRecordWithHistory).events;
  return Array.isArray(e) ? [...e].sort((a, b) => a.at - b.at) : [];
}

/** How long an entry waits for a record behind a newer claim (STALE_GENERATION) to be written at that generation. */
export const HISTORY_STALE_RETRY_MS = 3000;

export interface HistoryWriter {
  /** Feed every role event, in order. */
  observe(e: RoleEvent): void;
  /** Feed the role's outcome; resolves when every entry so far is written (or dropped). */
  outcome(o: RoleOutcome): Promise<void>;
}

/** Appends this role process's events to VM `vm`'s record. `role()` gives the role's generation and role now. */
export function historyWriter(cp: ControlPlane, vm: string, hostId: string, role: () => { generation: number; role: 'primary' | 'secondary' } | undefined): HistoryWriter {
  let chain: Promise<void> = Promise.resolve();
  const add = (kind: VmEvent['kind'], text: string, generation?: number): Promise<void> => {
    const r = role();
    const ev: VmEvent = { at: Date.now(), generation: generation ?? r?.generation ?? 0, host: hostId, role: r?.role ?? 'primary', kind, text };
    const write = (): Promise<unknown> => updateVm(cp, vm, (rec) => {
      const h = rec as VmRecordWithHistory;
      h.events = [...vmEvents(rec), ev].slice(-HISTORY_MAX);
      return h;
    });
    // a role that lost its peer claims g+1 before it records g+1: its 'peer lost' entry met a record refused as stale
    // and was dropped (the primary's second loss of redundancy was missing); it waits for the claimant's record
    chain = chain.then(async () => {
      for (const until = Date.now() + HISTORY_STALE_RETRY_MS; ;) {
        try { await write(); return; } catch (e) {
          if ((e as { code?: string }).code !== 'STALE_GENERATION' || Date.now() >= until) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    });
    return chain;
  };
  return {
    observe(e) {
      switch (e.kind) {
        case 'state': void add('state', `state ${e.state}`, e.generation); break;
        case 'peer': void add(e.divergence ? 'divergence' : e.up ? 'peer-up' : 'peer-lost', `${e.up ? 'peer up' : 'peer lost'}: ${e.hostId}${e.reason ? ` (${e.reason})` : ''}`); break;
        case 'live': void add('failover', `live at instruction ${e.icount}: ${e.reissued} output(s) re-issued, failover took ${e.failoverMs} ms`, e.generation); break;
        default: break;
      }
    },
    outcome(o) {
      switch (o.kind) {
        case 'ended': return add('ended', `the guest ended (${o.result.end}${o.result.end === 'exit' ? ` ${o.result.status}` : ''})`);
        case 'peer-ended': return chain;
        case 'diverged': return add('divergence', `this secondary diverged: ${o.message}`);
        case 'fenced': return add('fenced', o.message);
        case 'stopped': return add('stopped', 'stopped on request');
      }
    },
  };
}
