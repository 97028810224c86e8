// Run a gcc-built guest with a device of your own on I/O ports: the guest (guests/src/dev_portdev.c) feeds
// bytes to port 0x600 and reads their CRC-32 from port 0x604. x86ft has no such device; this script
// registers one on the machine's bus before the guest runs. The CRC comes from Node's zlib.
import { Machine } from 'x86ft';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';

const image = readFileSync(new URL('../guests/build/dev_portdev-O2.elf', import.meta.url));

/** The device: a PortHandler (portRead/portWrite get the port, the access size in bytes and the value). */
class Crc32Device {
  bytes = [];
  portWrite(port, size, value) {
    if (port === 0x600) this.bytes.push(value & 0xff);
    else if (port === 0x604) this.bytes = [];
  }
  portRead(port, size) {
    return port === 0x604 ? crc32(Uint8Array.from(this.bytes)) : 0xffffffff;
  }
}

let out = '';
const m = Machine.fromElf(image, { cmdline: 'x86ft', consoleOut: (b) => { out += String.fromCharCode(b); } });
const dev = new Crc32Device();
m.bus.registerPorts(0x600, 8, dev); // ports 0x600-0x607; a port registered twice is an error

// count the guest's port accesses with hooks (hooks on ports cost nothing until an access happens)
let ins = 0, outs = 0;
m.hookAdd('in', () => { ins++; }, { begin: 0x600, end: 0x608 });
m.hookAdd('out', () => { outs++; }, { begin: 0x600, end: 0x608 });

const r = m.run(50_000_000);
process.stdout.write(out);
console.log(`guest: end=${r.end} status=${r.status}; port accesses to the device: ${outs} OUT, ${ins} IN`);
