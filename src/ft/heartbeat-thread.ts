// Heartbeats from a worker thread (FT.md "Channel": heartbeats both ways every --heartbeat-ms): a
// role's main thread runs the guest and is preempted like any busy process, so on a loaded host its
// event loop turned 400-900 ms late while it used 10% of that in CPU (it was waiting for a CPU, not
// working), and the peer declared it failed. A thread that sleeps between beats is scheduled within
// milliseconds, so this one sends authenticated UDP heartbeats next to the channel's own — but only
// while the main thread shows progress (its event loop turned within `hangMs`): a hung or starved
// main thread still goes silent. One worker per process, shared by every watched peer; unref'd.
// Imports only node:*; heartbeat.ts uses it, the roles wire it through watchPeer.

import { Worker } from 'node:worker_threads';

/** Shared slots (BigInt64, host monotonic ns: process.hrtime.bigint(), the same clock in every thread). */
const MAIN_TICK = 0, HEARD = 1, MAX_GAP = 2, SLOTS = 3;

/** What the main thread gives the worker for one peer. */
export interface AuxBeatOptions {
  /** HMAC-SHA-256 keys of this direction and the other one, and 8 bytes naming the session (SecurePeer.auxKeys). */
  keys: { send: Uint8Array; recv: Uint8Array; tag: Uint8Array };
  /** The listening side: the UDP port to receive on (the channel's TCP listen port number) and its host. */
  bind?: { host: string; port: number };
  /** The connecting side: where the peer's beats are received (the channel's remote host and port). */
  peer?: { host: string; port: number };
  heartbeatMs: number;
  /** Beats stop once the main thread has not turned its event loop for this long. */
  hangMs: number;
}

/** The main thread's handle on one watched peer. */
export interface AuxBeat {
  /** The main thread's event loop turned (call at every heartbeat tick). */
  tick(): void;
  /** When a valid beat from the peer last arrived, in performance.now() ms (-Infinity: never). */
  lastHeard(): number;
  /** The longest gap (ms) between two valid beats from the peer so far (0 before the second). */
  maxGapMs(): number;
  /** Start maxGapMs over (from the next beat). */
  resetMax(): void;
  /** Calls `done` (on this thread) once the worker has read every beat that had reached its socket when it got
   *  this request (it answers after its next I/O poll): a verdict then judges the peer's silence, not this
   *  process's delay in reading. Never called when the worker is gone (the caller bounds the wait). */
  drain(done: () => void): void;
  close(): void;
}

const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
/** performance.now() = host monotonic ms - this offset (both count the same clock). */
const perfOffset = hrMs() - performance.now();

let worker: Worker | undefined;
let broken = false;
let nextId = 1;
/** drain requests waiting for the worker's answer, by request number */
const drains = new Map<number, () => void>();
let nextDrain = 1;

/**
 * Starts worker beats for one peer; undefined when no worker thread can run here (the channel's
 * heartbeats then carry liveness alone, as before).
 */
export function startAuxBeat(o: AuxBeatOptions): AuxBeat | undefined {
  if (broken) return undefined;
  try {
    worker ??= spawnWorker();
  } catch {
    broken = true;
    return undefined;
  }
  const w = worker;
  const id = nextId++;
  const sab = new SharedArrayBuffer(8 * SLOTS);
  const slots = new BigInt64Array(sab);
  Atomics.store(slots, MAIN_TICK, process.hrtime.bigint());
  w.postMessage({ op: 'watch', id, sab, send: Buffer.from(o.keys.send), recv: Buffer.from(o.keys.recv), tag: Buffer.from(o.keys.tag),
    bind: o.bind, peer: o.peer, heartbeatMs: o.heartbeatMs, hangMs: o.hangMs });
  let closed = false;
  return {
    tick: () => { Atomics.store(slots, MAIN_TICK, process.hrtime.bigint()); },
    lastHeard: () => {
      const t = Atomics.load(slots, HEARD);
      return t === 0n ? -Infinity : Number(t) / 1e6 - perfOffset;
    },
    maxGapMs: () => Number(Atomics.load(slots, MAX_GAP)) / 1e6,
    resetMax: () => { Atomics.store(slots, MAX_GAP, 0n); Atomics.store(slots, HEARD, 0n); },
    drain: (done) => {
      if (closed || !worker) return;
      const n = nextDrain++;
      drains.set(n, done);
      worker.postMessage({ op: 'drain', id: n });
    },
    close: () => { if (!closed) { closed = true; worker?.postMessage({ op: 'unwatch', id }); } },
  };
}

function spawnWorker(): Worker {
  const w = new Worker(`(${workerMain.toString()})()`, { eval: true });
  w.on('message', (m: { op: string; id: number }) => {
    if (m.op !== 'drained') return;
    const done = drains.get(m.id);
    drains.delete(m.id);
    done?.();
  });
  w.unref(); // after the listener: adding one refs the worker again (the process would never exit)
  w.on('error', () => { broken = true; worker = undefined; drains.clear(); });
  w.on('exit', () => { if (worker === w) worker = undefined; drains.clear(); });
  return w;
}

/**
 * The worker (runs as an eval'd CommonJS script: self-contained, node:* through require).
 * Datagram: "X86FTHB1" | tag[8] | seq u64 | HMAC-SHA-256(send key, the first 24 bytes) = 56 bytes.
 * A beat is accepted once per sequence number, increasing (no replay), under the session's key
 * (bound to the channel's handshake, so to its generation and hosts).
 */
function workerMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const dgram = require('node:dgram') as typeof import('node:dgram');
  const { createHmac: hmac, timingSafeEqual } = require('node:crypto') as typeof import('node:crypto');
  const MAGIC = Buffer.from('X86FTHB1');
  interface Watch {
    id: number; slots: BigInt64Array; send: Buffer; recv: Buffer; tag: Buffer; heartbeatMs: number; hangNs: bigint;
    sock: import('node:dgram').Socket; shared: string | undefined; peer: { address: string; port: number } | undefined;
    seq: bigint; lastSeq: bigint; timer: ReturnType<typeof setInterval>;
  }
  const watches = new Map<number, Watch>();
  const bound = new Map<string, { sock: import('node:dgram').Socket; users: number }>();
  const mac = (key: Buffer, b: Buffer): Buffer => hmac('sha256', key).update(b).digest();

  const receive = (sock: import('node:dgram').Socket, msg: Buffer, from: { address: string; port: number }): void => {
    if (msg.length !== 56 || !msg.subarray(0, 8).equals(MAGIC)) return;
    const tag = msg.subarray(8, 16);
    for (const w of watches.values()) {
      if (w.sock !== sock || !w.tag.equals(tag)) continue;
      const seq = msg.readBigUInt64BE(16);
      if (seq <= w.lastSeq || !timingSafeEqual(mac(w.recv, msg.subarray(0, 24)), msg.subarray(24))) return;
      w.lastSeq = seq;
      const now = process.hrtime.bigint(), before = Atomics.load(w.slots, 1);
      if (before !== 0n && now - before > Atomics.load(w.slots, 2)) Atomics.store(w.slots, 2, now - before);
      Atomics.store(w.slots, 1, now);
      w.peer ??= { address: from.address, port: from.port }; // the listening side learns where to beat
      return;
    }
  };

  const beat = (w: Watch): void => {
    if (!w.peer) return;
    // the main thread must show progress: a hung or starved one goes silent here too
    if (process.hrtime.bigint() - Atomics.load(w.slots, 0) > w.hangNs) return;
    const b = Buffer.alloc(56);
    MAGIC.copy(b, 0);
    w.tag.copy(b, 8);
    b.writeBigUInt64BE(++w.seq, 16);
    mac(w.send, b.subarray(0, 24)).copy(b, 24);
    w.sock.send(b, w.peer.port, w.peer.address, () => undefined);
  };

  parentPort!.on('message', (m: { op: string; id: number; sab?: SharedArrayBuffer; send?: Uint8Array; recv?: Uint8Array; tag?: Uint8Array;
    bind?: { host: string; port: number }; peer?: { host: string; port: number }; heartbeatMs?: number; hangMs?: number }) => {
    if (m.op === 'drain') {
      // after this loop turn's I/O poll: every datagram readable now has been read and stamped by then
      setImmediate(() => parentPort!.postMessage({ op: 'drained', id: m.id }));
      return;
    }
    if (m.op === 'unwatch') {
      const w = watches.get(m.id);
      if (!w) return;
      watches.delete(m.id);
      clearInterval(w.timer);
      if (w.shared === undefined) w.sock.close();
      else {
        const s = bound.get(w.shared)!;
        if (--s.users === 0) { bound.delete(w.shared); s.sock.close(); }
      }
      return;
    }
    let sock: import('node:dgram').Socket, shared: string | undefined;
    if (m.bind) {
      shared = `${m.bind.host}:${m.bind.port}`;
      let s = bound.get(shared);
      if (!s) {
        const ns = dgram.createSocket(m.bind.host.includes(':') ? 'udp6' : 'udp4');
        ns.on('message', (msg, from) => receive(ns, msg, from));
        ns.on('error', () => undefined); // port taken, or a send failed: the channel's heartbeats remain
        ns.bind(m.bind.port, m.bind.host);
        s = { sock: ns, users: 0 };
        bound.set(shared, s);
      }
      s.users++;
      sock = s.sock;
    } else {
      sock = dgram.createSocket(m.peer && m.peer.host.includes(':') ? 'udp6' : 'udp4');
      sock.on('message', (msg, from) => receive(sock, msg, from));
      sock.on('error', () => undefined);
      sock.bind(0);
    }
    const w: Watch = {
      id: m.id, slots: new BigInt64Array(m.sab!), send: Buffer.from(m.send!), recv: Buffer.from(m.recv!), tag: Buffer.from(m.tag!),
      heartbeatMs: m.heartbeatMs!, hangNs: BigInt(Math.round(m.hangMs! * 1e6)), sock, shared,
      peer: m.peer ? { address: m.peer.host, port: m.peer.port } : undefined, seq: 0n, lastSeq: 0n,
      timer: setInterval(() => beat(w), m.heartbeatMs!),
    };
    watches.set(m.id, w);
    beat(w);
  });
}
