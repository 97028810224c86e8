// Emulate a few bytes of x86-64 code, Unicorn style: create a machine without an ELF, write code,
// set registers, run to an address or for a count of instructions, read registers back.
import { Machine, Reg, X86ftError } from 'x86ft';

const ADDRESS = 0x100000;
// inc rcx; dec rdx; add rax, rbx; out 0x80, al
const CODE = Uint8Array.of(0x48, 0xff, 0xc1, 0x48, 0xff, 0xca, 0x48, 0x01, 0xd8, 0xe6, 0x80);

const m = Machine.create({ memSize: 4 * 1024 * 1024 });
m.memWrite(ADDRESS, CODE);
m.regWrite(Reg.RAX, 0xffff_ffff_ffff_fff0n);
m.regWrite(Reg.RBX, 0x20n);
m.regWrite(Reg.RCX, 0x1234n);
m.regWrite(Reg.RDX, 0x7890n);

// a custom I/O port device: the guest's OUT 0x80 reaches this handler
const seen = [];
m.bus.registerPorts(0x80, 1, {
  portRead: () => 0xff,
  portWrite: (port, size, value) => { seen.push(value); m.emuStop(); },
});

// exactly two instructions, counted from this call
let r = m.emuStart(ADDRESS, null, { count: 2 });
console.log(`count: end=${r.end} instructions=${r.instructions} RCX=0x${m.regRead(Reg.RCX).toString(16)} RDX=0x${m.regRead(Reg.RDX).toString(16)}`);

// on to the address of OUT (not executed)
r = m.emuStart(m.regRead(Reg.RIP), ADDRESS + 9);
console.log(`until: end=${r.end} instructions=${r.instructions} RAX=0x${m.regRead(Reg.RAX).toString(16)} RIP=0x${m.regRead(Reg.RIP).toString(16)}`);

// the OUT calls the device, which stops the run
r = m.emuStart(ADDRESS + 9, null);
console.log(`port: end=${r.end} instructions=${r.instructions} port 0x80 got ${seen.map((v) => '0x' + v.toString(16)).join(',')}`);

// errors are X86ftError subclasses with a code
try { m.regWrite(Reg.RAX, 1); } catch (e) { console.log(`error: ${e instanceof X86ftError} ${e.code}`); }
console.log(`total icount=${m.icount}`);
