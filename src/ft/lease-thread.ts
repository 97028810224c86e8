// Lease renewal of the dir: control plane from a worker thread (FT.md "Host leases": renewed every
// quarter of --lease-ms; an agent that cannot renew kills its VMs). On the agent's main thread a renewal
// was six thread-pool hops (read, stat, utimes, each answered through the event loop) queued behind the
// control plane's own reads; at a load of 25-35 agents lost their 2 s leases while a role of theirs was
// joining and killed healthy roles (a VM was lost). A thread that sleeps between renewals and makes two
// synchronous system calls per renewal is scheduled within milliseconds, as the heartbeat thread is.
// The lease stays this registration's: the worker renews only the file this registration wrote (same
// inode) and only while it has not run out. `superviseLeaseThread` relays any backend's renewal thread
// (control-etcd.ts runs its own). Imports only node:*; control-dir.ts and control-etcd.ts use it.

import { Worker } from 'node:worker_threads';

/** What one renewal thread keeps alive. */
export interface LeaseThreadOptions {
  /** The host's lease file (PATH/hosts/ID.json). */
  file: string;
  /** Its inode when this registration wrote it (a new registration replaces the file: another inode). */
  ino: number;
  /** Lease length (ms); renewed every quarter of it. */
  leaseMs: number;
  /** When the lease was granted (ms since the epoch): its expiry is max(granted, file mtime) + leaseMs. */
  grantedAt: number;
}

/**
 * Starts renewing; `onRenewed` is called after the thread's first renewal (until then the caller keeps
 * renewing on its own thread: a worker's start took seconds at a load of 15-20); `onLost(message)` is called once (on the main thread) when the lease ran out, was
 * taken over or removed, or could not be renewed for a whole lease. Returns the stop function, or
 * undefined when no worker thread can run here (the caller renews on its own thread then).
 */
export function startLeaseThread(o: LeaseThreadOptions, onLost: (message: string) => void, onRenewed?: () => void): (() => void) | undefined {
  return superviseLeaseThread(() => new Worker(`(${workerMain.toString()})()`, { eval: true, workerData: o }), onLost, onRenewed);
}

/**
 * Runs a lease renewal thread made by `start` (this file's dir: worker, control-etcd.ts's etcd: one) and relays
 * what it posts: `{op: 'renewed'}` after each renewal (`onRenewed` the first time), `{op: 'lost', message}` once.
 * A thread that fails or exits after its first renewal loses the lease (nobody renews it any more: never kept
 * silently by nobody); one that fails before it has renewed leaves the renewal to the caller's own thread, which
 * still renews then. Returns the stop function, or undefined when no thread could be made.
 */
export function superviseLeaseThread(start: () => Worker, onLost: (message: string) => void, onRenewed?: () => void): (() => void) | undefined {
  let w: Worker;
  try {
    w = start();
  } catch {
    return undefined;
  }
  // not unref'd: a kept lease keeps the process alive, as keepLease's timer on the main thread did
  let done = false;
  let renewed = false;
  const end = (): void => {
    done = true;
    void w.terminate();
  };
  const lost = (message: string): void => {
    if (done) return;
    end();
    onLost(message);
  };
  const failed = (message: string): void => {
    if (done) return;
    if (renewed) lost(message);
    else end(); // the caller's thread has renewed all along and goes on
  };
  w.on('message', (m: { op: string; message: string }) => {
    if (m.op === 'lost') lost(m.message);
    else if (m.op === 'renewed' && !done && !renewed) {
      renewed = true;
      onRenewed?.();
    }
  });
  w.on('error', (e) => failed(`the lease renewal thread failed: ${e.message}`));
  w.on('exit', (code) => failed(`the lease renewal thread exited (${code})`));
  return () => {
    if (!done) end();
  };
}

/** The worker (an eval'd CommonJS script: self-contained, node:* through require). */
function workerMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const o = workerData as LeaseThreadOptions;
  let lastOk = Date.now();
  const lost = (message: string): void => {
    clearInterval(timer);
    parentPort!.postMessage({ op: 'lost', message });
  };
  const renew = (): void => {
    let st: import('node:fs').Stats;
    try {
      st = fs.statSync(o.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return lost('was removed');
      if (Date.now() - lastOk >= o.leaseMs) lost(`not renewed for ${o.leaseMs} ms: ${(e as Error).message}`);
      return;
    }
    if (st.ino !== o.ino) return lost('was taken over or removed');
    const now = Date.now();
    const expires = Math.max(o.grantedAt, Math.floor(st.mtimeMs)) + o.leaseMs;
    if (expires <= now) return lost(`ran out ${now - expires} ms ago`);
    try {
      const t = new Date(now);
      fs.utimesSync(o.file, t, t);
      lastOk = now;
      if (first) { first = false; parentPort!.postMessage({ op: 'renewed' }); }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return lost('was removed');
      if (now - lastOk >= o.leaseMs) lost(`not renewed for ${o.leaseMs} ms: ${(e as Error).message}`);
    }
  };
  let first = true;
  const timer = setInterval(renew, Math.max(25, Math.floor(o.leaseMs / 4)));
  renew(); // at once: the thread's start may have taken a good part of the lease on a loaded host
}
