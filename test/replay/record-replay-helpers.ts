// Shared set-up of the record/replay tests and bench: record a guest on a live gate (optionally
// with deliberately disturbed host timing) into memory, and replay bytes.
import { createHash } from 'node:crypto';
import { Machine, type MachineConfig } from '../../src/machine/machine.js';
import { LiveGate, type LiveBackends, type HostClock } from '../../src/machine/gate.js';
import { SystemClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { Recorder } from '../../src/replay/recorder.js';
import { Replayer, type ReplayerOptions, type ReplayReport } from '../../src/replay/replayer.js';
import { concatBytes } from '../../src/replay/codec.js';
import type { ByteSink } from '../../src/replay/channel.js';
import { fullStateHash } from '../../src/replay/digest.js';
import { InstructionClock } from '../helpers/clock.js';
import type { RunResult } from '../../src/machine/machine.js';

export function memorySink(): ByteSink & { bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    stats: { bytes: 0, waits: 0 },
    async write(c) { chunks.push(c); this.stats.bytes += c.length; },
    async end() {},
    destroy() {},
    bytes: () => concatBytes(chunks),
  };
}

/** A host clock whose readings jump ahead by random amounts (up to maxJumpNs), still monotonic. */
export class JitteryClock implements HostClock {
  private extra = 0;
  constructor(private readonly base: HostClock = new SystemClock(), private readonly maxJumpNs = 2_000_000, private seed = 12345) {}
  private rnd(): number { this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0; return this.seed / 2 ** 32; }
  monoNs(): number { this.extra += Math.floor(this.rnd() * this.maxJumpNs); return this.base.monoNs() + this.extra; }
  wallMs(): number { return this.base.wallMs(); }
}

/** Burns the CPU for `ms` (a disturbed host). */
export function spin(ms: number): void { const t = Date.now() + ms; while (Date.now() < t) { /* busy */ } }

export interface Recording {
  log: Uint8Array;
  result: RunResult;
  console: string;
  frames: Uint8Array[];
  stateHash: string;
  machine: Machine;
  recorder: Recorder;
  seconds: number;
}

export interface RecordOptions extends MachineConfig {
  digestEvery?: number;
  /** Disturb host timing: a jittery clock and random busy loops in the recording process. */
  disturb?: boolean | number;
  backends?: Partial<LiveBackends>;
  max?: number;
  /** Record on a virtual clock driven by the instruction count (InstructionClock: 100 ns per
   *  instruction), so the log is the same in every run whatever the machine's load. */
  virtualClock?: boolean;
}

export async function recordGuest(image: Uint8Array, o: RecordOptions = {}): Promise<Recording> {
  const sink = memorySink();
  const rec = new Recorder({ sink, image, digestEvery: o.digestEvery ?? 100_000 });
  const seed = typeof o.disturb === 'number' ? o.disturb : 777;
  let m: Machine | undefined;
  const clock = o.virtualClock ? new InstructionClock(() => m?.cpu.icount ?? 0, 100, 100_000)
    : o.disturb ? new JitteryClock(new SystemClock(), 3_000_000, seed) : new SystemClock();
  const gate = new LiveGate({ clock, entropy: new SystemEntropy(), ...o.backends }, { onRecord: rec.onRecord });
  let out = '';
  const frames: Uint8Array[] = [];
  let r = seed;
  m = Machine.fromElf(image, {
    memSize: o.memSize ?? 8 << 20, cmdline: o.cmdline, disks: o.disks, nets: o.nets, gate,
    consoleOut: (b) => { out += String.fromCharCode(b); if (o.disturb) { r = (r * 69069 + 1) >>> 0; if (r % 5 === 0) spin(r % 3); } },
    netOut: (_d, f) => { frames.push(f.slice()); },
  });
  rec.attach(m);
  const busy = o.disturb ? setInterval(() => spin(2 + (Date.now() % 3)), 5) : undefined;
  const t0 = performance.now();
  let result: RunResult;
  try { result = await rec.run(o.max ?? Infinity); } finally { if (busy) clearInterval(busy); }
  const seconds = (performance.now() - t0) / 1000;
  return { log: sink.bytes(), result, console: out, frames, stateHash: fullStateHash(m), machine: m, recorder: rec, seconds };
}

export interface Replayed { report: ReplayReport; console: string; frames: Uint8Array[]; stateHash?: string; replayer: Replayer; seconds: number }

export async function replayBytes(log: Uint8Array | AsyncIterable<Uint8Array>, opts: ReplayerOptions = {}): Promise<Replayed> {
  let out = '';
  const frames: Uint8Array[] = [];
  const rep = new Replayer({ ...opts, consoleOut: (b) => { out += String.fromCharCode(b); opts.consoleOut?.(b); }, netOut: (d, f) => { frames.push(f.slice()); opts.netOut?.(d, f); } });
  const src = log instanceof Uint8Array ? (async function* () { yield log; })() : log;
  const t0 = performance.now();
  const report = await rep.replay(src);
  const seconds = (performance.now() - t0) / 1000;
  return { report, console: out, frames, stateHash: rep.machine ? fullStateHash(rep.machine) : undefined, replayer: rep, seconds };
}

export function sha256(b: Uint8Array): string { return createHash('sha256').update(b).digest('hex'); }
