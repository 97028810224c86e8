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

/** The log format version this code writes. Version 2 added disk-status and digest-detail (M10-M13). */
export const LOG_FORMAT_VERSION = 2;
/** Versions this code can read (a version-1 stream is version 2 without the newer kinds). */
export const SUPPORTED_LOG_VERSIONS: readonly number[] = [1, 2];
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
}

/** Header as given to a writer: version is implied. */
export type LogHeaderInit = Omit<LogHeader, 'version'> & { version?: number };

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
  return undefined;
}

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
      if (!Number.isFinite(v)) throw new Error(`non-finite number ${v}`);
      return JSON.stringify(v);
    case 'string':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new Error('only plain objects are JSON-able');
      const o = v as Record<string, unknown>;
      return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
    }
    default:
      throw new Error(`${typeof v} is not JSON-able`);
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
export class HeaderMismatchError extends Error {
  readonly code = 'LOG_HEADER_MISMATCH';
  constructor(readonly mismatches: readonly string[]) {
    super(`log header does not match this machine: ${mismatches.join('; ')}`);
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
