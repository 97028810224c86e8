// The FT control plane: one interface (ControlPlane) for the cluster secret, the arbiter (claims),
// FT VM records, hosts with leases, watches and spawn requests, and `openControl(spec)` choosing a
// backend (control-dir.ts, control-etcd.ts). Imports only Node and its two backends; nothing in
// src/machine, src/replay or below imports it. Layout on disk, etcd keys and guarantees: src/ft/README.md.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp, readFileSync, statSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { X86ftError } from '../errors.js';
import { envValue } from '../env.js';

// ─── Words (FT.md "Words", "Status a user sees") ───────────────────────────────────────────────

/** The states of an FT VM, exactly as FT.md names them. */
export const VM_STATES = ['starting', 'protected', 'not-protected', 'starting-secondary', 'failing-over', 'ended'] as const;
export type VmState = (typeof VM_STATES)[number];

/** Who holds a claim: the role process (its host id, pid, and channel address `host:port` when listening). */
export interface Owner {
  hostId: string;
  pid: number;
  addr?: string;
}

/** A role as `x86ft ft status --json` prints it: `{host, pid, addr}`; SIGKILL of `pid` is a failover. */
export interface RoleRef {
  host: string;
  pid: number;
  addr: string | null;
  /** A placed role (one a host agent started): its host's `registeredAt` when the role recorded itself — which
   *  registration of the host id runs it. A host whose lease now carries another value registered again and is
   *  not running the role (lostReason). Compared for equality only, so hosts' clocks need not agree. Not part of
   *  `ft status`'s JSON. */
  lease?: number;
  /** The machine the role process ran on (`machineId()`: host name and Linux boot id) when it recorded itself: on
   *  that machine its pid tells whether it still runs (`goneHere`). Absent in older records and off Linux. Not
   *  part of `ft status`'s JSON. */
  machine?: string;
}

/** FT options of a VM (FT.md "Channel", "The Output Rule"); milliseconds and bytes. */
export interface FtOptions {
  heartbeatMs: number;
  failureTimeoutMs: number;
  maxHeldBytes: number;
  maxHeldMs: number;
  maxLagMs: number;
}

/** What a new role (primary or secondary, on any host) needs to run this VM. Paths are absolute. */
export interface VmConfig {
  image: string;
  /** SHA-256 of the image, hex; a role refuses an image with another hash. */
  imageSha256: string;
  memorySize: number;
  /** The guest command line (`--cmdline`), '' when none. */
  cmdline: string;
  /** `--disk` arguments as given (`FILE[:ro]`); each generation writes its own layer (src/ft/store.ts). */
  disks: string[];
  /** `--net` arguments as given; the tunnel endpoint moves with the primary. */
  nets: string[];
  /** Console file written at sequence offsets, or null. */
  consoleFile: string | null;
  /** Shared storage (`--store`): generation logs, console files, disk layers. */
  store: string;
  ft: FtOptions;
  /** `--hosts`: the hosts a role may be placed on (VM-host affinity), null = any registered host. */
  hosts: string[] | null;
}

/** The status of one FT VM, exactly the object `x86ft ft status --json` prints (FT.md "Status a user sees"). */
export interface VmStatus {
  name: string;
  generation: number;
  state: VmState;
  primary: RoleRef | null;
  secondary: RoleRef | null;
  lag: { instructions: number; ms: number };
  held: { outputs: number; bytes: number };
  logBitsPerSecond: number;
  heartbeatAgeMs: number;
  /** `at` = ms since the Unix epoch; `durationMs` = primary failed -> survivor releasing output. */
  lastFailover: { at: number; durationMs: number } | null;
}

/** An FT VM record in the control plane: its status, plus what a new role needs and history. */
export interface VmRecord extends VmStatus {
  /** Backend revision of this record, set on read (ignored on write); grows with every write. */
  rev: number;
  config: VmConfig;
  /** The generation this incarnation of the name was created with (1 unless the name was reused). */
  firstGeneration: number;
  /** The primary's console service, `host:port`, or null. */
  consoleAddr: string | null;
  /** Failovers so far in this incarnation. */
  failovers: number;
  /** Last time redundancy was restored: `at` ms since the epoch, `durationMs` failure -> `protected`. */
  lastRestore: { at: number; durationMs: number } | null;
  /** Why the VM is `not-protected` or `ended` (for the user), or null. */
  reason: string | null;
  /** The guest's exit status once `ended` by the guest, else null. */
  exitStatus: number | null;
  /** ms since the epoch of the last write. */
  updatedAt: number;
  /** `x86ft ft stop`: ms since the epoch when a stop was asked (the primary powers the guest off), absent/null = none. */
  stopRequested?: number | null;
  /** Planned operations (`x86ft ft failover|restart-secondary`): asked at `at` (ms since the epoch) of the VM at
   *  `generation`; the role that is that generation's primary acts once (a later generation ignores it). */
  failoverRequested?: PlannedRequest | null;
  restartSecondaryRequested?: PlannedRequest | null;
  /** The roles run under host agents (a primary started with `--place`, as `ft start` does): a role is alive only
   *  while its host holds a live lease (FT.md "Fencing": an agent that cannot renew kills its roles). Absent for
   *  `protect`'s roles, whose hosts never register. */
  placed?: boolean;
  /** ms since the epoch when `primary` or `secondary` last changed (host or pid; set by updateVm and createVm):
   *  an agent whose lease was registered after it cannot be the one running them (lostReason). */
  rolesAt?: number;
}

/** A planned operation asked of the primary of one generation. */
export interface PlannedRequest {
  at: number;
  generation: number;
  /** restart-secondary for `x86ft host drain`: keep the new secondary off this host (while another is free). */
  avoid?: string;
  /** Written by the primary that read the request: when it acted (ms since the epoch), or why it did not
   *  (`refused`: e.g. its secondary had left; nothing was done). The asking command reports which. */
  actedAt?: number;
  refused?: string;
}

/** A registered host agent. `expiresAt` = ms since the epoch (the writer's clock; dir: hosts share a clock). */
export interface HostRecord {
  id: string;
  /** The agent's address `host:port` (its `--listen`), or null. */
  addr: string | null;
  pid: number;
  leaseMs: number;
  registeredAt: number;
  renewedAt: number;
  expiresAt: number;
  /** The channel TLS its roles use: the SHA-256 fingerprint of its cluster CA (`X509Certificate.fingerprint256`),
   *  null for plain TCP; absent in records of agents that did not say. Placement pairs roles of one setting only. */
  tls?: string | null;
}

/** A host's lease, held by its agent. Renew every quarter of `leaseMs` (or use `keepLease`). */
export interface HostLease {
  readonly hostId: string;
  readonly leaseMs: number;
  /** Extends the lease by `leaseMs`. Throws ControlError LEASE_EXPIRED when it has run out or was taken over:
   *  the agent must then kill its VMs (FT.md "Fencing"). */
  renew(): Promise<void>;
  /** Ends the lease now (the host leaves the cluster). */
  release(): Promise<void>;
  /** Optional: renews every quarter of `leaseMs` off the calling thread (dir: a worker thread, so a busy or
   *  starved event loop does not lose the lease; etcd: a worker thread with its own client); `onLost` as keepLease's; `onRenewed` once it has renewed
   *  (the caller renews on its own thread until then). Returns the stop function, or undefined when not
   *  available here (keepLease then renews on this thread). */
  keepAlive?(onLost: (err: ControlError) => void, onRenewed?: () => void): (() => void) | undefined;
}

/** Ask a host agent to start a role (issue 10). Signed with the cluster secret; agents act only on verified ones. */
export interface SpawnRequest {
  /** Unique id ([A-Za-z0-9._-], ≤ 64), made by postSpawn when empty. */
  id: string;
  vm: string;
  generation: number;
  role: 'primary' | 'secondary';
  /** The host asked to start the role. */
  host: string;
  /** Hosts the role must never run on (anti-affinity: the primary's host); the agent checks it again. */
  notHosts: string[];
  /** Where a secondary connects (the primary), or null. */
  primary: RoleRef | null;
  config: VmConfig;
  /** Who asked. */
  by: Owner;
  postedAt: number;
}

/** The one decision on a spawn request (exactly one is recorded: create-if-absent). `withdrawn` = the requester
 *  gave up on it (not accepted in time, FT.md: goes to another host). */
export interface SpawnDecision {
  kind: 'accepted' | 'rejected' | 'withdrawn';
  /** Host id (accept/reject) or requester's host id (withdrawn). */
  by: string;
  at: number;
  reason: string | null;
  /** pid of the started role (accepted), else null. */
  pid: number | null;
}

export interface SpawnEntry {
  request: SpawnRequest;
  decision: SpawnDecision | null;
}

/** A change seen by a watch. `record`/`host`/`entry` undefined = removed (for a host: its lease ran out or was released). */
export type ControlEvent =
  | { kind: 'vm'; name: string; record: VmRecord | undefined }
  | { kind: 'host'; id: string; host: HostRecord | undefined }
  | { kind: 'spawn'; id: string; entry: SpawnEntry | undefined };

export interface Watch {
  close(): Promise<void>;
}

/** Result of a claim: exactly one caller per (vm, generation) ever gets `won: true`; every other learns the winner. */
export type ClaimResult = { won: true } | { won: false; owner: Owner };

/** Both backends implement this; the conformance suite (test/ft/control-conformance.test.ts) runs against both. */
export interface ControlPlane {
  /** 'dir:PATH' or 'etcd:HOST:PORT,…' as opened. */
  readonly spec: string;
  /** The cluster secret (32 bytes); created with owner-only permissions on first use. */
  secret(): Promise<Buffer>;

  /** The arbiter: atomic create-if-absent of generation `generation` of `vm`. Generation g > 1 needs g-1 claimed
   *  (CLAIM_GAP). A claim whose stored value fails its HMAC throws TAMPERED. */
  claim(vm: string, generation: number, owner: Owner): Promise<ClaimResult>;
  /** Highest claimed generation of `vm`, 0 = none. */
  generation(vm: string): Promise<number>;
  /** The owner of a claimed generation, or undefined. */
  claimOwner(vm: string, generation: number): Promise<Owner | undefined>;

  readVm(vm: string): Promise<VmRecord | undefined>;
  /** Atomic replace (readers see the old or the new record, never a mix). With `expectRev`, only if the stored
   *  record still has that revision (0 = absent), else CONFLICT. A record whose generation is below the claimed
   *  generation is refused (STALE_GENERATION): a stale primary cannot overwrite its successor's record.
   *  Returns the new revision. */
  writeVm(rec: VmRecord, opts?: { expectRev?: number }): Promise<number>;
  listVms(): Promise<VmRecord[]>;

  /** Registers host `host.id` with a lease of `leaseMs`; HOST_EXISTS when a live lease of that id is held. */
  registerHost(host: { id: string; addr: string | null; pid: number; tls?: string | null }, leaseMs: number): Promise<HostLease>;
  /** Hosts whose lease has not run out. */
  listHosts(): Promise<HostRecord[]>;

  /** Calls `onEvent` for every change after the returned promise resolves (list after it to miss nothing).
   *  dir: fs.watch events (changes made on this machine: milliseconds), backed by a full poll every `pollMs`
   *  (default 1000 ms: a lease running out, a change from another machine of a shared file system); etcd: server-pushed.
   *  `only.vm`: the changes of that VM's record alone (a role watching for requests to it: dir watches and polls
   *  only that record's directory; etcd watches only its key). */
  watch(onEvent: (ev: ControlEvent) => void, only?: { vm?: string }): Promise<Watch>;

  /** Posts a signed spawn request; returns its id. */
  postSpawn(req: SpawnRequest): Promise<string>;
  /** Verified spawn requests (bad HMAC: left out and reported through `onTampered`), optionally only those for `host`. */
  listSpawns(filter?: { host?: string; undecided?: boolean }): Promise<SpawnEntry[]>;
  readSpawn(id: string): Promise<SpawnEntry | undefined>;
  /** Records the one decision on a request (create-if-absent); returns the decision that holds (maybe another's). */
  decideSpawn(id: string, decision: SpawnDecision): Promise<SpawnDecision>;
  deleteSpawn(id: string): Promise<void>;

  close(): Promise<void>;
}

// ─── Errors ────────────────────────────────────────────────────────────────────────────────────

export type ControlErrorCode =
  | 'BAD_SPEC' // the --control spec cannot be parsed
  | 'BAD_NAME' // a VM name, host id or spawn id outside [A-Za-z0-9._-] (1-64, not starting with '.')
  | 'BAD_ARGUMENT' // a generation, lease or record field out of range
  | 'PERMISSIONS' // control directory or secret file readable by others, or owned by another user
  | 'SECRET_INVALID' // the secret file is not 64 hex digits
  | 'TAMPERED' // a stored value fails its HMAC (written without the cluster secret) or is not valid JSON
  | 'CONFLICT' // writeVm expectRev did not match
  | 'STALE_GENERATION' // writeVm of a record older than the claimed generation
  | 'CLAIM_GAP' // claim of g > 1 while g-1 is unclaimed
  | 'VM_EXISTS' // createVm of a name whose VM is not ended
  | 'HOST_EXISTS' // registerHost of an id with a live lease
  | 'LEASE_EXPIRED' // renew of a lease that ran out or was taken over
  | 'NOT_FOUND' // spawn request or VM absent
  | 'UNAVAILABLE' // the backend cannot be reached (etcd down, directory unusable)
  | 'CLOSED'; // used after close()

export class ControlError extends X86ftError {
  constructor(
    override readonly code: ControlErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'ControlError';
  }
}

// ─── Spec, names ───────────────────────────────────────────────────────────────────────────────

export type ControlSpec = { kind: 'dir'; path: string } | { kind: 'etcd'; endpoints: string[] };

/** Parses `dir:PATH` or `etcd:HOST:PORT[,HOST:PORT…]`; '' or undefined = default (`dir:$X86FT_CONTROL`, else `dir:~/.x86ft`). */
export function parseControlSpec(spec?: string): ControlSpec {
  if (spec === undefined || spec === '') {
    const env = envValue('X86FT_CONTROL');
    return { kind: 'dir', path: resolve(env !== undefined && env !== '' ? env : join(homedir(), '.x86ft')) };
  }
  if (spec.startsWith('dir:')) {
    const p = spec.slice(4);
    if (p === '') throw new ControlError('BAD_SPEC', `control spec '${spec}': dir: needs a path (dir:PATH)`);
    return { kind: 'dir', path: resolve(p.startsWith('~/') ? join(homedir(), p.slice(2)) : p) };
  }
  if (spec.startsWith('etcd:')) {
    const list = spec.slice(5).split(',');
    const endpoints = list.map((e) => {
      const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(e);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw new ControlError('BAD_SPEC', `control spec '${spec}': '${e}' is not HOST:PORT (etcd:HOST:PORT[,HOST:PORT…])`);
      return `${m[1]}:${m[2]}`;
    });
    return { kind: 'etcd', endpoints };
  }
  throw new ControlError('BAD_SPEC', `control spec '${spec}': expected dir:PATH or etcd:HOST:PORT[,HOST:PORT…]`);
}

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** Checks a VM name, host id or spawn id: they become file names and etcd key parts. */
export function checkName(what: string, name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new ControlError('BAD_NAME', `${what} '${String(name)}' is not valid: use 1-64 of A-Z a-z 0-9 . _ - (not starting with '.')`);
}

export function checkGeneration(generation: number): void {
  if (!Number.isSafeInteger(generation) || generation < 1)
    throw new ControlError('BAD_ARGUMENT', `generation ${generation} is not an integer >= 1`);
}

export function checkOwner(owner: Owner): void {
  checkName('host id', owner.hostId);
  if (!Number.isSafeInteger(owner.pid) || owner.pid < 0) throw new ControlError('BAD_ARGUMENT', `owner pid ${owner.pid} is not valid`);
}

export function checkLeaseMs(leaseMs: number): void {
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 100 || leaseMs > 3_600_000)
    throw new ControlError('BAD_ARGUMENT', `lease ${leaseMs} ms is out of range (100 to 3600000)`);
}

export function checkRecord(rec: VmRecord): void {
  checkName('VM name', rec.name);
  checkGeneration(rec.generation);
  if (!(VM_STATES as readonly string[]).includes(rec.state))
    throw new ControlError('BAD_ARGUMENT', `VM state '${rec.state}' is not one of ${VM_STATES.join(', ')}`);
}

// ─── Cluster secret and signatures ─────────────────────────────────────────────────────────────

/** Default secret file for etcd: `$X86FT_SECRET_FILE`, else `~/.x86ft/secret` (the dir: backend keeps it in PATH/secret). */
export function defaultSecretFile(): string {
  const env = envValue('X86FT_SECRET_FILE');
  return resolve(env !== undefined && env !== '' ? env : join(homedir(), '.x86ft', 'secret'));
}

/** Reads the cluster secret from `file`, creating it (32 random bytes as 64 hex digits, mode 0600) if absent.
 *  Two processes creating it at once get the same secret (link(2) is create-if-absent). A file readable or
 *  writable by group/others or owned by another user is refused (PERMISSIONS), never used. */
export async function loadOrCreateSecret(file: string): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await readSecret(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw e;
    }
    const dir = dirname(file);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await fsp.writeFile(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    try {
      await fsp.link(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await fsp.unlink(tmp).catch(() => {});
    }
  }
}

async function readSecret(file: string): Promise<Buffer> {
  const st = await fsp.stat(file);
  if ((st.mode & 0o077) !== 0)
    throw new ControlError(
      'PERMISSIONS',
      `cluster secret ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); refusing it: chmod 600 ${file}`,
    );
  if (typeof process.getuid === 'function' && st.uid !== process.getuid())
    throw new ControlError('PERMISSIONS', `cluster secret ${file} belongs to uid ${st.uid}, not to this user (uid ${process.getuid()})`);
  const text = (await fsp.readFile(file, 'utf8')).trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ControlError('SECRET_INVALID', `cluster secret ${file} is not 64 hex digits`);
  return Buffer.from(text, 'hex');
}

/** JSON with object keys sorted at every level: the bytes a signature covers. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
}

/** Signs stored values: HMAC-SHA-256(secret, "x86ft-control-v1\0" + key + "\0" + canonical JSON). Binding the key
 *  means a signed value cannot be moved to another key (a claim of g cannot be replayed as g+1). */
export class Signer {
  constructor(private readonly secret: Buffer) {}

  mac(key: string, value: unknown): string {
    return createHmac('sha256', this.secret).update(`x86ft-control-v1\0${key}\0${canonicalJson(value)}`).digest('hex');
  }

  /** The stored text of `value` under `key`: `{"v":1,"value":…,"mac":"…"}`, plus `"w":writeId` when given (not
   *  signed, ignored by open(): it only tells a writer its own write from an equal one by another writer). */
  seal(key: string, value: unknown, writeId?: string): string {
    return JSON.stringify(writeId === undefined ? { v: 1, value, mac: this.mac(key, value) } : { v: 1, value, mac: this.mac(key, value), w: writeId });
  }

  /** The value stored under `key`, verified; TAMPERED when it is not JSON, not an envelope, or its HMAC fails. */
  open<T>(key: string, text: string): T {
    let env: { v?: unknown; value?: unknown; mac?: unknown };
    try {
      env = JSON.parse(text) as typeof env;
    } catch {
      throw new ControlError('TAMPERED', `control value ${key} is not valid JSON`);
    }
    if (env === null || typeof env !== 'object' || env.v !== 1 || typeof env.mac !== 'string' || env.value === undefined)
      throw new ControlError('TAMPERED', `control value ${key} is not a signed x86ft value`);
    const want = Buffer.from(this.mac(key, env.value), 'hex');
    const got = Buffer.from(env.mac, 'hex');
    if (got.length !== want.length || !timingSafeEqual(got, want))
      throw new ControlError('TAMPERED', `control value ${key} fails its HMAC: it was not written with the cluster secret`);
    return env.value as T;
  }
}

// ─── Keys: the strings signatures are bound to (etcd keys under the prefix `x86ft/`; dir: see control-dir.ts) ──

export function claimKey(vm: string, generation: number): string {
  return `vms/${vm}/claims/${String(generation).padStart(12, '0')}`;
}
export function recordKey(vm: string): string {
  return `vms/${vm}/record`;
}
export function hostKey(id: string): string {
  return `hosts/${id}`;
}
export function spawnKey(id: string): string {
  return `spawn/req/${id}`;
}
export function decisionKey(id: string): string {
  return `spawn/decision/${id}`;
}

export function checkSpawn(r: SpawnRequest): void {
  checkName('spawn id', r.id);
  checkName('VM name', r.vm);
  checkName('host id', r.host);
  checkGeneration(r.generation);
  checkOwner(r.by);
  if (r.role !== 'primary' && r.role !== 'secondary') throw new ControlError('BAD_ARGUMENT', `spawn role '${String(r.role)}' is not primary or secondary`);
  if (r.notHosts.includes(r.host))
    throw new ControlError('BAD_ARGUMENT', `spawn request '${r.id}' places the ${r.role} on host '${r.host}', which it excludes (anti-affinity)`);
}

export function publicHost(h: HostRecord & { token?: string }): HostRecord {
  const { id, addr, pid, leaseMs, registeredAt, renewedAt, expiresAt, tls } = h;
  return { id, addr, pid, leaseMs, registeredAt, renewedAt, expiresAt, ...(tls !== undefined ? { tls } : {}) };
}

/** In a listing: reports a value left out (TAMPERED, or a key that is not a valid name) through `onTampered`;
 *  rethrows anything else. */
export function skipForged(e: unknown, opts: { onTampered?: (err: ControlError) => void }): void {
  if (isForged(e)) opts.onTampered?.(e);
  else throw e;
}

export function isForged(e: unknown): e is ControlError {
  return e instanceof ControlError && (e.code === 'TAMPERED' || e.code === 'BAD_NAME');
}

// ─── Opening ───────────────────────────────────────────────────────────────────────────────────

export interface OpenControlOptions {
  /** etcd: the cluster secret file (default `defaultSecretFile()`); dir: ignored (PATH/secret). */
  secretFile?: string;
  /** dir: period of a watch's full poll in ms (default 1000; fs.watch events come at once). */
  pollMs?: number;
  /** etcd: ms to wait for a reply before UNAVAILABLE (default 5000). */
  timeoutMs?: number;
  /** Called with each stored value that fails verification and is left out of a listing. */
  onTampered?: (err: ControlError) => void;
  /** dir: the directory must exist already (commands that only read or act on existing VMs: status,
   *  console, replay, wait, stop, list); else ControlError UNAVAILABLE and nothing is created. */
  mustExist?: boolean;
}

/** Opens the control plane `spec` ('dir:PATH' | 'etcd:HOST:PORT[,…]'; default `dir:$X86FT_CONTROL`, else
 *  `dir:~/.x86ft`). Errors: ControlError BAD_SPEC, PERMISSIONS, SECRET_INVALID, UNAVAILABLE. */
export async function openControl(spec?: string, opts: OpenControlOptions = {}): Promise<ControlPlane> {
  const parsed = parseControlSpec(spec);
  if (parsed.kind === 'dir') {
    const { openDirControl } = await import('./control-dir.js');
    return openDirControl(parsed.path, opts);
  }
  const { openEtcdControl } = await import('./control-etcd.js');
  return openEtcdControl(parsed.endpoints, opts);
}

// ─── Helpers on top of the interface (backend-independent) ─────────────────────────────────────

/** The FT.md status object of a record (what `x86ft ft status --json` prints for it). */
export function vmStatus(rec: VmRecord): VmStatus {
  const { name, generation, state, primary, secondary, lag, held, logBitsPerSecond, heartbeatAgeMs, lastFailover } = rec;
  const ref = (r: RoleRef | null): RoleRef | null => r && { host: r.host, pid: r.pid, addr: r.addr };
  // an ended VM holds nothing and lags nothing: the figures are the live ones the status publisher wrote last
  // (npm start's final status showed HELD 45 for an ended VM)
  if (state === 'ended') return { name, generation, state, primary: ref(primary), secondary: ref(secondary), lag: { instructions: 0, ms: 0 }, held: { outputs: 0, bytes: 0 }, logBitsPerSecond, heartbeatAgeMs: 0, lastFailover };
  return { name, generation, state, primary: ref(primary), secondary: ref(secondary), lag, held, logBitsPerSecond, heartbeatAgeMs, lastFailover };
}

/** What `ft status`, `ft list` and `ft wait` report as a VM's state: a record's state, or `lost`. */
export type ReportedState = VmState | 'lost';

/** A generation claimed above the record's (`newerClaim`): its claimant runs the VM and has not recorded it yet. */
export interface NewerClaim {
  generation: number;
  /** The claimant (undefined: the claim is unreadable, e.g. it fails its HMAC). */
  owner: Owner | undefined;
}

/**
 * The highest claim when it is above the record's generation, else undefined. A claimant writes the record
 * after it won; until it does (or if it died first) the record names roles that are already fenced: a primary
 * that claimed g+1 when its secondary failed and was killed before it wrote the record left `protected` at g
 * naming the exited secondary, whose host still held its lease, for good (ft status showed a dead VM protected).
 */
export async function newerClaim(cp: ControlPlane, rec: VmRecord): Promise<NewerClaim | undefined> {
  if (rec.state === 'ended') return undefined;
  const g = await cp.generation(rec.name);
  if (g <= rec.generation) return undefined;
  return { generation: g, owner: await cp.claimOwner(rec.name, g).catch(() => undefined) };
}

/** Why the host of role `r` cannot be running it (no live lease, or its agent registered again after the role
 *  was recorded), or undefined when it may. `hosts` = `listHosts()`. */
export function roleHostGone(rec: VmRecord, r: RoleRef, hosts: readonly HostRecord[]): string | undefined {
  const h = hosts.find((x) => x.id === r.host);
  if (!h) return 'no live lease';
  const again = `registered again at ${new Date(h.registeredAt).toISOString()}, after the role was recorded`;
  // the registration the role recorded, when it did (placed roles); else (records written before roles carried
  // it, or a secondary the primary named before it recorded itself) the record's time, by another host's clock
  if (r.lease !== undefined) return h.registeredAt === r.lease ? undefined : again;
  return h.registeredAt > (rec.rolesAt ?? rec.updatedAt) ? again : undefined;
}

/**
 * Why the VM is lost, or undefined: a VM whose roles run under host agents (`placed`), not `ended`, none of
 * whose roles' hosts holds a live lease registered before the roles were recorded (`rolesAt`: an agent that
 * registered again with the same id after that cannot be the one running the role; hosts compare their
 * clocks here, as dir: leases already do). Nobody is left to update the record
 * then (FT.md protects against one host at a time). `hosts` = `listHosts()` (live leases only). With `newer`
 * (`newerClaim`): the record's roles are fenced by that claim, and only its claimant can run the guest, when it
 * is one of the recorded roles' hosts (a claim from elsewhere, `ft stop`'s, ends the record at once): lost when
 * that host has no live lease.
 */
export function lostReason(rec: VmRecord, hosts: readonly HostRecord[], newer?: NewerClaim): string | undefined {
  if (rec.state === 'ended') return undefined;
  // roles not placed by agents (a manual pair, protect's): only this machine can tell (their processes); placed
  // roles by their hosts' leases alone — one judgement, not whichever of the two a killed host's processes, still
  // unreaped or already gone, happened to allow (host-leave.test saw both reasons for one VM)
  if (!rec.placed) return goneHere(rec);
  const roles = [rec.primary && { kind: 'primary', ...rec.primary }, rec.secondary && { kind: 'secondary', ...rec.secondary }].filter((r) => r !== null);
  if (roles.length === 0) return undefined;
  const o = newer?.owner;
  if (newer && o && roles.some((r) => r.host === o.hostId) && !hosts.some((h) => h.id === o.hostId)) {
    return `generation ${newer.generation} was claimed by host ${o.hostId} pid ${o.pid}, which has no live lease, before it recorded that generation (the record's generation ${rec.generation} roles are fenced)`;
  }
  const dead = roles.map((r) => ({ r, why: roleHostGone(rec, r, hosts) }));
  if (dead.some((d) => d.why === undefined)) return undefined;
  return `the host of every role has gone (${dead.map((d) => `${d.r.kind} pid ${d.r.pid} on host ${d.r.host}: ${d.why}`).join('; ')})`;
}

let machine: string | null | undefined;
/** This machine: its host name and Linux boot id (`RoleRef.machine`), or undefined where there is no boot id. */
export function machineId(): string | undefined {
  if (machine === undefined) {
    try { machine = `${hostname()} ${readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim()}`; } catch { machine = null; }
  }
  return machine ?? undefined;
}

/** Whether process `pid` exists on this machine (a role may run in any process: the CLI's, a host agent's spare, a
 *  program using the API), so only its absence counts. */
function processHere(pid: number): boolean {
  try { return statSync(`/proc/${pid}`).isDirectory(); } catch { return false; }
}

/**
 * Why the VM is lost on this machine, or undefined: every role the record names recorded itself on this machine
 * (`RoleRef.machine`) and none of their processes exists here any more. Placed or
 * not: a manual `ft primary` killed while it waited for its secondary left `starting` for good, naming a dead
 * pid, and a restart of it was refused as 'already running'. A role recorded elsewhere (or before it recorded
 * itself: pid 0) cannot be judged here.
 */
export function goneHere(rec: VmRecord): string | undefined {
  if (rec.state === 'ended') return undefined;
  const me = machineId();
  const roles = [rec.primary && { kind: 'primary', ...rec.primary }, rec.secondary && { kind: 'secondary', ...rec.secondary }].filter((r) => r !== null);
  if (!me || roles.length === 0 || roles.some((r) => r.machine !== me || !(r.pid > 0) || processHere(r.pid))) return undefined;
  return `${roles.map((r) => `its ${r.kind} (host ${r.host} pid ${r.pid})`).join(' and ')} no longer ${roles.length > 1 ? 'run' : 'runs'} on this machine (${hostname()})`;
}

/** A fresh record for `config` (state `starting`, no roles, zero counters). */
export function newVmRecord(name: string, generation: number, config: VmConfig): VmRecord {
  return {
    name,
    generation,
    state: 'starting',
    primary: null,
    secondary: null,
    lag: { instructions: 0, ms: 0 },
    held: { outputs: 0, bytes: 0 },
    logBitsPerSecond: 0,
    heartbeatAgeMs: 0,
    lastFailover: null,
    rev: 0,
    config,
    firstGeneration: generation,
    consoleAddr: null,
    failovers: 0,
    lastRestore: null,
    reason: null,
    exitStatus: null,
    updatedAt: Date.now(),
  };
}

/** Creates FT VM `name` (FT.md: creation claims generation 1; a name reused after `ended` continues its
 *  generation numbers, so no log file is overwritten). VM_EXISTS, naming its primary, when the VM runs or
 *  another creator won. Returns the record written (state `starting`, generation claimed by `owner`). */
export async function createVm(cp: ControlPlane, name: string, config: VmConfig, owner: Owner): Promise<VmRecord> {
  checkName('VM name', name);
  for (;;) {
    const cur = await cp.readVm(name);
    const g = await cp.generation(name);
    if (cur && cur.state !== 'ended') {
      const gone = goneHere(cur);
      if (gone) throw new ControlError('VM_EXISTS', `FT VM '${name}' is lost: ${gone}; 'x86ft ft stop ${name}' ends its record (the logs and disk layers stay), then start it again`);
      throw vmExists(name, cur.primary ? `${cur.primary.host} pid ${cur.primary.pid}` : 'starting');
    }
    if (!cur && g > 0) {
      // claimed by a creator that has not written its record yet (or died before it)
      const o = await cp.claimOwner(name, g);
      throw vmExists(name, o ? `${o.hostId} pid ${o.pid}` : 'unknown');
    }
    let r: ClaimResult;
    try {
      r = await cp.claim(name, g + 1, owner);
    } catch (e) {
      if (e instanceof ControlError && e.code === 'CLAIM_GAP') continue;
      throw e;
    }
    if (!r.won) throw vmExists(name, `${r.owner.hostId} pid ${r.owner.pid}`);
    const rec = newVmRecord(name, g + 1, config);
    rec.primary = { host: owner.hostId, pid: owner.pid, addr: owner.addr ?? null };
    const here = machineId();
    if (here && owner.pid === process.pid) rec.primary.machine = here;
    rec.rolesAt = rec.updatedAt;
    rec.rev = await cp.writeVm(rec);
    return rec;
  }
}

function vmExists(name: string, who: string): ControlError {
  return new ControlError('VM_EXISTS', `FT VM '${name}' is already running (primary: ${who})`);
}

/** Read-modify-write of a record with optimistic concurrency: retries `change` on CONFLICT. `change` returns the
 *  new record or undefined to write nothing. Returns the record as written (or as read when nothing was written). */
export async function updateVm(
  cp: ControlPlane,
  name: string,
  change: (rec: VmRecord) => VmRecord | undefined,
): Promise<VmRecord> {
  for (;;) {
    const cur = await cp.readVm(name);
    if (!cur) throw new ControlError('NOT_FOUND', `FT VM '${name}' has no record`);
    const next = change(structuredClone(cur));
    if (!next) return cur;
    next.updatedAt = Date.now();
    if (roleKey(next.primary) !== roleKey(cur.primary) || roleKey(next.secondary) !== roleKey(cur.secondary)) next.rolesAt = next.updatedAt;
    try {
      next.rev = await cp.writeVm(next, { expectRev: cur.rev });
      return next;
    } catch (e) {
      if (!(e instanceof ControlError && e.code === 'CONFLICT')) throw e;
    }
  }
}

/** A role's identity in the record (host and process), '' for none. */
function roleKey(r: RoleRef | null): string { return r ? `${r.host}\0${r.pid}` : ''; }

/** Renews `lease` every quarter of its length (FT.md "Host leases"); calls `onLost` once if a renewal says the lease
 *  is gone (the agent must kill its VMs) and stops. Transient errors (UNAVAILABLE) are retried at the next tick;
 *  `onLost` is also called when no renewal succeeded for a whole lease. Returns a stop function. Uses the lease's
 *  keepAlive (a worker thread, dir: and etcd:) when it has one; `onThread` is called once that thread has renewed
 *  (from then on it alone renews). */
export function keepLease(lease: HostLease, onLost: (err: ControlError) => void, onThread?: () => void): () => void {
  let lastOk = Date.now();
  let stopped = false;
  let busy = false;
  // with a renewal thread, this thread renews only until the thread's first renewal (its start can be slow)
  let threaded = false;
  const lost = (err: ControlError): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    off?.();
    onLost(err);
  };
  const timer = setInterval(() => {
    if (busy || stopped || threaded) return;
    busy = true;
    lease.renew().then(
      () => {
        busy = false;
        lastOk = Date.now();
      },
      (e: unknown) => {
        busy = false;
        if (threaded) return; // the thread renews now (a starved read here may have been stale)
        if (e instanceof ControlError && e.code === 'LEASE_EXPIRED') lost(e);
        else if (Date.now() - lastOk >= lease.leaseMs)
          lost(new ControlError('LEASE_EXPIRED', `lease of host ${lease.hostId} not renewed for ${lease.leaseMs} ms: ${(e as Error).message}`));
      },
    );
  }, Math.max(25, Math.floor(lease.leaseMs / 4)));
  const off = lease.keepAlive?.(lost, () => {
    threaded = true;
    clearInterval(timer);
    onThread?.();
  });
  return () => {
    stopped = true;
    clearInterval(timer);
    off?.();
  };
}

/** A fresh spawn request id. */
export function newSpawnId(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}
