// Library entry point: `import { Machine } from 'x86ft'`.
export { Machine, DEFAULT_MEM, MIN_MEM, MAX_MEM, POLL_SLICE, type EmuOptions, type EmuEnd, type EmuResult, type MachineOptions, type MachineConfig, type MachineIo, type RunResult, type RunEnd } from './machine/machine.js';
export { X86ftError, InvalidArgumentError, GuestFaultError } from './errors.js';
export { Reg } from './machine/registers.js';
export { ElfError, BOOT } from './machine/boot.js';
export { Cpu, Stop, Vec } from './cpu/cpu.js';
export { PhysMemory } from './cpu/memory.js';
export { Bus, type PortHandler, type MmioHandler, type InterruptController } from './machine/bus.js';
export { LiveGate, ReplayGate, GateSwitch, GateKind, GateDivergence, type Gate, type GateRecord, type LiveBackends, type GuestTime } from './machine/gate.js';
export { SystemClock, ManualClock, SystemEntropy } from './devices/backends/clock.js';
export { FileDisk } from './devices/backends/disk.js';
export { UdpFrameTunnel } from './devices/backends/tunnel.js';
export { StdioConsole, FileConsole, TcpConsole } from './devices/backends/console.js';
export { Recorder, type RecorderOptions } from './replay/recorder.js';
export { Replayer, ReplaySession, type ReplayerOptions, type ReplayReport, type Divergence, type StepState, type GoLive } from './replay/replayer.js';
export { OutputSeam, OutputTally, type Output, type OutputMode, type OutputSinks } from './machine/outputs.js';
export { takeSnapshot, restoreSnapshot } from './replay/machine-snapshot.js';
export { CPU_FIELDS, saveCpu, loadCpu, snapshotPoint, type CpuField, type CpuState } from './cpu/state.js';
export * from './replay/index.js';
