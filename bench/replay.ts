// Record/replay benchmark (run on its own: `node dist/bench/replay.js`): recording overhead
// (MIPS recording / MIPS plain) on an integer and an interrupt-heavy guest, replay speed relative
// to recording, log volume (bytes per entry, bit/s; VMware FT publishes 1.5-18 Mbit/s of FT
// logging traffic), divergence detection latency in instructions, and the cost of digests as a
// function of the interval N. Results in bench/results/replay.json.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt } from '../src/env.js';
import b from 'benny';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { Machine } from '../src/machine/machine.js';
import { LiveGate, type FrameInput } from '../src/machine/gate.js';
import { SystemClock, SystemEntropy } from '../src/devices/backends/clock.js';
import { Recorder } from '../src/replay/recorder.js';
import { Replayer } from '../src/replay/replayer.js';
import { concatBytes, decodeLog, encodeLog, LogEncoder } from '../src/replay/codec.js';
import type { ByteSink } from '../src/replay/channel.js';
import type { LogEntry } from '../src/replay/format.js';
import { assemble, timerGuestSource } from './replay-guests.js';

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;
const INSNS = envInt('X86FT_BENCH_INSNS');
const MEM = 16 << 20;

interface Guest { name: string; image: Uint8Array; cmdline: string; nets?: boolean }

function builtGuest(name: string): Uint8Array {
  const p = new URL(`../../guests/build/${name}-O2.elf`, import.meta.url).pathname;
  if (!existsSync(p)) throw new Error(`guest ${p} is missing: run 'make -C guests' first`);
  return new Uint8Array(readFileSync(p));
}

function sink(): ByteSink & { bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    stats: { bytes: 0, waits: 0 },
    async write(c) { chunks.push(c); this.stats.bytes += c.length; },
    async end() {}, destroy() {},
    bytes: () => concatBytes(chunks),
  };
}

/** An endless source of dev_net requests ("PING n" to the guest's MAC, ethertype 0x88B5). */
function pingSource(): FrameInput {
  let n = 0;
  const dst = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], src = [0x02, 0, 0, 0, 0, 0x99];
  return {
    receive(): Uint8Array {
      const text = new TextEncoder().encode(`PING ${n++}`);
      const f = new Uint8Array(Math.max(60, 14 + text.length));
      f.set(dst, 0); f.set(src, 6); f[12] = 0x88; f[13] = 0xb5; f.set(text, 14);
      return f;
    },
  };
}

function machineFor(g: Guest, gate: LiveGate | undefined): Machine {
  return Machine.fromElf(g.image, {
    memSize: MEM, cmdline: g.cmdline, nets: g.nets ? [{}] : [], gate,
    // a recorder counts outputs through the machine's output seam (Recorder.attach)
  });
}

async function plain(g: Guest, n = INSNS): Promise<number> {
  const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), nets: g.nets ? [pingSource()] : [] });
  const m = machineFor(g, gate);
  const r = await m.runAsync(n);
  return r.instructions;
}

interface Rec { log: Uint8Array; instructions: number; seconds: number; entries: number; digests: number }

async function record(g: Guest, every: number, n = INSNS): Promise<Rec> {
  const s = sink();
  const rec = new Recorder({ sink: s, image: g.image, digestEvery: every });
  const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), nets: g.nets ? [pingSource()] : [] }, { onRecord: rec.onRecord });
  const m = machineFor(g, gate);
  rec.attach(m);
  const t0 = performance.now();
  const r = await rec.run(n);
  const seconds = (performance.now() - t0) / 1000;
  return { log: s.bytes(), instructions: r.instructions, seconds, entries: rec.stats.entries, digests: rec.stats.digests };
}

async function replay(g: Guest, log: Uint8Array): Promise<{ outcome: string; seconds: number; report: Awaited<ReturnType<Replayer['replay']>> }> {
  const rep = new Replayer({ image: g.image });
  const t0 = performance.now();
  const report = await rep.replay((async function* () { yield log; })());
  return { outcome: report.outcome, seconds: (performance.now() - t0) / 1000, report };
}

interface SuiteFigure { name: string; opsPerSec: number; margin: number; mips: number }

async function mipsSuite(guests: Guest[], logs: Map<string, Uint8Array>): Promise<SuiteFigure[]> {
  const figures: SuiteFigure[] = [];
  const cases = guests.flatMap((g) => [
    b.add(`${g.name} plain`, async () => { await plain(g); }),
    b.add(`${g.name} recording`, async () => { await record(g, 1_000_000); }),
    b.add(`${g.name} replay`, async () => { const r = await replay(g, logs.get(g.name)!); if (r.outcome !== 'identical') throw new Error(`replay of ${g.name}: ${r.outcome}`); }),
  ]);
  await b.suite(
    `record/replay (${INSNS / 1e6}M instructions per op)`,
    ...cases,
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) figures.push({ name: r.name, opsPerSec: r.ops, margin: r.margin, mips: (r.ops * INSNS) / 1e6 });
    }),
    b.configure({ cases: { minSamples: 4, maxTime: 2 } }),
  );
  return figures;
}

/** Log volume of one recording. */
function volume(r: Rec): { bytes: number; entries: number; bytesPerEntry: number; bytesPerSec: number; mbitPerSec: number; byKind: Record<string, { count: number; bytes: number }> } {
  const d = decodeLog(r.log);
  const byKind: Record<string, { count: number; bytes: number }> = {};
  const enc = new LogEncoder(d.header);
  let prev = d.header.startIcount;
  for (const e of d.entries) {
    const k = (byKind[e.kind] ??= { count: 0, bytes: 0 });
    k.count++;
    k.bytes += enc.entrySize(e, prev);
    prev = e.icount;
  }
  return {
    bytes: r.log.length, entries: d.entries.length, bytesPerEntry: r.log.length / d.entries.length,
    bytesPerSec: r.log.length / r.seconds, mbitPerSec: (r.log.length * 8) / r.seconds / 1e6, byKind,
  };
}

/** Change one TSC value (a silent input corruption) and measure how many instructions later it is caught. */
async function detectionLatency(g: Guest, every: number, trials: number): Promise<{ every: number; meanInsns: number; maxInsns: number; detected: number; trials: number }> {
  const r = await record(g, every);
  const d = decodeLog(r.log);
  const tscs = d.entries.map((e, i) => [e, i] as const).filter(([e]) => e.kind === 'tsc');
  let sum = 0, max = 0, detected = 0;
  for (let t = 0; t < trials && tscs.length; t++) {
    const [e, i] = tscs[Math.floor(((t + 0.5) / trials) * tscs.length)]!;
    const te = e as Extract<LogEntry, { kind: 'tsc' }>;
    const es = d.entries.slice();
    es[i] = { ...te, payload: { lo: (te.payload.lo + 1) >>> 0, hi: te.payload.hi } };
    const rep = await replay(g, encodeLog(d.header, es));
    if (rep.report.divergence) {
      detected++;
      const lat = rep.report.divergence.icount - e.icount;
      sum += lat; max = Math.max(max, lat);
    }
  }
  return { every, meanInsns: detected ? sum / detected : NaN, maxInsns: max, detected, trials };
}

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const timer = new Uint8Array(readFileSync(assemble(timerGuestSource(1e9, 119), 'timer10k')));
  const guests: Guest[] = [
    { name: 'integer', image: builtGuest('intloop'), cmdline: '1000000000' },
    { name: 'interrupts', image: timer, cmdline: '' },
  ];
  const net: Guest = { name: 'network', image: builtGuest('dev_net'), cmdline: '', nets: true };

  const logs = new Map<string, Uint8Array>();
  const recs = new Map<string, Rec>();
  for (const g of [...guests, net]) { const r = await record(g, 1_000_000); logs.set(g.name, r.log); recs.set(g.name, r); }
  const suite = await mipsSuite(guests, logs);
  const mips = (name: string) => suite.find((f) => f.name === name)?.mips ?? NaN;

  const overhead = guests.map((g) => ({
    guest: g.name,
    plainMips: mips(`${g.name} plain`), recordingMips: mips(`${g.name} recording`), replayMips: mips(`${g.name} replay`),
    recordingOverPlain: mips(`${g.name} recording`) / mips(`${g.name} plain`),
    replayOverRecording: mips(`${g.name} replay`) / mips(`${g.name} recording`),
  }));

  const volumes = Object.fromEntries([...recs].map(([k, r]) => [k, volume(r)]));

  // digest cost as a function of N (integer guest, recording and replay of INSNS instructions)
  const digestCost: { every: number; recordMips: number; replayMips: number; digests: number; logBytes: number }[] = [];
  for (const every of [0, 10_000_000, 1_000_000, 100_000, 10_000]) {
    let best = Infinity, bestRep = Infinity, digests = 0, bytes = 0;
    for (let k = 0; k < 3; k++) {
      const r = await record(guests[0]!, every);
      best = Math.min(best, r.seconds); digests = r.digests; bytes = r.log.length;
      const rp = await replay(guests[0]!, r.log);
      bestRep = Math.min(bestRep, rp.seconds);
    }
    digestCost.push({ every, recordMips: INSNS / best / 1e6, replayMips: INSNS / bestRep / 1e6, digests, logBytes: bytes });
  }

  const latency = [];
  for (const every of [1_000_000, 100_000, 10_000]) latency.push(await detectionLatency(guests[1]!, every, 8));

  const out = { date: new Date().toISOString(), node: process.version, instructionsPerOp: INSNS, suite, overhead, volumes, digestCost, latency,
    reference: { vmwareFtLoggingMbitPerSec: [1.5, 18] } };
  writeFileSync(resultsDir + 'replay.json', JSON.stringify(out, null, 2) + '\n');

  console.log('\nrecording overhead and replay speed:');
  for (const o of overhead) {
    console.log(`  ${o.guest.padEnd(11)} plain ${o.plainMips.toFixed(1)} MIPS, recording ${o.recordingMips.toFixed(1)} (x${o.recordingOverPlain.toFixed(3)}), replay ${o.replayMips.toFixed(1)} (x${o.replayOverRecording.toFixed(2)} of recording)`);
  }
  console.log('log volume (digest every 1M):');
  for (const [k, v] of Object.entries(volumes)) {
    console.log(`  ${k.padEnd(11)} ${v.entries} entries, ${v.bytesPerEntry.toFixed(1)} B/entry, ${(v.bytesPerSec / 1024).toFixed(1)} KiB/s = ${v.mbitPerSec.toFixed(3)} Mbit/s (VMware FT: 1.5-18 Mbit/s)`);
  }
  console.log('digest cost vs interval N (integer guest):');
  for (const d of digestCost) console.log(`  N=${String(d.every || 'final only').padEnd(10)} record ${d.recordMips.toFixed(1)} MIPS, replay ${d.replayMips.toFixed(1)} MIPS, ${d.digests} digests, log ${d.logBytes} B`);
  console.log('divergence detection latency (one TSC value changed, interrupt guest):');
  for (const l of latency) console.log(`  N=${l.every}: detected ${l.detected}/${l.trials}, mean ${l.meanInsns.toFixed(0)} instructions after the bad input, max ${l.maxInsns}`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
