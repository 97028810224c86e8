// Records at exactly a generation's first count G (FT.md "Generation logs"): a chain replay and an FT
// secondary must take them in the order the recorder wrote them. The run is an idle dev_echo (it waits
// in HLT for console input, so its count stays at G while the log switches and a secondary joins):
//   gen 1: boot to G1 (the guest waits in HLT), log ended there ('stopped'), as a primary going on alone does;
//   gen 2: the records of G1's poll carried, start at G1, a secondary joins at M = G1 (digest and snapshot at
//          G1, as a join at HLT takes it), then the typed line is polled at G1, after the digest; ended at G2;
//   gen 3: written by that secondary, gone live at G = G2 (entries at G2 dropped), joined again at G2 with the
//          last line polled there after the digest.
// Each log, the chains of 2 and 3 generations (library and `x86ft replay --control dir:`), and each joined
// secondary's log from its snapshot replay identical, with the console as the live run printed it.
// Then a secondary that goes live at exactly its join point M (nothing of its log after the snapshot): the
// primary's poll at M is in the snapshot only, so generation 2's log carries it (GoLive.carried), and guest
// time goes on from the snapshot's.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine, type RunResult } from '../../src/machine/machine.js';
import { LiveGate, type ConsoleInput, type GateRecord } from '../../src/machine/gate.js';
import { Recorder } from '../../src/replay/recorder.js';
import { ReplaySession } from '../../src/replay/session.js';
import { decodeLog, encodeLog } from '../../src/replay/codec.js';
import type { LogHeaderInit } from '../../src/replay/format.js';
import { chainLogs, fileLinks } from '../../src/replay/chain.js';
import { restoreSnapshot, type MachineSnapshot } from '../../src/replay/machine-snapshot.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/replay/snapshot.js';
import { ensureVmDir, storePath } from '../../src/ft/store.js';
import { routeRecords } from '../../src/ft/primary.js';
import { InstructionClock } from '../helpers/clock.js';
import { spawnAsync } from '../helpers/proc.js';
import { CLI, guestElf } from '../devices-guests/helpers.js';
import { memorySink, replayBytes } from './record-replay-helpers.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'x86ft-chainedge-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Typed console input the test hands over at a chosen moment. */
class Typed implements ConsoleInput {
  private q: number[] = [];
  type(s: string): void { for (const c of s) this.q.push(c.charCodeAt(0)); }
  read(max: number): Uint8Array | null { return this.q.length ? Uint8Array.from(this.q.splice(0, max)) : null; }
  hasInput(): boolean { return this.q.length > 0; }
}

/** Runs `rec` until the guest waits in HLT with `text` printed (a log switch or a death there; and `also`), or the guest ends. */
async function runUntilIdle(rec: Recorder, m: Machine, printed: () => string, text: string, also = () => true): Promise<RunResult> {
  const stop = { aborted: false };
  const t = setInterval(() => { if (m.cpu.halted && printed().endsWith(text) && also()) stop.aborted = true; }, 1);
  try { return await rec.run(Infinity, stop); } finally { clearInterval(t); }
}

/**
 * A secondary joins at the count where the machine waits (M = its count): a pending fork with one
 * pace chunk of 0 instructions is taken at once (digest, snapshot record), then `typed` is typed, so
 * the guest's next poll at M (after the digest) brings it. The run then goes on to `until` printed.
 */
async function joinAtCount(rec: Recorder, m: Machine, input: Typed, typed: string, printed: () => string, until: string) {
  const fork = memorySink();
  let snap: MachineSnapshot | undefined;
  void rec.forkAtSnapshot({ sink: fork, onSnapshot: (s) => { snap = s; input.type(typed); } });
  rec.pace = { chunk: 0, wait: () => { rec.pace = undefined; return undefined; } };
  const r = until ? await runUntilIdle(rec, m, printed, until) : await rec.run();
  expect(snap, 'the join snapshot was taken').toBeDefined();
  return { r, fork, snapshot: snap! };
}

describe('chain replay: records at exactly a generation\'s first count', () => {
  it('replays 2 and 3 generations and each joined secondary identical (a digest and typed input at G, FT.md order)', async () => {
    const elfPath = guestElf('dev_echo', 'O2');
    const elf = readFileSync(elfPath);
    const vm = 'edge';
    const ft = (generation: number) => ({ vm, generation, previousGeneration: generation === 1 ? null : generation - 1 });

    // ---- the primary: generation 1, then going on alone into generation 2 at G1
    let out = '';
    const input = new Typed();
    let m: Machine | undefined;
    const last: GateRecord[] = [];
    const sinks = [memorySink(), memorySink(), memorySink()];
    let rec = new Recorder({ sink: sinks[0]!, image: elf, digestEvery: 5_000, ft: ft(1), heartbeatMs: 0 });
    const gate = new LiveGate({ clock: new InstructionClock(() => m?.cpu.icount ?? 0, 100, 100_000), console: input }, { onRecord: routeRecords(() => rec, last) });
    m = Machine.fromElf(elf, { memSize: 16 << 20, gate, consoleOut: (b) => { out += String.fromCharCode(b); } });
    rec.attach(m);
    const r1 = await runUntilIdle(rec, m, () => out, 'dev_echo ready\n');
    expect(r1.end).toBe('budget');
    const G1 = m.cpu.icount;
    expect(last.length, 'the poll at G1 that found the guest halted').toBeGreaterThan(0);
    // switchLog: the records the live run took at G1 go into generation 2's log, before its start
    rec = new Recorder({ sink: sinks[1]!, image: elf, digestEvery: 5_000, outputs: rec.outputs, ft: ft(2), heartbeatMs: 0, carried: last.filter((x) => x.icount === G1) });
    rec.attach(m);
    const j1 = await joinAtCount(rec, m, input, 'hello\n', () => out, '> HELLO\n');
    expect(j1.snapshot.icount).toBe(G1);
    expect(j1.r.end).toBe('budget');
    const G2 = m.cpu.icount;
    const primaryOut = out;

    const gen2 = decodeLog(sinks[1]!.bytes());
    const at = (e: { entries: { icount: number; kind: string }[] }, c: number) => e.entries.filter((x) => x.icount === c).map((x) => x.kind);
    // the shape this test is about: start, the join's digest and snapshot, and typed input all at G1
    expect(at(gen2, G1)).toEqual(['host-time', 'start', 'digest-detail', 'digest', 'snapshot', 'console-input', 'host-time']);

    // ---- the secondary joined at G1 follows the fork; the primary dies at G2: it goes live at G2
    const s = new ReplaySession({ snapshot: j1.snapshot.bytes });
    s.feed(j1.fork.bytes());
    expect(s.run(G2 - 1).done).toBe(false);
    const gl = s.goLive(G2);
    expect(gl.report).toBeUndefined();
    expect(gl.icount).toBe(G2);
    const m2 = gl.machine;
    let out3 = '';
    const input3 = new Typed();
    expect(gl.carried, 'nothing taken at G2 (its entries there are dropped)').toEqual([]);
    const rec3 = new Recorder({ sink: sinks[2]!, image: elf, digestEvery: 5_000, outputs: s.outputs, ft: ft(3), heartbeatMs: 0, carried: gl.carried });
    gl.gate.use(new LiveGate({ clock: new InstructionClock(() => m2?.cpu.icount ?? 0, 100, 100_000), console: input3 }, { onRecord: rec3.onRecord, resume: gl.time }));
    m2.outputs.sinks = { console: (b) => { out3 += String.fromCharCode(b); } };
    m2.outputs.setMode('live');
    rec3.attach(m2);
    const j2 = await joinAtCount(rec3, m2, input3, 'quit\n', () => out3, '');
    expect(j2.r.end).toBe('exit');
    expect(j2.r.status).toBe(0);
    expect(j2.snapshot.icount).toBe(G2);
    const gen3 = decodeLog(sinks[2]!.bytes());
    expect(at(gen3, G2).slice(0, 4)).toEqual(['start', 'digest-detail', 'digest', 'snapshot']);
    expect(at(gen3, G2)).toContain('console-input');
    expect(out3).toMatch(/^bye: 2 lines/);

    const logs = sinks.map((x, k) => { const p = join(dir, `gen-${k + 1}.log`); writeFileSync(p, x.bytes()); return p; });
    // each generation's log alone from where it starts: generation 1 from boot
    expect((await replayBytes(sinks[0]!.bytes(), { image: elf })).report.outcome).toBe('identical');
    // the chains: 2 generations (ended 'stopped' at G2), then 3 (the guest's exit)
    const two = await replayBytes(chainLogs(fileLinks(logs.slice(0, 2))), { image: elf });
    expect(two.report.outcome, JSON.stringify(two.report.divergence)).toBe('identical');
    expect(two.console).toBe(primaryOut);
    const three = await replayBytes(chainLogs(fileLinks(logs)), { image: elf });
    expect(three.report.outcome, JSON.stringify(three.report.divergence)).toBe('identical');
    expect(three.report.run?.end).toBe('exit');
    expect(three.console).toBe(primaryOut + out3);
    // every digest of the chain was checked, the two at exactly a generation's first count among them
    const digests = (log: ReturnType<typeof decodeLog>, until: number) => log.entries.filter((x) => x.kind === 'digest' && x.icount < until).length;
    expect(three.report.digestsChecked).toBe(digests(decodeLog(sinks[0]!.bytes()), G1) + digests(gen2, G2) + digests(gen3, Infinity));
    // each joined secondary's log, from its snapshot at M
    for (const j of [j1, j2]) {
      const sec = await replayBytes(j.fork.bytes(), { snapshot: j.snapshot.bytes });
      expect(sec.report.outcome, JSON.stringify(sec.report.divergence)).toBe('identical');
    }
    // x86ft replay --control dir:STORE NAME
    const store = join(dir, 'store');
    ensureVmDir(store, vm);
    logs.forEach((p, k) => writeFileSync(storePath(store, vm, { kind: 'log', generation: k + 1 }), readFileSync(p)));
    const cli = await spawnAsync(process.execPath, [CLI, 'replay', '--control', `dir:${store}`, vm, '--image', elfPath, '--quiet'], { encoding: 'utf8' });
    expect(cli.stdout, cli.stderr).toContain('replay identical');
    expect(cli.status).toBe(0);
  });
});

describe('go-live at exactly the join point M', () => {
  it('a secondary joined at M while the guest waits in HLT, its primary dead at once: the chain replays identical', async () => {
    const elfPath = guestElf('dev_echo', 'O2');
    const elf = readFileSync(elfPath);
    // where the guest first waits in HLT (its count stays there: no timer, no input yet)
    let probeM: Machine | undefined;
    let probeOut = '';
    const probeRec = new Recorder({ sink: memorySink(), image: elf, digestEvery: 0, heartbeatMs: 0 });
    probeM = Machine.fromElf(elf, { memSize: 16 << 20, gate: new LiveGate({ clock: new InstructionClock(() => probeM?.cpu.icount ?? 0, 100, 100_000), console: new Typed() }, { onRecord: probeRec.onRecord }), consoleOut: (b) => { probeOut += String.fromCharCode(b); } });
    probeRec.attach(probeM);
    await runUntilIdle(probeRec, probeM, () => probeOut, 'dev_echo ready\n');
    const M = probeM.cpu.icount;

    // the primary: a slice boundary at M (pace), where a secondary joins at once (digest, snapshot)
    let m: Machine | undefined;
    let out = '';
    const sink1 = memorySink(), fork = memorySink();
    const rec = new Recorder({ sink: sink1, image: elf, digestEvery: 0, heartbeatMs: 0 });
    let snap: MachineSnapshot | undefined;
    rec.pace = { chunk: M, wait: () => {
      if (m!.cpu.icount !== M || rec.pace!.chunk === 0) { rec.pace = undefined; return undefined; }
      void rec.forkAtSnapshot({ sink: fork, onSnapshot: (s) => { snap = s; } });
      rec.pace!.chunk = 0;
      return undefined;
    } };
    m = Machine.fromElf(elf, { memSize: 16 << 20, gate: new LiveGate({ clock: new InstructionClock(() => m?.cpu.icount ?? 0, 100, 100_000), console: new Typed() }, { onRecord: rec.onRecord }), consoleOut: (b) => { out += String.fromCharCode(b); } });
    rec.attach(m);
    await runUntilIdle(rec, m, () => out, 'dev_echo ready\n', () => snap !== undefined);
    expect(snap?.icount).toBe(M);
    expect(m.cpu.icount).toBe(M);
    const gen1 = decodeLog(sink1.bytes());
    expect(gen1.entries.filter((x) => x.icount === M).map((x) => x.kind).slice(0, 4)).toEqual(['host-time', 'digest-detail', 'digest', 'snapshot']);

    // the secondary got the snapshot and the fork's header, nothing more: it goes live at M
    const s = new ReplaySession({ snapshot: snap!.bytes });
    s.feed(encodeLog(decodeLog(fork.bytes()).header as LogHeaderInit, [], 256, false));
    const gl = s.goLive(M + 1);
    expect(gl.report).toBeUndefined();
    expect(gl.icount).toBe(M);
    const m2 = gl.machine;
    let out2 = '';
    const input = new Typed();
    const sink2 = memorySink();
    // what it took at M (the primary's poll there, in the snapshot, then the snapshot) goes first, as golive.ts does
    expect(gl.carried.map((x) => [x.icount, x.kind])).toEqual([[M, 'host-time'], [M, 'snapshot']]);
    const rec2 = new Recorder({ sink: sink2, image: elf, digestEvery: 0, outputs: s.outputs, heartbeatMs: 0, carried: gl.carried });
    gl.gate.use(new LiveGate({ clock: new InstructionClock(() => m2.cpu.icount, 100, 100_000), console: input }, { onRecord: rec2.onRecord, resume: gl.time }));
    m2.outputs.sinks = { console: (b) => { out2 += String.fromCharCode(b); } };
    rec2.attach(m2);
    // and is joined at once in turn (digest at M in generation 2's log), then gets the input
    const j = await joinAtCount(rec2, m2, input, 'quit\n', () => out2, '');
    expect(j.r.end).toBe('exit');
    const logs = [sink1, sink2].map((x, k) => { const p = join(dir, `m-gen-${k + 1}.log`); writeFileSync(p, x.bytes()); return p; });
    const chain = await replayBytes(chainLogs(fileLinks(logs)), { image: elf });
    expect(chain.report.outcome, JSON.stringify(chain.report.divergence)).toBe('identical');
    expect(chain.console).toBe(out + out2);
    // a snapshot whose carried records are not of its count is refused
    const d = decodeSnapshot(snap!.bytes);
    const meta = d.sections.meta as { carried: { icount: number }[] };
    meta.carried[0]!.icount--;
    expect(() => restoreSnapshot(encodeSnapshot({ sections: d.sections, ram: d.ram }).bytes)).toThrow(/snapshot: malformed carried records/);
    // guest time never goes back: the live gate resumed from the snapshot's time (no Time record came after it)
    const times = [...gen1.entries.filter((x) => x.icount < M), ...decodeLog(sink2.bytes()).entries].flatMap((x) => x.kind === 'host-time' ? [x.payload.ns] : []);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
