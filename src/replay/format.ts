// The record/replay log schema: entry kinds and payloads, the stream header,
// the must-rules and the format version. Pure data and validation; imports
// nothing from the machine, devices or Node.
//
// ─── Must-rules (format version 1) ──────────────────────────────────────────
//  M1  A stream starts with the 8-byte magic "X86FTLOG", then exactly one
//      header frame; no entry precedes the header.
//  M2  Every entry is { icount, kind, payload }. icount is a non-negative
//      integer below 2^53 (exact as a JS number): the number of instructions
//      retired when the input entered the guest.
//  M3  icounts are non-decreasing over the whole stream, in append order, and
//      never below header.startIcount. Several entries may share one icount;
//      their order in the stream is the order the gate consumed them and the
//      replayer must hand them over in that same order.
//  M4  kind is one of ENTRY_KINDS; payload has exactly the fields of
//      ENTRY_SCHEMA[kind], of the listed types, in that order. A reader
//      refuses an unknown kind (it is a newer format, not something to skip).
//  M5  Entries are carried in batch frames; an icount is written as the delta
//      from the previous entry of the stream (across batches), the first from
//      header.startIcount. A batch holds at least one entry.
//  M6  A finished stream ends with exactly one end frame, which repeats the
//      total entry count and the last icount; nothing follows it. A stream
//      without an end frame is unfinished (cut), never "complete".
//  M7  Every frame carries a CRC-32 of its payload and a self-checking length
//      word; a reader never yields an entry from a frame that failed either.
//  M8  Adding a kind, a field, or changing any encoding bumps
//      LOG_FORMAT_VERSION. A reader accepts only the versions it knows.
//  M9  Values are host facts handed to the guest; control records (start,
//      end, snapshot, heartbeat) and digests carry no guest input and a
//      replayer may skip them without diverging (but should check digests).
//
// ─── Added in format version 2 ──────────────────────────────────────────────
//  M10 A kind exists from the version in its `since` column on; a reader
//      refuses a kind newer than the stream's header version (as in M4).
//  M11 disk-status carries what a disk request returned when it returned no
//      data: op 0 = a read that failed (status 1), op 1 = a write completed,
//      op 2 = a flush completed (sector 0); status 0 = ok, 1 = host I/O error.
//      A successful read is a disk-read (its data is the DMA payload).
//  M12 digest-detail, when present, immediately precedes the digest entry of
//      the same icount and describes what that digest hashed (register file,
//      page hashes, device hashes) so a replayer can name the first difference.
//      Its byte layout is the recorder's (src/replay/digest.ts); the codec
//      treats it as opaque bytes.
//  M13 Gate records map 1:1 onto value entries, in gate order: Time→host-time,
//      Wall→rtc, ConsoleIn→console-input, NetRx→net-rx, Irq→interrupt,
//      Tsc→tsc, Rdrand→rdrand (size 8, ok true), DiskRead→disk-read (sector =
//      byte offset / 512) or disk-status op 0, DiskWrite→disk-status op 1,
//      DiskFlush→disk-status op 2 (src/replay/gate-entries.ts).

import { InvalidArgumentError, X86ftError } from '../errors.js';

//
// ─── Added in format version 3 ──────────────────────────────────────────────
//  M14 Every frame after the header frame carries, right after its type byte,
//      seq:u32 (the frame's index in the stream: header 0, then 1, 2, ...)
//      and link:u32 (the CRC of the previous frame). A frame whose seq is not
//      the previous one plus 1 (dropped, duplicated, swapped) or whose link is
//      not the previous frame's CRC (spliced from another stream) makes the
//      log bad at that frame, never a divergence.
//  M15 The header also carries `recorder` ({host, pid[, startTime]} of the recording
//      process, or null) and `ft` ({vm, generation, previousGeneration} or
//      null outside fault tolerance). previousGeneration is null for
//      generation 1 and generation - 1 otherwise; a generation g+1 log starts
//      at startIcount = G, where generation g's log stops counting
//      (src/ft/README.md).
//  M16 Content must be possible for the header's machine: `devices` is
//      {memSize, cmdline, disks, nets} as configJson writes it (memSize =
//      memorySize, 2 MiB..3 GiB in 4 KiB pages; cmdline at most 1023 ASCII
//      bytes without NUL; disks {sizeBytes (multiple of 512), readOnly};
//      nets {mac: 6 bytes, unicast, or null}; at most 4 virtio devices);
//      entries name only devices the header has (disk-read/disk-status
//      `device` < disks, net-rx `device` < nets, console-input unit 0),
//      interrupt lines are 0..15 with level 0/1, rdrand is 8 bytes with ok,
//      a digest hash is 16 bytes, and port-read/mmio-read (reserved: nothing
//      produces them) do not occur. digest-detail has the recorder's layout
//      (src/replay/digest.ts: the register file as the digest packs it,
//      pages in (page, hash) pairs inside memory, 32-bit device hashes).
//  M17 Digests sit at every multiple of digestInterval counted from
//      startIcount (the first entry past such a multiple finds its digest
//      there), and besides only right before an end or snapshot record of
//      the same icount (the final digest); digestInterval 0 = final only.
//      A snapshot record restarts the multiples at its icount (a live
//      snapshot off the multiples: a log forked there starts from it).
//  M18 A from-boot stream's first digest covers every non-zero RAM page as
//      loaded (image, boot-info block with the command line, page tables), so
//      a header whose configuration was changed replays as a divergence.
//  M19 heartbeat {seq, epochMs}: written by the recorder every 100 ms of
//      wall time while it records (seq from 0 upwards, epochMs its wall
//      clock), so a follower on another host knows how long the recorder has
//      been silent; control only (M9).
//  A stream that ends (at a frame boundary or inside a frame) without its end
//  frame is *unfinished* (a killed recorder): everything before the last
//  whole frame is valid. Only damage followed by more bytes, a failed CRC,
//  length, sequence or link check, or bad content makes it *bad*.

/** The log format version this code writes. Version 2 added disk-status and digest-detail (M10-M13); version 3 frame sequence numbers and links, recorder and ft header fields, content rules (M14-M19). */
export const LOG_FORMAT_VERSION = 3;
/** Versions this code can read (a version-1 stream is version 2 without the newer kinds; version 2 is version 3 without M14-M19). */
export const SUPPORTED_LOG_VERSIONS: readonly number[] = [1, 2, 3];
/** 8 bytes at offset 0 of every log stream. */
export const LOG_MAGIC = 'X86FTLOG';

/** A field type of a payload schema. */
export type FieldType =
  | 'u8' // integer 0..255
  | 'u16' // integer 0..0xFFFF
  | 'u32' // integer 0..0xFFFFFFFF
  | 'uint' // non-negative integer below 2^53
  | 'bool'
  | 'str'
  | 'bytes'; // Uint8Array

/** Payload of each entry kind. 64-bit values are split in u32 halves (lo, hi). */
export interface PayloadMap {
  /** An interrupt line changed level because of a host event (level 1 = raised). */
  interrupt: { irq: number; level: number };
  /** IN from a port whose value came from a live backend. size in bytes. */
  'port-read': { port: number; size: number; value: number };
  /** Read of an MMIO register whose value came from a live backend. */
  'mmio-read': { addr: number; size: number; lo: number; hi: number };
  /** RDTSC / RDTSCP result. */
  tsc: { lo: number; hi: number };
  /** Wall-clock reading for the CMOS RTC, milliseconds since the Unix epoch. */
  rtc: { epochMs: number };
  /** RDRAND/RDSEED result; ok is the CF the guest sees. size in bytes (2, 4, 8). */
  rdrand: { size: number; lo: number; hi: number; ok: boolean };
  /** Host monotonic time reading used by the PIT backend, nanoseconds. */
  'host-time': { ns: number };
  /** Byte(s) typed on a console (UART `unit`, 0 = COM1). */
  'console-input': { unit: number; data: Uint8Array };
  /** DMA: data read from a disk image for a virtio-blk request. */
  'disk-read': { device: number; sector: number; data: Uint8Array };
  /** DMA: a frame received by a virtio-net device. */
  'net-rx': { device: number; data: Uint8Array };
  /** Digest of architectural state at this icount (algorithm fixed by the recorder). */
  digest: { hash: Uint8Array };
  /** (v2) A disk request's outcome when no data came back: op 0 failed read, 1 write, 2 flush; status 0 ok, 1 error (M11). */
  'disk-status': { device: number; op: number; sector: number; status: number };
  /** (v2) What the following digest hashed: packed register file, dirty-page hashes, device hashes (M12). */
  'digest-detail': { state: Uint8Array; pages: Uint8Array; devices: Uint8Array };
  /** Control: recording started (epochMs is informational, never fed to the guest). */
  start: { epochMs: number };
  /** Control: the run ended (reason e.g. "exit", "halt", "stopped"; status of the debug-exit port). */
  end: { reason: string; status: number };
  /** Control: a snapshot with this SHA-256 (hex) was taken at this icount. */
  snapshot: { hash: string };
  /** Control: liveness beacon from the primary. */
  heartbeat: { seq: number; epochMs: number };
}

export type EntryKind = keyof PayloadMap;

/** One log entry. A discriminated union on `kind`. */
export type LogEntry = { [K in EntryKind]: { icount: number; kind: K; payload: PayloadMap[K] } }[EntryKind];
/** Entry of one given kind. */
export type EntryOf<K extends EntryKind> = Extract<LogEntry, { kind: K }>;

interface KindSchema {
  /** Wire code (u8). Never reused, never renumbered. */
  readonly code: number;
  /** Fields in wire order. */
  readonly fields: readonly (readonly [string, FieldType])[];
  /** Control/digest records are not guest input (M9). */
  readonly control: boolean;
  /** First format version with this kind (M10; absent = 1). */
  readonly since?: number;
}

/** The schema: one row per kind. Order of `fields` is the wire order (M4). */
export const ENTRY_SCHEMA: { readonly [K in EntryKind]: KindSchema } = {
  interrupt: { code: 1, control: false, fields: [['irq', 'u8'], ['level', 'u8']] },
  'port-read': { code: 2, control: false, fields: [['port', 'u16'], ['size', 'u8'], ['value', 'u32']] },
  'mmio-read': { code: 3, control: false, fields: [['addr', 'uint'], ['size', 'u8'], ['lo', 'u32'], ['hi', 'u32']] },
  tsc: { code: 4, control: false, fields: [['lo', 'u32'], ['hi', 'u32']] },
  rtc: { code: 5, control: false, fields: [['epochMs', 'uint']] },
  rdrand: { code: 6, control: false, fields: [['size', 'u8'], ['lo', 'u32'], ['hi', 'u32'], ['ok', 'bool']] },
  'host-time': { code: 7, control: false, fields: [['ns', 'uint']] },
  'console-input': { code: 8, control: false, fields: [['unit', 'u8'], ['data', 'bytes']] },
  'disk-read': { code: 9, control: false, fields: [['device', 'u8'], ['sector', 'uint'], ['data', 'bytes']] },
  'net-rx': { code: 10, control: false, fields: [['device', 'u8'], ['data', 'bytes']] },
  digest: { code: 11, control: true, fields: [['hash', 'bytes']] },
  'disk-status': { code: 12, control: false, since: 2, fields: [['device', 'u8'], ['op', 'u8'], ['sector', 'uint'], ['status', 'u8']] },
  'digest-detail': { code: 13, control: true, since: 2, fields: [['state', 'bytes'], ['pages', 'bytes'], ['devices', 'bytes']] },
  start: { code: 16, control: true, fields: [['epochMs', 'uint']] },
  end: { code: 17, control: true, fields: [['reason', 'str'], ['status', 'u32']] },
  snapshot: { code: 18, control: true, fields: [['hash', 'str']] },
  heartbeat: { code: 19, control: true, fields: [['seq', 'uint'], ['epochMs', 'uint']] },
};

/** All kinds, by (since, wire code): a kind's index here never changes once
 *  released, because the codec's shared msgpack structures are numbered by it. */
export const ENTRY_KINDS: readonly EntryKind[] = (Object.keys(ENTRY_SCHEMA) as EntryKind[]).sort(
  (a, b) => (ENTRY_SCHEMA[a].since ?? 1) - (ENTRY_SCHEMA[b].since ?? 1) || ENTRY_SCHEMA[a].code - ENTRY_SCHEMA[b].code,
);

const KIND_BY_CODE: (EntryKind | undefined)[] = [];
for (const k of ENTRY_KINDS) KIND_BY_CODE[ENTRY_SCHEMA[k].code] = k;

/** Kind for a wire code, or undefined if unknown (or newer than `version`, M10). */
export function kindOfCode(code: number, version = LOG_FORMAT_VERSION): EntryKind | undefined {
  const k = Number.isInteger(code) ? KIND_BY_CODE[code] : undefined;
  return k !== undefined && (ENTRY_SCHEMA[k].since ?? 1) <= version ? k : undefined;
}

/** Extra, per-kind constraints beyond field types. */
const SIZE_RULES: Partial<Record<EntryKind, readonly number[]>> = {
  'port-read': [1, 2, 4],
  'mmio-read': [1, 2, 4, 8],
  rdrand: [2, 4, 8],
};

function checkField(v: unknown, t: FieldType): boolean {
  switch (t) {
    case 'u8':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xff;
    case 'u16':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;
    case 'u32':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    case 'uint':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    case 'bool':
      return typeof v === 'boolean';
    case 'str':
      return typeof v === 'string';
    case 'bytes':
      return v instanceof Uint8Array;
  }
}

/** True if `n` is a valid icount (M2). */
export function isIcount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Why `e` is not a valid entry (M2, M4), or undefined if it is. Does not check
 * ordering (M3), which needs the previous entry.
 */
export function entryProblem(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return 'entry is not an object';
  const { icount, kind, payload } = e as { icount: unknown; kind: unknown; payload: unknown };
  if (!isIcount(icount)) return `icount ${String(icount)} is not a non-negative safe integer`;
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(ENTRY_SCHEMA, kind))
    return `unknown entry kind ${JSON.stringify(kind)}`;
  const schema = ENTRY_SCHEMA[kind as EntryKind];
  if (typeof payload !== 'object' || payload === null) return `${kind}: payload is not an object`;
  const p = payload as Record<string, unknown>;
  for (const [name, t] of schema.fields) {
    if (!checkField(p[name], t)) return `${kind}: field ${name} must be ${t}, got ${describe(p[name])}`;
  }
  let nkeys = 0;
  for (const k in p) if (Object.prototype.hasOwnProperty.call(p, k)) nkeys++;
  if (nkeys !== schema.fields.length) {
    const extra = Object.keys(p).filter((k) => !schema.fields.some(([n]) => n === k));
    return `${kind}: unexpected field(s) ${extra.join(', ')}`;
  }
  const sizes = SIZE_RULES[kind as EntryKind];
  if (sizes && !sizes.includes(p.size as number)) return `${kind}: size ${String(p.size)} not in ${sizes.join('/')}`;
  if (kind === 'disk-status') {
    const op = p.op as number, st = p.status as number;
    if (op > 2) return `disk-status: op ${op} not in 0 (read) / 1 (write) / 2 (flush)`;
    if (st > 1) return `disk-status: status ${st} not in 0 (ok) / 1 (error)`;
    if (op === 0 && st !== 1) return 'disk-status: a successful read is a disk-read entry';
    if (op === 2 && p.sector !== 0) return 'disk-status: a flush has sector 0';
  }
  return undefined;
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v);
  return typeof v === 'object' ? (v === null ? 'null' : 'object') : String(v);
}

// ─── Header ─────────────────────────────────────────────────────────────────

/** A JSON-able value (device configuration). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** The stream header: what a replayer must agree with before consuming entries. */
export interface LogHeader {
  /** Format version (written in the header frame, filled in by the reader). */
  version: number;
  /** SHA-256 (lowercase hex) of the guest image (ELF file bytes). */
  imageSha256: string;
  /** Guest RAM size in bytes. */
  memorySize: number;
  /** Device configuration, a JSON-able object; compared in canonical form. */
  devices: JsonValue;
  /** Instructions between two digest entries; 0 = no digests. */
  digestInterval: number;
  /** icount of the first instruction of the run (0 from boot; the snapshot's count otherwise). */
  startIcount: number;
  /** SHA-256 (hex) of the snapshot the run starts from, or null when it starts from boot. */
  fromSnapshot: string | null;
  /** (v3) The recording process: host name and pid (a follower on that host waits while it lives); null when unknown. */
  recorder: LogRecorder | null;
  /** (v3) Fault tolerance: the FT VM and generation this log belongs to; null outside fault tolerance (M15). */
  ft: LogFt | null;
}

/** Who writes a log (M15). */
export interface LogRecorder {
  /** Host name (os.hostname() of the recorder, or its FT host id), 1-255 characters. */
  host: string;
  /** Process id, a positive integer. */
  pid: number;
  /** The process's start time (proc(5) `starttime`: clock ticks after boot), where the recorder's host
   *  has /proc; with host and pid it tells the recorder from a later process given the same pid.
   *  Absent in logs of earlier versions of x86ft. */
  startTime?: number;
}

/** The FT generation a log belongs to (M15, src/ft/README.md). */
export interface LogFt {
  /** FT VM name, 1-255 characters. */
  vm: string;
  /** Generation, >= 1. */
  generation: number;
  /** null for generation 1, generation - 1 otherwise. */
  previousGeneration: number | null;
}

/** Header as given to a writer: version is implied (LOG_FORMAT_VERSION); recorder and ft default to null. */
export type LogHeaderInit = Omit<LogHeader, 'version' | 'recorder' | 'ft'> & { version?: number; recorder?: LogRecorder | null; ft?: LogFt | null };

/** Most virtio devices a machine has (slots at 0xD0000000 + n * 0x1000, IRQs 5, 6, 10, 11). */
export const MAX_VIRTIO_DEVICES = 4;
/** RAM size limits in bytes (the CLI's --mem range). */
export const MIN_MEMORY = 2 * 1024 * 1024;
export const MAX_MEMORY = 3 * 1024 * 1024 * 1024;
/** Longest command line (bytes, without the NUL) the boot-info block holds. */
export const MAX_CMDLINE = 1023;

const HEX64 = /^[0-9a-f]{64}$/;

/** Why `h` is not a valid header, or undefined. */
export function headerProblem(h: unknown): string | undefined {
  if (typeof h !== 'object' || h === null) return 'header is not an object';
  const x = h as Record<string, unknown>;
  if (typeof x.imageSha256 !== 'string' || !HEX64.test(x.imageSha256)) return 'imageSha256 must be 64 lowercase hex digits';
  if (!isIcount(x.memorySize)) return 'memorySize must be a non-negative integer';
  if (!isIcount(x.digestInterval)) return 'digestInterval must be a non-negative integer';
  if (!isIcount(x.startIcount)) return 'startIcount must be a non-negative integer';
  if (x.fromSnapshot !== null && (typeof x.fromSnapshot !== 'string' || !HEX64.test(x.fromSnapshot)))
    return 'fromSnapshot must be null or 64 lowercase hex digits';
  try {
    canonicalJson(x.devices);
  } catch (e) {
    return `devices: ${(e as Error).message}`;
  }
  if (x.recorder !== undefined && x.recorder !== null) {
    const r = x.recorder as Record<string, unknown>;
    if (typeof r !== 'object' || !isName(r.host)) return 'recorder.host must be a string of 1-255 characters';
    if (typeof r.pid !== 'number' || !Number.isSafeInteger(r.pid) || r.pid <= 0) return 'recorder.pid must be a positive integer';
    if (r.startTime !== undefined && !isIcount(r.startTime)) return 'recorder.startTime must be a non-negative integer';
  }
  if (x.ft !== undefined && x.ft !== null) {
    const f = x.ft as Record<string, unknown>;
    if (typeof f !== 'object' || !isName(f.vm)) return 'ft.vm must be a string of 1-255 characters';
    if (typeof f.generation !== 'number' || !Number.isSafeInteger(f.generation) || f.generation < 1) return 'ft.generation must be an integer >= 1';
    const want = f.generation === 1 ? null : f.generation - 1;
    if (f.previousGeneration !== want) return `ft.previousGeneration must be ${String(want)} for generation ${f.generation}`;
  }
  return undefined;
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= 255;
}

/**
 * Why the header's machine configuration (`devices`, M16) is impossible, naming the field, or
 * undefined. The shape is configJson's (src/replay/machine-snapshot.ts).
 */
export function devicesProblem(h: Pick<LogHeader, 'devices' | 'memorySize'>): string | undefined {
  const d = h.devices;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'devices must be an object {memSize, cmdline, disks, nets}';
  const o = d as Record<string, JsonValue>;
  for (const k of Object.keys(o)) if (!['memSize', 'cmdline', 'disks', 'nets'].includes(k)) return `devices.${k} is not a known field`;
  const mem = h.memorySize;
  if (mem < MIN_MEMORY || mem > MAX_MEMORY || mem % 4096 !== 0) return `memorySize ${mem} is not a multiple of 4 KiB between ${MIN_MEMORY} and ${MAX_MEMORY}`;
  if (o.memSize !== mem) return `devices.memSize ${JSON.stringify(o.memSize)} is not memorySize ${mem}`;
  if (typeof o.cmdline !== 'string') return 'devices.cmdline must be a string';
  if (o.cmdline.length > MAX_CMDLINE || !/^[\x01-\x7f]*$/.test(o.cmdline)) return `devices.cmdline must be at most ${MAX_CMDLINE} ASCII characters without NUL`;
  if (!Array.isArray(o.disks)) return 'devices.disks must be a list';
  if (!Array.isArray(o.nets)) return 'devices.nets must be a list';
  if (o.disks.length + o.nets.length > MAX_VIRTIO_DEVICES) return `devices: ${o.disks.length} disks + ${o.nets.length} nets is more than ${MAX_VIRTIO_DEVICES} virtio devices`;
  for (let i = 0; i < o.disks.length; i++) {
    const k = o.disks[i] as Record<string, JsonValue> | null;
    if (typeof k !== 'object' || k === null || Array.isArray(k)) return `devices.disks[${i}] must be {sizeBytes, readOnly}`;
    if (Object.keys(k).some((n) => n !== 'sizeBytes' && n !== 'readOnly')) return `devices.disks[${i}] has unknown fields`;
    if (typeof k.sizeBytes !== 'number' || !Number.isSafeInteger(k.sizeBytes) || k.sizeBytes < 0 || k.sizeBytes % 512 !== 0)
      return `devices.disks[${i}].sizeBytes ${JSON.stringify(k.sizeBytes)} is not a non-negative multiple of 512`;
    if (typeof k.readOnly !== 'boolean') return `devices.disks[${i}].readOnly must be true or false`;
  }
  for (let i = 0; i < o.nets.length; i++) {
    const n = o.nets[i] as Record<string, JsonValue> | null;
    if (typeof n !== 'object' || n === null || Array.isArray(n) || Object.keys(n).some((f) => f !== 'mac')) return `devices.nets[${i}] must be {mac}`;
    const mac = n.mac;
    if (mac === null || mac === undefined) continue;
    if (!Array.isArray(mac) || mac.length !== 6 || mac.some((b) => typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255))
      return `devices.nets[${i}].mac must be 6 bytes (0-255)`;
    if (((mac[0] as number) & 1) !== 0) return `devices.nets[${i}].mac ${mac.map((b) => (b as number).toString(16).padStart(2, '0')).join(':')} is a multicast address`;
  }
  return undefined;
}

/** Interrupt lines of the two 8259s (interrupt entries, M16). */
export const IRQ_LINES = 16;

/**
 * Why entry `e` is impossible for the machine of header `h` (M16), naming the field, or undefined.
 * Needs the header's devices to be valid (devicesProblem).
 */
export function entryContentProblem(e: LogEntry, h: Pick<LogHeader, 'devices' | 'memorySize'>): string | undefined {
  const dev = h.devices as { disks: unknown[]; nets: unknown[] };
  switch (e.kind) {
    case 'port-read': case 'mmio-read':
      return `${e.kind}: reserved kind that nothing produces`;
    case 'interrupt':
      if (e.payload.irq >= IRQ_LINES) return `interrupt: irq ${e.payload.irq} is not a line 0-${IRQ_LINES - 1}`;
      if (e.payload.level > 1) return `interrupt: level ${e.payload.level} is not 0 or 1`;
      return undefined;
    case 'console-input':
      return e.payload.unit !== 0 ? `console-input: unit ${e.payload.unit} does not exist (COM1 is unit 0)` : undefined;
    case 'disk-read': case 'disk-status':
      return e.payload.device >= dev.disks.length ? `${e.kind}: device ${e.payload.device} does not exist (the machine has ${dev.disks.length} disk(s))` : undefined;
    case 'net-rx':
      return e.payload.device >= dev.nets.length ? `net-rx: device ${e.payload.device} does not exist (the machine has ${dev.nets.length} NIC(s))` : undefined;
    case 'rdrand':
      return e.payload.size !== 8 || !e.payload.ok ? 'rdrand: the gate logs 8-byte values with ok true (M13)' : undefined;
    case 'digest':
      return e.payload.hash.length !== DIGEST_BYTES ? `digest: hash is ${e.payload.hash.length} bytes, not ${DIGEST_BYTES}` : undefined;
    case 'digest-detail': {
      const { state, pages, devices } = e.payload;
      // the register file's layout (state) is the digest's; the replayer checks it (src/replay/digest.ts)
      if (state.length === 0) return 'digest-detail: state is empty';
      if (pages.length % 8 !== 0) return `digest-detail: pages is ${pages.length} bytes, not (page, hash) pairs`;
      const dv = new DataView(pages.buffer, pages.byteOffset, pages.byteLength);
      for (let i = 0; i < pages.length; i += 8) {
        const p = dv.getUint32(i, true);
        if (p >= h.memorySize / 4096) return `digest-detail: page ${p} is outside memory`;
      }
      if (devices.length % 4 !== 0) return `digest-detail: devices is ${devices.length} bytes, not whole 32-bit hashes`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Bytes of a digest hash (src/replay/digest.ts DIGEST_HASH_BYTES). */
export const DIGEST_BYTES = 16;

/**
 * Canonical JSON: object keys sorted, no whitespace; throws on values JSON
 * cannot carry exactly (undefined, functions, NaN, bigint, typed arrays).
 */
export function canonicalJson(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidArgumentError(`not JSON-able: non-finite number ${v}`);
      return JSON.stringify(v);
    case 'string':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new InvalidArgumentError('only plain objects are JSON-able');
      const o = v as Record<string, unknown>;
      return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
    }
    default:
      throw new InvalidArgumentError(`${typeof v} is not JSON-able`);
  }
}

/** What a replayer expects of a log; omitted fields are not checked. */
export interface ExpectedLog {
  imageSha256?: string;
  memorySize?: number;
  devices?: JsonValue;
  digestInterval?: number;
  /** null = must start from boot; a hash = must start from that snapshot. */
  fromSnapshot?: string | null;
}

/** Thrown when a log's header does not match what the replayer expects. */
export class HeaderMismatchError extends X86ftError {
  constructor(readonly mismatches: readonly string[]) {
    super('LOG_HEADER_MISMATCH', `log header does not match this machine: ${mismatches.join('; ')}`);
    this.name = 'HeaderMismatchError';
  }
}

/** Differences between a header and the expectation, one line each (empty = match). */
export function headerMismatches(h: LogHeader, expected: ExpectedLog): string[] {
  const out: string[] = [];
  if (expected.imageSha256 !== undefined && expected.imageSha256.toLowerCase() !== h.imageSha256)
    out.push(`image ${h.imageSha256} != expected ${expected.imageSha256}`);
  if (expected.memorySize !== undefined && expected.memorySize !== h.memorySize)
    out.push(`memorySize ${h.memorySize} != expected ${expected.memorySize}`);
  if (expected.digestInterval !== undefined && expected.digestInterval !== h.digestInterval)
    out.push(`digestInterval ${h.digestInterval} != expected ${expected.digestInterval}`);
  if (expected.fromSnapshot !== undefined && expected.fromSnapshot !== h.fromSnapshot)
    out.push(`fromSnapshot ${String(h.fromSnapshot)} != expected ${String(expected.fromSnapshot)}`);
  if (expected.devices !== undefined) {
    const a = canonicalJson(h.devices);
    const b = canonicalJson(expected.devices);
    if (a !== b) out.push(`devices ${a} != expected ${b}`);
  }
  return out;
}

/** Throws HeaderMismatchError unless `h` matches `expected`. */
export function checkHeader(h: LogHeader, expected: ExpectedLog): void {
  const m = headerMismatches(h, expected);
  if (m.length) throw new HeaderMismatchError(m);
}
