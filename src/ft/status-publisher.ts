// Puts a role's live figures into its VM record (FT.md "Status a user sees": lag, held,
// logBitsPerSecond, heartbeatAgeMs) every `everyMs`, while the role is the record's primary and the
// record is at the role's generation, and corrects a `protected` state the role no longer holds. Best effort: a control-plane error is skipped, never fatal.
// Imports the control plane and role.ts only.

import { updateVm, type ControlPlane } from './control.js';
import type { RoleStatus } from './role.js';

/** Starts publishing; returns the stop function. */
export function publishStatus(cp: ControlPlane, vm: string, status: () => RoleStatus, everyMs = 1000): () => void {
  let lastBytes = -1, lastAt = 0, busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const s = status();
    const now = Date.now();
    const bps = lastBytes >= 0 && now > lastAt ? Math.round(((s.logBytes - lastBytes) * 8 * 1000) / (now - lastAt)) : 0;
    lastBytes = s.logBytes;
    lastAt = now;
    busy = true;
    updateVm(cp, vm, (r) => {
      if (r.generation !== s.generation || r.primary?.pid !== process.pid || r.state === 'ended') return undefined;
      const paired = s.state === 'protected';
      // never more than the role holds (FT.md: `protected` only once S acked M and while it is paired): a record
      // left at `protected` by any path is corrected within a second
      const holds = status().state;
      const state = r.state === 'protected' && holds !== 'protected' && holds !== 'ended' ? holds : r.state;
      return {
        ...r, state, secondary: state === 'not-protected' ? null : r.secondary, lag: paired ? { instructions: s.lag.instructions, ms: Math.round(s.lag.ms) } : { instructions: 0, ms: 0 },
        held: { ...s.held }, logBitsPerSecond: Math.max(0, bps), heartbeatAgeMs: paired ? Math.round(s.heartbeatAgeMs) : 0,
      };
    }).catch(() => undefined).finally(() => { busy = false; });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
