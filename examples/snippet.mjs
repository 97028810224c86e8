// Emulate a few bytes of x86-64 code, Unicorn style: create a machine without an ELF, write code,
// set registers, add hooks, run to an address or for a count of instructions, read registers back.
import { Machine, Reg, X86ftError } from 'x86ft';

const ADDRESS = 0x100000;
const DATA = 0x200000;
// inc rcx; dec rdx; add rax, rbx; mov [rdi], eax; out 0x80, al; ud2
const CODE = Uint8Array.of(0x48, 0xff, 0xc1, 0x48, 0xff, 0xca, 0x48, 0x01, 0xd8, 0x89, 0x07, 0xe6, 0x80, 0x0f, 0x0b);

const m = Machine.create({ memSize: 4 * 1024 * 1024 });
m.memWrite(ADDRESS, CODE);
m.regWrite(Reg.RAX, 0xffff_ffff_ffff_fff0n);
m.regWrite(Reg.RBX, 0x20n);
m.regWrite(Reg.RCX, 0x1234n);
m.regWrite(Reg.RDX, 0x7890n);
m.regWrite(Reg.RDI, BigInt(DATA));

// hooks (Unicorn's uc_hook_add): each gets one event kind, limited to a range, removed by handle
const hex = (v) => '0x' + v.toString(16);
const code = m.hookAdd('code', (e) => console.log(`>>> instruction at ${hex(e.address)}, ${e.size} bytes`), { begin: ADDRESS, end: ADDRESS + CODE.length });
m.hookAdd('mem-write', (e) => console.log(`>>> memory write at ${hex(e.address)}, ${e.size} bytes, value ${hex(e.value)}`), { begin: DATA, end: DATA + 0x1000 });
m.hookAdd('out', (e) => console.log(`>>> OUT port ${hex(e.port)}, ${e.size} byte(s), value ${hex(e.value)}`));
m.hookAdd('insn-invalid', (e) => console.log(`>>> invalid instruction at ${hex(e.address)}`));

// a custom I/O port device: the guest's OUT 0x80 reaches this handler, which stops the run
const seen = [];
m.bus.registerPorts(0x80, 1, {
  portRead: () => 0xff,
  portWrite: (port, size, value) => { seen.push(value); m.emuStop(); },
});

// exactly two instructions, counted from this call
let r = m.emuStart(ADDRESS, null, { count: 2 });
console.log(`count: end=${r.end} instructions=${r.instructions} RCX=${hex(m.regRead(Reg.RCX))} RDX=${hex(m.regRead(Reg.RDX))}`);

// without the code hook from here on; on to the address of OUT (not executed)
m.hookDel(code);
r = m.emuStart(m.regRead(Reg.RIP), ADDRESS + 11);
console.log(`until: end=${r.end} instructions=${r.instructions} RAX=${hex(m.regRead(Reg.RAX))} RIP=${hex(m.regRead(Reg.RIP))}`);
console.log(`memory at ${hex(DATA)}: ${Array.from(m.memRead(DATA, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`);

// the OUT calls the device, which stops the run
r = m.emuStart(ADDRESS + 11, null);
console.log(`port: end=${r.end} instructions=${r.instructions} port 0x80 got ${seen.map(hex).join(',')}`);

// UD2: no IDT in a machine from Machine.create, so the run ends with a fault report
r = m.emuStart(ADDRESS + 13, null);
console.log(`fault: end=${r.end} ${r.message.split(';')[0]}`);

// errors are X86ftError subclasses with a code
try { m.regWrite(Reg.RAX, 1); } catch (e) { console.log(`error: ${e instanceof X86ftError} ${e.code}`); }
console.log(`total icount=${m.icount}`);
