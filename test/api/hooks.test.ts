// Machine.hookAdd / hookDel (the library's Unicorn-shaped hooks) on code whose behaviour the Intel SDM fixes:
// each event kind fires where the manual says the event happens, counts stay exact with hooks on, ranges
// filter, handles remove, and a machine with no hook left runs without the CPU's hook object.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine, Reg, Vec, InvalidArgumentError, type HookEvent } from '../../src/index.js';

const AT = 0x100000;
const mk = (code: number[]) => { const m = Machine.create({ memSize: 4 << 20 }); m.memWrite(AT, Uint8Array.from(code)); return m; };
// mov ecx, 1000; L: dec ecx; jnz L   (L = AT+5; the loop ends at AT+9)
const LOOP = [0xb9, 0xe8, 0x03, 0, 0, 0xff, 0xc9, 0x75, 0xfc];

describe('Machine.hookAdd', () => {
  it('code and block hooks: one code event per retired instruction, one block event per control transfer (SDM Jcc)', () => {
    const m = mk(LOOP);
    const at = new Map<number, number>();
    let blocks = 0, sizes = 0;
    m.hookAdd('code', (e) => { at.set(e.address, (at.get(e.address) ?? 0) + 1); sizes += e.size; });
    m.hookAdd('block', () => { blocks++; });
    const r = m.emuStart(AT, AT + 9);
    // 1 MOV + 1000 x (DEC, JNZ): 2001 instructions; JNZ is taken 999 times, so blocks start at AT once and at L 999 times
    expect(r).toMatchObject({ end: 'until', instructions: 2001 });
    expect([...at]).toEqual([[AT, 1], [AT + 5, 1000], [AT + 7, 1000]]);
    expect(sizes).toBe(5 + 1000 * 2 + 1000 * 2);
    expect(blocks).toBe(1000);
    expect(m.regRead(Reg.RCX)).toBe(0n);
  });

  it('count stays exact with hooks on, also for REP iterations (SDM: RCX counts down per iteration)', () => {
    // mov ecx, 5; rep stosb; nop
    const code = [0xb9, 5, 0, 0, 0, 0xf3, 0xaa, 0x90];
    const plain = mk(code), hooked = mk(code);
    let calls = 0, writes = 0;
    hooked.hookAdd('code', () => { calls++; });
    hooked.hookAdd('mem-write', (e) => { writes++; expect(e.size).toBe(1); });
    for (const m of [plain, hooked]) m.regWrite(Reg.RDI, 0x200000n);
    for (const m of [plain, hooked]) expect(m.emuStart(AT, null, { count: 4 })).toMatchObject({ end: 'count', instructions: 4 });
    expect(calls).toBe(4); // MOV + 3 iterations
    expect(writes).toBe(3);
    expect(hooked.regRead(Reg.RCX)).toBe(2n);
    expect(plain.regRead(Reg.RCX)).toBe(2n);
  });

  it('a gcc-built guest under a code hook: one event per instruction, the same output and count as without hooks', () => {
    const image = new Uint8Array(readFileSync('guests/build/hello-O2.elf'));
    const outA: number[] = [], outB: number[] = [];
    const a = Machine.fromElf(image, { consoleOut: (b) => outA.push(b) });
    const b = Machine.fromElf(image, { consoleOut: (b) => outB.push(b) });
    let calls = 0;
    b.hookAdd('code', () => { calls++; });
    const ra = a.run(5_000_000), rb = b.run(5_000_000);
    expect(ra.end).toBe('exit');
    expect(rb).toEqual(ra);
    expect(calls).toBe(rb.instructions);
    expect(Buffer.from(outB).toString()).toBe(Buffer.from(outA).toString());
  });

  it('memory hooks see RAM reads and writes in their range, with the written value', () => {
    // mov dword [rbx], eax; mov edx, dword [rbx+4]; mov dword [rbx+0x100], eax
    const m = mk([0x89, 0x03, 0x8b, 0x53, 0x04, 0x89, 0x83, 0x00, 0x01, 0x00, 0x00]);
    m.regWrite(Reg.RBX, 0x200000n);
    m.regWrite(Reg.RAX, 0xdeadbeefn);
    const seen: string[] = [];
    m.hookAdd('mem-write', (e) => { seen.push(`${e.kind} ${e.address.toString(16)} ${e.size} ${e.value.toString(16)}`); }, { begin: 0x200000, end: 0x200008 });
    m.hookAdd('mem-read', (e) => { seen.push(`${e.kind} ${e.address.toString(16)} ${e.size}`); }, { begin: 0x200000n, end: 0x200008n });
    m.hookAdd('mem-fetch', (e) => { seen.push(`fetch ${e.address.toString(16)}`); }, { begin: AT + 2, end: AT + 3 });
    expect(m.emuStart(AT, AT + 11).end).toBe('until');
    expect(seen).toEqual(['mem-write 200000 4 deadbeef', 'fetch 100002', 'mem-read 200004 4']); // the write at +0x100 is outside the range
  });

  it('mem-unmapped: a read beyond the identity map is a not-present #PF (CR2 = the address)', () => {
    const m = mk([0x8b, 0x03]); // mov eax, [rbx]
    m.regWrite(Reg.RBX, 0x2_0000_0000n); // above the 4 GiB Machine.create maps
    const ev: HookEvent[] = [];
    m.hookAdd('mem-unmapped', (e) => { ev.push({ ...e }); });
    m.hookAdd('mem-prot', (e) => { ev.push({ ...e }); });
    expect(m.emuStart(AT, null).end).toBe('fault'); // no IDT
    expect(ev).toEqual([{ kind: 'mem-unmapped', access: 'read', address: 0x2_0000_0000, errorCode: 0, rip: AT }]);
  });

  it('mem-prot: a supervisor write to a read-only page with CR0.WP = 1 is a present #PF (error code P|W)', () => {
    // Own page tables at 0x10000: 2 MiB pages, 0-2 MiB writable, 2-4 MiB read-only (SDM Vol. 3A §4.5, §4.6)
    const m = Machine.create({ memSize: 4 << 20 });
    const pt = new DataView(new ArrayBuffer(0x3000));
    pt.setUint32(0, 0x11000 | 3, true);          // PML4[0] -> PDPT
    pt.setUint32(0x1000, 0x12000 | 3, true);     // PDPT[0] -> PD
    pt.setUint32(0x2000, 0x000000 | 0x83, true); // PD[0]: P RW PS
    pt.setUint32(0x2008, 0x200000 | 0x81, true); // PD[1]: P PS, read-only
    m.memWrite(0x10000, new Uint8Array(pt.buffer));
    // mov eax, 0x10000; mov cr3, rax; mov dword [0x200010], eax (absolute via rbx)
    m.memWrite(AT, Uint8Array.of(0xb8, 0, 0, 1, 0, 0x0f, 0x22, 0xd8, 0xbb, 0x10, 0, 0x20, 0, 0x89, 0x03));
    const ev: HookEvent[] = [];
    m.hookAdd('mem-prot', (e) => { ev.push({ ...e }); });
    m.hookAdd('mem-unmapped', (e) => { ev.push({ ...e }); });
    expect(m.emuStart(AT, null).end).toBe('fault');
    expect(ev).toEqual([{ kind: 'mem-prot', access: 'write', address: 0x200010, errorCode: 3, rip: AT + 13 }]);
  });

  it('intr and insn-invalid: INT3 is soft vector 3, DIV by zero #DE, UD2 #UD at its address', () => {
    const ev: string[] = [];
    const run = (code: number[]) => {
      const m = mk(code);
      m.hookAdd('intr', (e) => { ev.push(`intr ${e.vector} ${e.soft} ${e.errorCode} ${e.rip.toString(16)}`); });
      m.hookAdd('insn-invalid', (e) => { ev.push(`invalid ${e.address.toString(16)}`); });
      return m.emuStart(AT, null).end;
    };
    expect(run([0x90, 0xcc])).toBe('fault');               // nop; int3 (no IDT)
    expect(run([0x31, 0xc9, 0xf7, 0xf1])).toBe('fault');   // xor ecx, ecx; div ecx
    expect(run([0x90, 0x90, 0x0f, 0x0b])).toBe('fault');   // nop; nop; ud2
    expect(ev).toEqual([`intr ${Vec.BP} true -1 100002`, `intr ${Vec.DE} false -1 100002`, `intr ${Vec.UD} false -1 100002`, 'invalid 100002']);
  });

  it('in/out hooks see port accesses in their port range, IN with the device\'s answer', () => {
    // mov dx, 0x300; in al, dx; out 0x80, al; out dx, al
    const m = mk([0x66, 0xba, 0x00, 0x03, 0xec, 0xe6, 0x80, 0xee]);
    m.bus.registerPorts(0x300, 1, { portRead: () => 0x5a, portWrite: () => {} });
    const ev: string[] = [];
    m.hookAdd('in', (e) => { ev.push(`in ${e.port.toString(16)} ${e.size} ${e.value.toString(16)}`); });
    m.hookAdd('out', (e) => { ev.push(`out ${e.port.toString(16)} ${e.size} ${e.value.toString(16)}`); }, { begin: 0x300, end: 0x301 });
    expect(m.emuStart(AT, AT + 8)).toMatchObject({ end: 'until', instructions: 4 });
    expect(ev).toEqual(['in 300 1 5a', 'out 300 1 5a']); // OUT 0x80 is outside the out hook's range
  });

  it('syscall: the hook sees SYSCALL start; emuStop there ends the run after it (RCX = next RIP, SDM SYSCALL)', () => {
    const m = mk([0x90, 0x0f, 0x05, 0x90]); // nop; syscall; nop
    const ev: number[] = [];
    m.hookAdd('syscall', (e) => { ev.push(e.address); m.emuStop(); });
    const r = m.emuStart(AT, null);
    expect(r).toMatchObject({ end: 'stopped', instructions: 2 });
    expect(ev).toEqual([AT + 1]);
    expect(m.regRead(Reg.RCX)).toBe(BigInt(AT + 3));
    expect(m.regRead(Reg.RIP)).toBe(0n); // LSTAR, never set
  });

  it('emuStop from a code hook stops before that instruction; hookDel removes; no hook left detaches', () => {
    const m = mk(LOOP);
    let n = 0;
    const h = m.hookAdd('code', () => { if (++n === 10) m.emuStop(); });
    const r = m.emuStart(AT, AT + 9);
    expect(r).toMatchObject({ end: 'stopped', instructions: 9 }); // the 10th instruction did not execute
    expect(m.hookDel(h)).toBe(true);
    expect(m.hookDel(h)).toBe(false);
    expect(m.cpu.hooks).toBeNull(); // the fast paths run untouched again
    expect(m.emuStart(m.regRead(Reg.RIP), AT + 9).end).toBe('until');
    expect(n).toBe(10);
    expect(m.icount).toBe(2001);
  });

  it('interrupt/port/syscall hooks alone keep the fast tiers (no single-stepping)', () => {
    const m = mk(LOOP);
    m.hookAdd('intr', () => {});
    m.hookAdd('in', () => {});
    expect(m.cpu.hooks?.needsStepping).toBe(false);
    expect(m.emuStart(AT, null, { count: 2001 })).toMatchObject({ end: 'count', instructions: 2001 });
    const c = m.hookAdd('code', () => {});
    expect(m.cpu.hooks?.needsStepping).toBe(true);
    m.hookDel(c);
    expect(m.cpu.hooks?.needsStepping).toBe(false);
  });

  it('an exception thrown by a callback stops the run and comes out of emuStart; run() reports it', () => {
    const m = mk(LOOP);
    m.hookAdd('code', (e) => { if (e.address === AT + 7) throw new Error('boom'); });
    expect(() => m.emuStart(AT, AT + 9)).toThrow('boom');
    expect(m.icount).toBe(2); // MOV, DEC; the JNZ did not run
    const r = m.run(10_000);
    expect(r.end).toBe('internal-error');
    expect(r.message).toMatch(/hook callback threw: boom/);
  });

  it('bad arguments: InvalidArgumentError', () => {
    const m = mk(LOOP);
    expect(() => m.hookAdd('nope' as 'code', () => {})).toThrow(InvalidArgumentError);
    expect(() => m.hookAdd('code', 5 as unknown as () => void)).toThrow(InvalidArgumentError);
    expect(() => m.hookAdd('code', () => {}, { begin: 10, end: 10 })).toThrow(/empty/);
    expect(() => m.hookAdd('code', () => {}, { begin: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => m.hookAdd('intr', () => {}, { begin: 0 })).toThrow(InvalidArgumentError);
    expect(m.cpu.hooks).toBeNull();
  });
});
