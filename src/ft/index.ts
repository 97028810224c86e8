// `import { FtPrimary, FtSecondary } from 'x86ft/ft'`: the fault-tolerance roles for embedders.
// Status hooks: each role's status() and its onEvent (RoleEvent); see src/ft/README.md "Roles".
export { FtPrimary, runLivePrimary, openGenerationLog, type PrimaryOptions, type LivePrimaryParts } from './primary.js';
export { FtSecondary, SecondaryRefused, killOldPrimary, type SecondaryOptions } from './secondary.js';
export { goLive, goLiveIcount, type GoLiveInput, type GoLiveResult } from './golive.js';
export { FT_EXIT, type RoleStatus, type RoleEvent, type RoleOutcome } from './role.js';
export { DEFAULT_FT_OPTIONS, GenerationLogSink } from './vm-host.js';
export { openControl, createVm, updateVm, type ControlPlane, type VmConfig, type VmRecord, type VmState, type FtOptions } from './control.js';
export { listenFt, connectFt, type FtPeer, type FtTlsOptions } from './channel.js';
export { loadTls } from './tls.js';
export { ConsoleHost } from './console-host.js';
export { FailureDetector, watchPeer } from './heartbeat.js';
export { storePath, openGenerationDisk, exportDisk, ConsoleFile } from './store.js';
export { ControlError } from './control.js';
export { ProtocolError } from './protocol.js';
export { StoreError } from './store-layer.js';
