// Library entry point: `import { Machine } from 'x86ft'`. Exactly the API the README's "Library API" section
// documents (test/api/docs.test.ts checks both directions); the log codec, the format's validators and
// the channel plumbing behind these stay internal (import them from their modules inside the repository).
// The machine, its run and its limits
export { Machine, DEFAULT_MEM, MIN_MEM, MAX_MEM, MAX_CMDLINE, type EmuOptions, type EmuEnd, type EmuResult, type MachineOptions, type MachineConfig, type MachineIo, type RunResult, type RunEnd } from './machine/machine.js';
export { BOOT } from './machine/boot.js';
export { Reg } from './machine/registers.js';
export { Cpu, Stop, Vec } from './cpu/cpu.js';
export { PhysMemory } from './cpu/memory.js';
export { Bus, type PortHandler, type MmioHandler, type InterruptController } from './machine/bus.js';
export { CPU_FIELDS, saveCpu, loadCpu, snapshotPoint, type CpuField, type CpuState } from './cpu/state.js';
// Hooks
export type { HookKind, HookEvent, HookEventOf, HookCallback, HookRange, HookHandle, CodeEvent, BlockEvent, MemEvent, MemFaultEvent, IntrEvent, InvalidInsnEvent, PortEvent, SyscallEvent, MemAccess } from './api/hooks.js';
// Errors
export { X86ftError, InvalidArgumentError, InvalidStateError, HostResourceError, BadStateError, InternalError, GuestFaultError } from './errors.js';
export { ElfError } from './machine/boot.js';
export { LogError, TruncatedLogError, CorruptLogError, UnsupportedVersionError, InvalidEntryError } from './replay/codec.js';
export { HeaderMismatchError } from './replay/format.js';
export { ChainError } from './replay/chain.js';
export { SnapshotError, type SnapshotErrorCode } from './replay/snapshot.js';
export { ChannelError, type ChannelErrorCode } from './replay/channel.js';
// Inputs (gates) and host backends
export { LiveGate, ReplayGate, GateSwitch, GateKind, GateDivergence, type Gate, type GateRecord, type LiveBackends, type GuestTime } from './machine/gate.js';
export { SystemClock, ManualClock, SystemEntropy } from './devices/backends/clock.js';
export { FileDisk } from './devices/backends/disk.js';
export { UdpFrameTunnel } from './devices/backends/tunnel.js';
export { StdioConsole, FileConsole, TcpConsole } from './devices/backends/console.js';
// Outputs, record, replay, snapshots
export { OutputSeam, OutputTally, type Output, type OutputMode, type OutputSinks } from './machine/outputs.js';
export { Recorder, type RecorderOptions } from './replay/recorder.js';
export { Replayer, ReplaySession, ReplaySetupError, type ReplayerOptions, type ReplayReport, type Divergence, type StepState, type GoLive } from './replay/replayer.js';
export { takeSnapshot, restoreSnapshot } from './replay/machine-snapshot.js';
// Reading a log
export { readLog, readLogFile, type ReadLogOptions } from './replay/reader.js';
export type { LogHeader, LogEntry, EntryKind } from './replay/format.js';
export type { LogTrailer } from './replay/codec.js';
// Channels: where a log goes and comes from
export { memoryPipe, type ByteSink, type ByteSource, type Connection, type SinkStats } from './replay/channel.js';
export { openFileSink, openFileSource, type FileSinkOptions, type FileSourceOptions } from './replay/channel-file.js';
export { listenTcp, connectTcp, type Listener, type ListenOptions, type ConnectOptions } from './replay/channel-tcp.js';
export { listenTls, connectTls, type TlsConnectOptions } from './replay/channel-tls.js';
