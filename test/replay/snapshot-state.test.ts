// Snapshots and digests cover the whole machine (issue 8). Each kind has a test holding the right value:
// - every field of the CPU's declared register file (generated from CPU_FIELDS, so a new field is covered
//   automatically) changes the digest and survives a snapshot round trip through bytes into a fresh Machine;
// - debug registers belong to one machine and read back as the SDM says;
// - x87 state (control word, long doubles) survives a snapshot taken mid-computation;
// - the machine that takes a snapshot and the one restored from it see the same translations (a PTE
//   changed without INVLPG before the snapshot);
// - RAM written by a device (virtio DMA) over code that already ran is executed anew, also on replay.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate, type DiskBackend } from '../../src/machine/gate.js';
import { ManualClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { CPU_FIELDS, CPU_WORDS, readCpuWords } from '../../src/cpu/state.js';
import { computeDigest, fullStateHash, resetDirty, OutputTally, sameDigest } from '../../src/replay/digest.js';
import { takeSnapshot, restoreSnapshot } from '../../src/replay/machine-snapshot.js';
import { encodeSnapshot, decodeSnapshot } from '../../src/replay/snapshot.js';
import { Recorder } from '../../src/replay/recorder.js';
import { assembleGuest, EXIT_AL } from '../helpers/asm.js';
import { memorySink, replayBytes } from './record-replay-helpers.js';

const MEM = 2 << 20;
const gate = () => new LiveGate({ clock: new ManualClock(), entropy: new SystemEntropy() });

/** Assembles `src` and returns the image and its symbol table. */
function guest(src: string, name: string): { image: Uint8Array; sym: Record<string, number> } {
  const path = assembleGuest(src, name);
  const sym: Record<string, number> = {};
  for (const line of execFileSync('nm', [path], { encoding: 'utf8' }).split('\n')) {
    const m = /^([0-9a-f]+) \w (\w+)$/.exec(line);
    if (m) sym[m[2]!] = parseInt(m[1]!, 16);
  }
  return { image: new Uint8Array(readFileSync(path)), sym };
}

/** Runs `m` one instruction at a time until RIP is `rip` (at most `max` instructions). */
function runToRip(m: Machine, rip: number, max = 100_000): void {
  for (let k = 0; k < max && m.cpu.rip !== rip; k++) m.run(m.cpu.icount + 1);
  expect(m.cpu.rip).toBe(rip);
}

const restore = (bytes: Uint8Array) => restoreSnapshot(bytes, { gate: gate() }).machine;

describe('the CPU register file, declared once (CPU_FIELDS)', () => {
  // a machine in a non-trivial state: booted, some instructions run, the FPU in use
  const { image } = guest(`_start:
  fldpi
  fld1
  mov $7, %rax
  xor %ecx, %ecx
  hlt
`, 'fields');
  const base = Machine.fromElf(image, { memSize: MEM, gate: gate() });
  base.run(4);
  const words = readCpuWords(base.cpu);

  it('covers the x87 unit and the debug registers', () => {
    const names = CPU_FIELDS.map((f) => f.name);
    for (const n of ['FCW', 'FSW', 'FTW', 'FOP', 'FIP', 'FDP', 'R0', 'R7', 'DR0', 'DR3', 'DR6', 'DR7', 'MXCSR', 'XMM15', 'RIP', 'RFLAGS', 'icount']) expect(names).toContain(n);
    expect(new Set(names).size).toBe(names.length);
    expect(CPU_WORDS).toBe(CPU_FIELDS.reduce((n, f) => n + f.words, 0));
  });

  // One case per field word, changing the lowest bit the word holds in even words, the highest in odd ones.
  let at = 0;
  const cases: { name: string; word: number; bit: number; index: number; offset: number }[] = [];
  CPU_FIELDS.forEach((f, index) => {
    for (let k = 0; k < f.words; k++) {
      const bits = f.bits[k]!;
      if (bits === 0) continue;
      const bit = (at + k) % 2 === 0 ? (bits & -bits) >>> 0 : 2 ** (31 - Math.clz32(bits));
      cases.push({ name: `${f.name} word ${k}`, word: at + k, bit, index, offset: at });
    }
    at += f.words;
  });
  const m = restore(takeSnapshot(base, { imageSha256: '0'.repeat(64) }).bytes);
  const out = new OutputTally();

  it('round-trips through a snapshot unchanged', () => expect(readCpuWords(m.cpu)).toEqual(words));

  it.each(cases)('$name, bit $bit: the digest changes and a snapshot (bytes -> fresh Machine) keeps it', ({ word, bit, index, offset }) => {
    const f = CPU_FIELDS[index]!;
    resetDirty(m);
    const before = computeDigest(m, out);
    const w = readCpuWords(m.cpu);
    w[word] = (w[word]! ^ bit) >>> 0;
    f.set(m.cpu, w, offset);
    try {
      expect(readCpuWords(m.cpu)[word]).toBe(w[word]); // the declaration reads back what it set
      expect(sameDigest(before, computeDigest(m, out))).toBe(false);
      const again = restore(takeSnapshot(m, { imageSha256: '0'.repeat(64) }).bytes);
      expect(readCpuWords(again.cpu)).toEqual(readCpuWords(m.cpu));
      expect(sameDigest(computeDigest(again, out), computeDigest(m, out))).toBe(true);
    } finally {
      f.set(m.cpu, words, offset); // back to the base state for the next field
    }
  });

  it('a version-1 snapshot (no x87 state) is refused with a clear message', () => {
    const snap = decodeSnapshot(takeSnapshot(base, { imageSha256: '0'.repeat(64) }).bytes);
    const old = encodeSnapshot({ sections: { ...snap.sections, version: 1 }, ram: snap.ram });
    expect(() => restore(old.bytes)).toThrow(/version-1 machine snapshot.*x87.*cannot be restored faithfully/);
    const cpu = snap.sections.cpu as { fields: Record<string, number[]> };
    const { FCW: _drop, ...fewer } = cpu.fields;
    const missing = encodeSnapshot({ sections: { ...snap.sections, cpu: { ...cpu, fields: fewer } }, ram: snap.ram });
    expect(() => restore(missing.bytes)).toThrow(/CPU field FCW is missing/);
  });
});

describe('debug registers (SDM Vol. 3 §18.2)', () => {
  const { image } = guest(`_start:
  mov $0x123456789a, %rax
  mov %rax, %dr0
  mov %dr0, %rbx
  xor %eax, %eax
  mov %rax, %dr7
  mov %dr7, %rcx
  mov %rax, %dr6
  mov %dr4, %rdx
  mov $0x3, %eax
  mov %rax, %dr5
  mov %dr7, %rsi
  ${EXIT_AL}`, 'dr');

  it('belong to one machine, read back with their fixed bits, DR4/DR5 alias DR6/DR7', () => {
    const a = Machine.fromElf(image, { memSize: MEM, gate: gate() });
    const b = Machine.fromElf(image, { memSize: MEM, gate: gate() });
    expect(a.run().end).toBe('exit');
    const reg = (m: Machine, n: number) => Number(m.cpu.reg64(n));
    expect(reg(a, 3)).toBe(0x123456789a); // RBX = DR0
    expect(reg(a, 1)).toBe(0x400); // RCX = DR7 after writing 0: bit 10 reads as 1
    expect(reg(a, 2)).toBe(0xffff0ff0); // RDX = DR4 = DR6 after writing 0: bits 4-11, 16-31 read as 1
    expect(reg(a, 6)).toBe(0x403); // RSI = DR7 after writing 3 to DR5
    expect(b.cpu.dr[0]).toBe(0); // the other machine's DR0 is untouched
    const r = restore(takeSnapshot(a, { imageSha256: '0'.repeat(64) }).bytes);
    expect(Array.from(r.cpu.dr)).toEqual(Array.from(a.cpu.dr));
  });
});

describe('x87 state across a snapshot', () => {
  // Round-up control word, an 80-bit value on the stack at the snapshot point; then the rest of the
  // computation, whose result (stored as a double) depends on both.
  const { image, sym } = guest(`_start:
  fninit
  fldcw cw
  fldpi
  fldl three
  fld1
  fdiv %st(1), %st
snap_here:
  fstp %st(1)
  faddp
  fstpl out
  mov out, %rax
  mov out+4, %rbx
  xor %ebx, %eax
  ${EXIT_AL}
.data
.balign 8
cw: .short 0x0b7f
three: .double 3.0
out: .double 0
`, 'x87snap');

  it('a run restored from a mid-computation snapshot ends exactly like the uninterrupted one', () => {
    const whole = Machine.fromElf(image, { memSize: MEM, gate: gate() });
    const r0 = whole.run();
    expect(r0.end).toBe('exit');
    const m = Machine.fromElf(image, { memSize: MEM, gate: gate() });
    runToRip(m, sym.snap_here!);
    const snap = takeSnapshot(m, { imageSha256: '0'.repeat(64) });
    const r = restore(snap.bytes);
    const r1 = r.run();
    expect(r1).toEqual(r0);
    expect(fullStateHash(r)).toBe(fullStateHash(whole));
    // the state that made the difference: without it (a reset FPU) the run ends otherwise
    const reset = restore(snap.bytes);
    reset.cpu.x87 = null;
    reset.run();
    expect(fullStateHash(reset)).not.toBe(fullStateHash(whole));
  });
});

describe('translations at a snapshot point', () => {
  // Map linear 0x150000 to 0x151000 in the boot page table (PT0 at 0x8000) without INVLPG after the
  // TLB holds the old translation; the read after the snapshot point sees whichever the TLB says.
  const { image, sym } = guest(`_start:
  movl $0x11, 0x150000
  movl $0x22, 0x151000
  mov 0x150000, %eax
  movq $0x151007, 0x8000 + 0x150 * 8
snap_here:
  mov 0x150000, %eax
  ${EXIT_AL}`, 'staletlb');

  it('the machine that takes the snapshot and the restored one read the same value', () => {
    const m = Machine.fromElf(image, { memSize: MEM, gate: gate() });
    runToRip(m, sym.snap_here!);
    const snap = takeSnapshot(m, { imageSha256: '0'.repeat(64) });
    const restored = restore(snap.bytes);
    const a = m.run(), b = restored.run();
    expect(a.end).toBe('exit');
    expect(b).toEqual(a);
    expect(a.status).toBe(0x22); // both walk the page table as it is in RAM
    expect(fullStateHash(restored)).toBe(fullStateHash(m));
  });
});

describe('RAM written by a device over code that already ran', () => {
  // f (its own page) returns 1 and runs hot (compiled); the guest then has virtio-blk read sector 0,
  // whose bytes are "mov $2, %eax; ret", into f's page, and calls f again: exit status 0x12.
  const { image } = guest(`_start:
  mov $100, %ecx
1: call f
  dec %ecx
  jnz 1b
  mov %eax, %ebx
  mov $0xd0000000, %rdx
  movl $0, 0x70(%rdx)
  movl $1, 0x70(%rdx)
  movl $3, 0x70(%rdx)
  movl $1, 0x24(%rdx)
  movl $1, 0x20(%rdx)
  movl $0, 0x24(%rdx)
  movl $0, 0x20(%rdx)
  movl $0xb, 0x70(%rdx)
  movl $0, 0x30(%rdx)
  movl $8, 0x38(%rdx)
  movl $desc, 0x80(%rdx)
  movl $0, 0x84(%rdx)
  movl $avail, 0x90(%rdx)
  movl $0, 0x94(%rdx)
  movl $used, 0xa0(%rdx)
  movl $0, 0xa4(%rdx)
  movl $1, 0x44(%rdx)
  movl $0xf, 0x70(%rdx)
  movl $0, 0x50(%rdx)
  call f
  shl $4, %ebx
  or %ebx, %eax
  ${EXIT_AL}
.balign 4096
f: mov $1, %eax
  ret
.balign 4096
.data
.balign 16
desc:
  .quad hdr
  .long 16
  .short 1, 1
  .quad f
  .long 512
  .short 3, 2
  .quad status
  .long 1
  .short 2, 0
avail: .short 0, 1, 0, 0, 0, 0, 0, 0, 0, 0
.balign 8
used: .fill 80, 1, 0
hdr: .long 0, 0
  .quad 0
status: .byte 0xff
`, 'dmacode');
  const sector = new Uint8Array(4096);
  sector.set([0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3]);
  const disk = (): DiskBackend => ({ size: sector.length, read: (o, l) => sector.slice(o, o + l), write() {}, flush() {} });
  const config = { memSize: MEM, disks: [{ sizeBytes: sector.length }] };

  it('the new code runs (f returns 2), live and on replay', async () => {
    const m = Machine.fromElf(image, { ...config, gate: new LiveGate({ clock: new ManualClock(), disks: [disk()] }) });
    expect(m.run()).toMatchObject({ end: 'exit', status: 0x12 });
    // recorded and replayed: the DMA data comes from the log, the replayed guest runs the new code too
    const sink = memorySink();
    const rec = new Recorder({ sink, image, digestEvery: 200 });
    const live = Machine.fromElf(image, { ...config, gate: new LiveGate({ clock: new ManualClock(), disks: [disk()] }, { onRecord: rec.onRecord }) });
    rec.attach(live);
    expect(await rec.run()).toMatchObject({ end: 'exit', status: 0x12 });
    const rep = await replayBytes(sink.bytes(), { image });
    expect(rep.report.outcome).toBe('identical');
    expect(rep.report.run).toMatchObject({ end: 'exit', status: 0x12 });
    expect(rep.stateHash).toBe(fullStateHash(live));
  });

  it('control: without the invalidation the stale decoded code runs (f returns 1)', () => {
    const m = Machine.fromElf(image, { ...config, gate: new LiveGate({ clock: new ManualClock(), disks: [disk()] }) });
    m.mem.onWrite = null;
    expect(m.run()).toMatchObject({ end: 'exit', status: 0x11 });
  });
});
