// Record a run of device interactions through a LiveGate (real backends where it matters:
// a disk image file, the OS entropy source), then replay it from the record list with a
// ReplayGate and no backends: device state, guest RAM and all outputs must be identical.

import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { PhysMemory } from '../../src/cpu/memory.js';
import { Pic8259 } from '../../src/devices/pic.js';
import { Uart16550 } from '../../src/devices/uart.js';
import { Pit8254 } from '../../src/devices/pit.js';
import { Rtc146818 } from '../../src/devices/rtc.js';
import { VirtioBlk } from '../../src/devices/virtio-blk.js';
import { VirtioNet, NET_HDR_LEN } from '../../src/devices/virtio-net.js';
import { FileDisk } from '../../src/devices/backends/disk.js';
import { ManualClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { LiveGate, ReplayGate, GateSwitch, GateDivergence, GateKind, type Gate, type GateRecord } from '../../src/machine/gate.js';
import { TestDriver } from './virtq-driver.js';

const SLICE = 100, SLICES = 60, END = SLICE * SLICES;

/** The devices as a machine wires them, plus a deterministic "guest" driving them. */
function machine(gate: Gate) {
  const mem = new PhysMemory(4 << 20);
  const out = { console: [] as number[], frames: [] as number[][], trace: [] as string[] };
  let icount = 0;
  const pic = new Pic8259();
  const uart = new Uart16550(0x3f8, (b) => out.console.push(b), pic.line(4));
  const pit = new Pit8254(pic.line(0));
  const rtc = new Rtc146818(pic.line(8));
  const blk = new VirtioBlk(mem, pic.line(5), gate.blockIo(0, () => icount), { sizeBytes: 64 * 512 });
  const net = new VirtioNet(mem, pic.line(6), (f) => out.frames.push(Array.from(f)), { mac: [2, 0, 0, 0, 0, 1] });
  gate.connect({ console: uart, clocks: [pit, rtc, uart], wall: [rtc], nets: [net], irq: (l, v) => pic.setIrq(l, v) });
  const bd = new TestDriver(mem, blk), nd = new TestDriver(mem, net);
  const io = (p: number, v?: number): number => {
    const h = p >= 0x3f8 ? uart : p >= 0x70 && p <= 0x71 ? rtc : p >= 0x40 && p <= 0x61 ? pit : pic;
    if (v === undefined) return h.portRead(p, 1);
    h.portWrite(p, 1, v); return 0;
  };
  let rxPosted = 0;

  const boot = (): void => {
    for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 4], [0x21, 1], [0xa0, 0x11], [0xa1, 0x28], [0xa1, 2], [0xa1, 1], [0x21, 0], [0xa1, 0]]) io(p!, v);
    pic.portWrite(0x4d0, 1, 0x60); // ELCR: virtio lines 5 and 6 level-triggered
    for (const [p, v] of [[0x3fb, 0x80], [0x3f8, 1], [0x3f9, 0], [0x3fb, 3], [0x3fa, 0xc7], [0x3fc, 0x0b], [0x3f9, 1]]) io(p!, v);
    io(0x43, 0x34); io(0x40, 0x9c); io(0x40, 0x2e); // 100 Hz
    bd.negotiate(0); bd.setupQueue(0, 8, 0x10000); bd.driverOk();
    nd.negotiate(1 << 5); nd.setupQueue(0, 8, 0x20000); nd.setupQueue(1, 8, 0x30000); nd.driverOk();
    for (let i = 0; i < 4; i++) { nd.submit(0, [{ addr: 0x200000 + i * 0x800, len: 0x800, write: true }]); rxPosted++; }
    nd.notify(0);
  };

  /** One guest instruction's worth of behaviour at `icount`. */
  const step = (ic: number): void => {
    icount = ic;
    if (ic === 0) boot();
    if (ic % 50 === 7) {
      const [lo, hi] = gate.tsc(ic);
      out.trace.push(`tsc ${ic} ${hi}:${lo}`);
    }
    if (ic % 500 === 11) { const [a, b] = gate.rdrand(ic); out.trace.push(`rnd ${a} ${b}`); }
    if (ic % 10 !== 0) return;
    while (pic.intrPending()) {
      const v = pic.intrAcknowledge();
      out.trace.push(`int ${ic} ${v}`);
      if (v === 0x20) {
        io(0x43, 0); const c = io(0x40) | (io(0x40) << 8);
        io(0x70, 0); out.trace.push(`pit ${c} sec ${io(0x71)}`);
      } else if (v === 0x24) {
        while (io(0x3fd) & 1) {
          const b = io(0x3f8);
          io(0x3f8, b >= 0x61 && b <= 0x7a ? b - 32 : b);
          if (b >= 0x30 && b <= 0x39) { // a digit: read that sector from the disk
            mem.dv.setUint32(0x100000, 0, true); mem.dv.setUint32(0x100008, b - 0x30, true);
            bd.submit(0, [{ addr: 0x100000, len: 16 }, { addr: 0x101000 + (b - 0x30) * 512, len: 512, write: true }, { addr: 0x100800, len: 1, write: true }]);
            bd.notify(0);
          } else if (b === 0x21) { // '!': write sector 9
            mem.dv.setUint32(0x100000, 1, true); mem.dv.setUint32(0x100008, 9, true);
            bd.submit(0, [{ addr: 0x100000, len: 16 }, { addr: 0x101000, len: 512 }, { addr: 0x100800, len: 1, write: true }]);
            bd.notify(0);
          }
        }
      } else if (v === 0x25) {
        blk.mmioWrite(0x64, 4, blk.mmioRead(0x60, 4));
        for (const u of bd.used(0)) out.trace.push(`blk ${u.id} ${u.len} st ${mem.u8[0x100800]}`);
      } else if (v === 0x26) {
        net.mmioWrite(0x64, 4, net.mmioRead(0x60, 4));
        for (const u of nd.used(0)) {
          out.trace.push(`rx ${u.id} ${u.len}`);
          // echo the frame back with the first byte changed
          const a = 0x200000 + u.id * 0x800;
          mem.u8[a + NET_HDR_LEN] = 0xee;
          nd.submit(1, [{ addr: a, len: u.len }]);
          nd.notify(1);
          nd.submit(0, [{ addr: 0x200000 + (rxPosted++ % 4) * 0x800, len: 0x800, write: true }]);
          nd.notify(0);
        }
        nd.used(1);
      }
      if (v >= 0x28) io(0xa0, 0x20);
      io(0x20, 0x20);
    }
  };

  const state = (): string => JSON.stringify({
    pic: pic.saveState(), uart: uart.saveState(), pit: pit.saveState(), rtc: rtc.saveState(),
    blk: blk.saveState(), net: net.saveState(), mem: createHash('sha256').update(mem.u8).digest('hex'),
  });
  return { step, out, state };
}

function diskImage(dir: string): string {
  const p = join(dir, 'd.img');
  const b = new Uint8Array(64 * 512);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  writeFileSync(p, b);
  return p;
}

function record(dir: string): { log: GateRecord[]; out: ReturnType<typeof machine>['out']; state: string } {
  const disk = FileDisk.open(diskImage(dir));
  const clock = new ManualClock(0, Date.UTC(2025, 0, 1));
  const typed: number[] = [];
  const frames: Uint8Array[] = [];
  const log: GateRecord[] = [];
  const gate = new LiveGate({
    clock, entropy: new SystemEntropy(), disks: [disk],
    console: { read: (max) => (typed.length ? Uint8Array.from(typed.splice(0, max)) : null) },
    nets: [{ receive: () => frames.shift() }],
  }, { onRecord: (r) => log.push(r) });
  const m = machine(gate);
  for (let s = 0; s < SLICES; s++) {
    for (let ic = s * SLICE; ic < (s + 1) * SLICE; ic++) m.step(ic);
    clock.advance(3_000_000 + (s % 7) * 911_111);     // jittery host time
    if (s === 5) typed.push(...new TextEncoder().encode('hello 3 world 5!'));
    if (s === 9) typed.push(...new TextEncoder().encode('a'.repeat(40) + '7'));
    if (s === 12 || s === 13) for (let k = 0; k < 3; k++) frames.push(new Uint8Array(64).fill(s * 10 + k));
    if (s === 30) gate.requestIrq(3, true);
    gate.poll((s + 1) * SLICE);
  }
  disk.close();
  return { log, out: m.out, state: m.state() };
}

function replay(log: GateRecord[]): { out: ReturnType<typeof machine>['out']; state: string; gate: ReplayGate } {
  const gate = new ReplayGate(log);
  const m = machine(gate);
  let ic = 0;
  for (;;) {
    const next = gate.nextPoll();
    expect(next).not.toBeUndefined();
    const stop = Math.min(next!, END);
    while (ic < stop) m.step(ic++);
    if (next === Infinity || ic >= END && next! > END) break;
    expect(gate.poll(ic)).toBe(true);
  }
  return { out: m.out, state: m.state(), gate };
}

describe('gate: record with a LiveGate, replay from the list', () => {
  it('replays to identical device state, guest RAM and outputs, with no backends', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-gate-'));
    try {
      const rec = record(dir);
      // the run exercised every source
      const kinds = new Set(rec.log.map((r) => r.kind));
      for (const k of [GateKind.Time, GateKind.Wall, GateKind.ConsoleIn, GateKind.NetRx, GateKind.Irq, GateKind.Tsc, GateKind.Rdrand, GateKind.DiskRead, GateKind.DiskWrite]) expect(kinds).toContain(k);
      expect(rec.out.trace.filter((t) => t.startsWith('int') && t.endsWith(' 32')).length).toBeGreaterThan(5);
      expect(rec.out.frames.length).toBe(6);
      expect(new TextDecoder().decode(Uint8Array.from(rec.out.console))).toContain('HELLO 3 WORLD 5!');

      // the log survives a structured clone (what a codec does)
      const rep = replay(structuredClone(rec.log));
      expect(rep.gate.remaining).toBe(0);
      expect(rep.out.console).toEqual(rec.out.console);
      expect(rep.out.frames).toEqual(rec.out.frames);
      expect(rep.out.trace).toEqual(rec.out.trace);
      expect(rep.state).toBe(rec.state);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a divergence precisely when the log does not match the machine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-gate-'));
    try {
      const rec = record(dir);
      const i = rec.log.findIndex((r) => r.kind === GateKind.Tsc);
      const bad = rec.log.slice();
      bad[i] = { ...bad[i]!, icount: bad[i]!.icount + 1 };
      expect(() => replay(bad)).toThrow(GateDivergence);
      expect(() => replay(bad)).toThrow(/asks Tsc\[0\] at icount 7, log has Tsc\[0\] at 8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a streaming replay waits (nextPoll undefined) until the unit is complete', () => {
    const g = new ReplayGate([], false);
    expect(g.nextPoll()).toBeUndefined();
    g.feed([{ icount: 100, kind: GateKind.ConsoleIn, chan: 0, payload: Uint8Array.of(65) }]);
    expect(g.nextPoll()).toBeUndefined();
    expect(g.poll(100)).toBe(false);
    g.feed([{ icount: 100, kind: GateKind.Time, chan: 0, payload: 5 }]);
    expect(g.nextPoll()).toBe(100);
    let got = 0;
    g.connect({ console: { rxSpace: () => 16, rxBytes: (b) => { got += b.length; } }, clocks: [{ setTime: (ns) => { got += ns; } }] });
    expect(g.poll(100)).toBe(true);
    expect(got).toBe(6);
    g.end();
    expect(g.nextPoll()).toBe(Infinity);
  });

  it('GateSwitch goes live with guest time continuing', () => {
    const rg = new ReplayGate([{ icount: 10, kind: GateKind.Time, chan: 0, payload: 5e6 }]);
    const sw = new GateSwitch(rg);
    const times: number[] = [];
    sw.connect({ clocks: [{ setTime: (ns) => times.push(ns) }] });
    sw.poll(10);
    const clock = new ManualClock(123e9);
    sw.use(new LiveGate({ clock }, { startNs: rg.lastTimeNs }));
    expect(sw.mode).toBe('live');
    clock.advance(1e6);
    sw.poll(20);
    expect(times).toEqual([5e6, 6e6]);
  });
});
