// Fills the opcode table (decoder.ts TABLE) from every instruction family. Imported once by cpu.ts users.

import { installAlu } from './ops/alu.js';
import { installMov } from './ops/mov.js';
import { installControl } from './ops/control.js';
import { installFar } from './ops/far.js';
import { installSystem } from './ops/system.js';
import { installShift } from './ops/shift.js';
import { installMulDiv } from './ops/muldiv.js';
import { installBits } from './ops/bits.js';
import { installString } from './ops/string.js';
import { installSse } from './ops/sse.js';
import { installX87 } from './ops/x87.js';

let installed = false;

export function installTable(): void {
  if (installed) return;
  installed = true;
  installAlu();
  installMov();
  installControl();
  installFar();
  installSystem();
  installShift();
  installMulDiv();
  installBits();
  installString();
  installSse();
  installX87();
}
