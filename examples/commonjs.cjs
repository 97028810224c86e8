// The same library from CommonJS: require('x86ft') loads the package's CommonJS build (its `exports` map
// sends `require` to dist/cjs/index.cjs and `import` to the ES modules).
const { Machine, Reg, InvalidArgumentError } = require('x86ft');

const m = Machine.create({ memSize: 2 * 1024 * 1024 });
// mov ecx, 10; L: add rax, rcx; loop L   (LOOP decrements RCX and jumps while it is not zero)
m.memWrite(0x100000, Uint8Array.of(0xb9, 10, 0, 0, 0, 0x48, 0x01, 0xc8, 0xe2, 0xfb));
let blocks = 0;
m.hookAdd('block', () => { blocks++; });
const r = m.emuStart(0x100000, 0x10000a);
console.log(`end=${r.end} instructions=${r.instructions} blocks=${blocks} RAX=${m.regRead(Reg.RAX)}`);
try { m.emuStart(0x100000, null, { count: -1 }); } catch (e) { console.log(`${e instanceof InvalidArgumentError} ${e.code}`); }
