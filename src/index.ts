// Library entry point: `import { Machine } from 'x86ft'`.
export { Machine, type MachineOptions, type RunResult, type RunEnd } from './machine/machine.js';
export { ElfError } from './machine/boot.js';
export { Cpu, Stop } from './cpu/cpu.js';
export { PhysMemory } from './cpu/memory.js';
export { Bus } from './machine/bus.js';
