// Log framing and entry encoding: LogEncoder turns a header and batches of
// plain entries into bytes, LogDecoder turns bytes (fed incrementally) back
// into entries. Framing knows frames (blocks), not machines. Imports only
// format.ts, crc32.ts and msgpackr's pure-JS build.
//
// Wire format, versions 1 to 3 (all integers little-endian; version 2 only adds
// entry kinds, see format.ts M10-M13; version 3 adds seq/link and header fields, M14-M19):
//
//   stream    := magic frame(header) frame(batch)* frame(end)
//   magic     := "X86FTLOG" (8 ASCII bytes)
//   frame     := lenword:u32 crc:u32 payload[len]
//   lenword   := len | check << 24, with 1 <= len <= 0xFFFFFF and
//                check = 0x5A ^ (len & 0xFF) ^ (len >> 8 & 0xFF) ^ (len >> 16 & 0xFF)
//                (a self-checking length: a damaged length word is reported as
//                corruption at once instead of waiting for bytes that never come)
//   crc       := CRC-32/IEEE of payload
//   payload   := type:u8 body                      (header frame; every frame of v1/v2)
//              | type:u8 seq:u32 link:u32 body     (v3 frames after the header, M14:
//                seq = frame index, header = 0; link = CRC of the previous frame)
//   type 0x48 'H' header: body = version:u16 msgpack({imageSha256, memorySize,
//                devices, digestInterval, startIcount, fromSnapshot[, recorder, ft (v3)]})
//   type 0x42 'B' batch:  body = msgpack([delta0, code0, payload0, delta1, code1, payload1, ...])
//                delta = icount - previous icount (across batches; the first
//                entry's previous icount is header.startIcount); code = kind's
//                wire code; payload = msgpackr record whose structure id is
//                0x40 + index of the kind in ENTRY_KINDS and whose fields are
//                ENTRY_SCHEMA[kind].fields in order (shared, predefined
//                structures: nothing is defined inline).
//   type 0x45 'E' end:    body = msgpack({ entries: total count, lastIcount })

import { Packr, Unpackr } from 'msgpackr/pack'; // resolves to msgpackr's pure-JS build (no native extension)
import { crc32 } from './crc32.js';
import {
  ENTRY_KINDS,
  ENTRY_SCHEMA,
  LOG_FORMAT_VERSION,
  LOG_MAGIC,
  SUPPORTED_LOG_VERSIONS,
  checkHeader,
  devicesProblem,
  entryContentProblem,
  entryProblem,
  headerProblem,
  kindOfCode,
  type EntryKind,
  type ExpectedLog,
  type LogEntry,
  type LogHeader,
  type LogHeaderInit,
} from './format.js';
import { InvalidStateError, X86ftError } from '../errors.js';

export const FRAME_HEADER_BYTES = 8;
export const MAX_FRAME_PAYLOAD = 0xffffff;
export const MAGIC_BYTES: Uint8Array = new TextEncoder().encode(LOG_MAGIC);

/** Frame type byte (first payload byte). */
export const FrameType = { Header: 0x48, Batch: 0x42, End: 0x45 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

// ─── Errors ─────────────────────────────────────────────────────────────────

/** A log that cannot be read as a valid stream. `offset` = byte offset of the frame (or byte) at fault. */
export class LogError extends X86ftError {
  constructor(
    override readonly code: 'LOG_TRUNCATED' | 'LOG_CORRUPT' | 'LOG_VERSION',
    readonly offset: number,
    message: string,
  ) {
    super(code, message);
    this.name = 'LogError';
  }
}

/** The stream ended before its end frame: it is unfinished (cut). `offset` = length of the valid prefix. */
export class TruncatedLogError extends LogError {
  constructor(offset: number, detail: string) {
    super('LOG_TRUNCATED', offset, `log is cut at offset ${offset} (${detail})`);
    this.name = 'TruncatedLogError';
  }
}

/** A frame failed its length check, CRC, decoding or a must-rule. `offset` = start of that frame. */
export class CorruptLogError extends LogError {
  constructor(
    offset: number,
    readonly reason: string,
  ) {
    super('LOG_CORRUPT', offset, `log is corrupted at offset ${offset}: ${reason}`);
    this.name = 'CorruptLogError';
  }
}

/** The stream has a format version this reader does not know. */
export class UnsupportedVersionError extends LogError {
  constructor(
    offset: number,
    readonly version: number,
  ) {
    super('LOG_VERSION', offset, `log format version ${version} is not supported (supported: ${SUPPORTED_LOG_VERSIONS.join(', ')})`);
    this.name = 'UnsupportedVersionError';
  }
}

/** An entry or header given to an encoder breaks the schema or a must-rule (a recorder bug). */
export class InvalidEntryError extends X86ftError {
  constructor(message: string) {
    super('LOG_INVALID_ENTRY', message);
    this.name = 'InvalidEntryError';
  }
}

// ─── msgpackr setup ─────────────────────────────────────────────────────────

/** Record structures: index i is ENTRY_KINDS[i], fields in schema order. */
function entryStructures(): string[][] {
  return ENTRY_KINDS.map((k) => ENTRY_SCHEMA[k].fields.map(([n]) => n));
}
const N_STRUCT = ENTRY_KINDS.length;

function batchPackr(): Packr {
  return new Packr({ useRecords: true, structures: entryStructures(), maxSharedStructures: N_STRUCT, useFloat32: 0 });
}
function batchUnpackr(): Unpackr {
  return new Unpackr({ useRecords: true, structures: entryStructures(), maxSharedStructures: N_STRUCT });
}
const plainPackr = new Packr({ useRecords: false, useFloat32: 0 });
const plainUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

const CODE_OF: Record<EntryKind, number> = Object.fromEntries(ENTRY_KINDS.map((k) => [k, ENTRY_SCHEMA[k].code])) as Record<EntryKind, number>;

// ─── Framing ────────────────────────────────────────────────────────────────

function lengthWord(len: number): number {
  const check = (0x5a ^ (len & 0xff) ^ ((len >>> 8) & 0xff) ^ ((len >>> 16) & 0xff)) & 0xff;
  return (len | (check << 24)) >>> 0;
}

/** Payload length from a length word, or -1 if the word fails its check. */
function lengthOfWord(word: number): number {
  const len = word & 0xffffff;
  return lengthWord(len) === word >>> 0 && len >= 1 ? len : -1;
}

/** Bytes of seq:u32 link:u32 after the type byte of a v3 frame (M14). */
export const FRAME_CHAIN_BYTES = 8;

/** One frame: [lenword][crc][type][seq link (v3, when `chain` is given)][body]. body is copied. */
export function encodeFrame(type: FrameType, body: Uint8Array, prefix?: Uint8Array, chain?: { seq: number; link: number }): Uint8Array {
  const extra = chain ? FRAME_CHAIN_BYTES : 0;
  const len = 1 + extra + body.length;
  if (len > MAX_FRAME_PAYLOAD) throw new InvalidEntryError(`frame payload of ${len} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const pre = prefix ? prefix.length : 0;
  const out = new Uint8Array(pre + FRAME_HEADER_BYTES + len);
  if (prefix) out.set(prefix, 0);
  const p = pre + FRAME_HEADER_BYTES;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[p] = type;
  if (chain) {
    dv.setUint32(p + 1, chain.seq >>> 0, true);
    dv.setUint32(p + 5, chain.link >>> 0, true);
  }
  out.set(body, p + 1 + extra);
  dv.setUint32(pre, lengthWord(len), true);
  dv.setUint32(pre + 4, crc32(out, p, p + len), true);
  return out;
}

/** The CRC field of a frame that starts `at` bytes into `frame`. */
function frameCrc(frame: Uint8Array, at: number): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(at + 4, true);
}

/** The header with every field, in wire order (recorder and ft default to null). */
function fullHeader(header: LogHeaderInit): LogHeader {
  return {
    version: header.version ?? LOG_FORMAT_VERSION,
    imageSha256: header.imageSha256,
    memorySize: header.memorySize,
    devices: header.devices,
    digestInterval: header.digestInterval,
    startIcount: header.startIcount,
    fromSnapshot: header.fromSnapshot,
    recorder: header.recorder ?? null,
    ft: header.ft ?? null,
  };
}

// ─── Encoder ────────────────────────────────────────────────────────────────

/**
 * Stateful encoder of one stream. Call start() once, batch() any number of
 * times, end() once; concatenating the results in order gives the stream.
 */
export class LogEncoder {
  readonly header: LogHeader;
  /** icount of the last entry encoded (or header.startIcount). */
  lastIcount: number;
  /** Entries encoded so far. */
  entryCount = 0;
  private state: 0 | 1 | 2 = 0; // 0 before start, 1 open, 2 ended
  private readonly packr = batchPackr();
  private flat: unknown[] = [];
  /** Frames encoded so far (the next frame's seq, M14) and the last frame's CRC (its link). */
  private seq = 0;
  private lastCrc = 0;

  constructor(header: LogHeaderInit) {
    const h = fullHeader(header);
    const why = headerProblem(h);
    if (why) throw new InvalidEntryError(`bad log header: ${why}`);
    if (!SUPPORTED_LOG_VERSIONS.includes(h.version)) throw new InvalidEntryError(`this encoder writes versions ${SUPPORTED_LOG_VERSIONS.join(', ')} only`);
    if (h.version < 3 && (h.recorder !== null || h.ft !== null)) throw new InvalidEntryError('recorder and ft need format version 3');
    this.header = h;
    this.lastIcount = h.startIcount;
  }

  /** Magic + header frame. */
  start(): Uint8Array {
    if (this.state !== 0) throw new InvalidEntryError('start() called twice');
    this.state = 1;
    const { version, recorder, ft, ...rest } = this.header;
    const obj = plainPackr.pack(version >= 3 ? { ...rest, recorder, ft } : rest);
    const body = new Uint8Array(2 + obj.length);
    body[0] = version & 0xff;
    body[1] = version >>> 8;
    body.set(obj, 2);
    return this.chained(encodeFrame(FrameType.Header, body, MAGIC_BYTES), MAGIC_BYTES.length);
  }

  /** A frame after the header: seq and link from version 3 on (M14). */
  private frame(type: FrameType, body: Uint8Array): Uint8Array {
    const chain = this.header.version >= 3 ? { seq: this.seq, link: this.lastCrc } : undefined;
    return this.chained(encodeFrame(type, body, undefined, chain), 0);
  }

  private chained(frame: Uint8Array, at: number): Uint8Array {
    this.seq++;
    this.lastCrc = frameCrc(frame, at);
    return frame;
  }

  /**
   * Throws InvalidEntryError unless `e` is valid and may follow an entry at
   * icount `prev` (M2-M4).
   */
  static check(e: LogEntry, prev: number): void {
    const why = entryProblem(e);
    if (why) throw new InvalidEntryError(why);
    if (e.icount < prev) throw new InvalidEntryError(`icount ${e.icount} < previous ${prev} (icounts must not decrease)`);
  }

  /**
   * One batch frame for `entries` (at least one). Validates each entry
   * unless `trusted` (the caller already ran LogEncoder.check in order).
   */
  batch(entries: readonly LogEntry[], trusted = false): Uint8Array {
    if (this.state !== 1) throw new InvalidEntryError(this.state === 0 ? 'batch() before start()' : 'batch() after end()');
    if (entries.length === 0) throw new InvalidEntryError('empty batch');
    const flat = this.flat;
    flat.length = 0;
    let prev = this.lastIcount;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!trusted) {
        LogEncoder.check(e, prev);
        if ((ENTRY_SCHEMA[e.kind].since ?? 1) > this.header.version)
          throw new InvalidEntryError(`${e.kind} entries need format version ${ENTRY_SCHEMA[e.kind].since} (this stream is version ${this.header.version})`);
      }
      flat.push(e.icount - prev, CODE_OF[e.kind], orderedPayload(e));
      prev = e.icount;
    }
    const frame = this.frame(FrameType.Batch, this.packr.pack(flat));
    flat.length = 0;
    this.lastIcount = prev;
    this.entryCount += entries.length;
    return frame;
  }

  /** End frame (M6). */
  end(): Uint8Array {
    if (this.state !== 1) throw new InvalidEntryError(this.state === 0 ? 'end() before start()' : 'end() called twice');
    this.state = 2;
    return this.frame(FrameType.End, plainPackr.pack({ entries: this.entryCount, lastIcount: this.lastIcount }));
  }

  /** Bytes one entry takes inside a batch frame, given the previous icount (for statistics). */
  entrySize(e: LogEntry, prev: number): number {
    // A 3-element fixarray costs one header byte; the elements are context-free.
    return this.packr.pack([e.icount - prev, CODE_OF[e.kind], orderedPayload(e)]).length - 1;
  }
}

/** Payload object with exactly the schema's keys in schema order, so it maps to the predefined record. */
function orderedPayload(e: LogEntry): Record<string, unknown> {
  const p = e.payload as unknown as Record<string, unknown>;
  const fields = ENTRY_SCHEMA[e.kind].fields;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const n = fields[i]![0];
    o[n] = p[n];
  }
  return o;
}

/** Encode a whole finished stream in one go (tests, tools, benchmarks). */
export function encodeLog(header: LogHeaderInit, entries: readonly LogEntry[], batchSize = 256, finished = true): Uint8Array {
  const enc = new LogEncoder(header);
  const parts: Uint8Array[] = [enc.start()];
  for (let i = 0; i < entries.length; i += batchSize) parts.push(enc.batch(entries.slice(i, i + batchSize)));
  if (finished) parts.push(enc.end());
  return concatBytes(parts);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ─── Decoder ────────────────────────────────────────────────────────────────

export interface DecoderOptions {
  /** Refuse (HeaderMismatchError) a header that does not match. */
  expect?: ExpectedLog;
  /** Also check that the content is possible for the header's machine (format.ts M16, M17): a
   *  CorruptLogError naming the field otherwise. Default false here (the codec alone checks
   *  framing and schema); readLog() turns it on. */
  content?: boolean;
  /** Called once with the header, before any entry; may throw to refuse it. */
  onHeader?: (h: LogHeader) => void;
}

/** The end frame's contents. */
export interface LogTrailer {
  entries: number;
  lastIcount: number;
}

/**
 * Incremental decoder. push() bytes as they arrive, read() entries until it
 * returns undefined (more bytes needed, or the log is finished), call eof()
 * when the source has ended. read() throws a LogError (or
 * HeaderMismatchError) at the first bad frame, after every entry of the good
 * frames before it has been returned; the error is sticky.
 */
export class LogDecoder {
  header: LogHeader | undefined;
  /** The end frame, once seen: the log is finished. */
  trailer: LogTrailer | undefined;
  /** Bytes of valid, fully decoded frames (including the magic). */
  offset = 0;
  /** Frames decoded. */
  frames = 0;
  /** Entries decoded (queued or returned). */
  entryCount = 0;
  /** icount of the last decoded entry (or header.startIcount). */
  lastIcount = 0;
  /** CRC of the last decoded frame (a v3 frame's link must equal it, M14). */
  private lastCrc = 0;
  /** M17: the next multiple of digestInterval that needs its digest, and a digest off the
   *  multiples that must be followed by an end or snapshot record of its icount. */
  private nextDigestAt = Infinity;
  private finalDigestAt = -1;
  private startSeen = false;
  private m17 = true;

  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private queue: LogEntry[] = [];
  private qpos = 0;
  private error: Error | undefined;
  private eofSeen = false;
  private readonly unpackr = batchUnpackr();

  constructor(private readonly opts: DecoderOptions = {}) {}

  get finished(): boolean {
    return this.trailer !== undefined;
  }

  /** Append bytes from the source. The chunk is kept by reference until decoded: do not modify it afterwards. */
  push(chunk: Uint8Array): void {
    if (this.eofSeen) throw new InvalidStateError('push() after eof()');
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The source has ended: no more bytes will be pushed. */
  eof(): void {
    this.eofSeen = true;
  }

  /** Next entry, or undefined if more bytes are needed or the log is finished. Throws LogError. */
  read(): LogEntry | undefined {
    for (;;) {
      if (this.qpos < this.queue.length) {
        const e = this.queue[this.qpos++]!;
        if (this.qpos === this.queue.length) {
          this.queue = [];
          this.qpos = 0;
        }
        return e;
      }
      if (this.error) throw this.error;
      try {
        if (!this.step()) return undefined;
      } catch (err) {
        this.error = err as Error;
        throw err;
      }
    }
  }

  /** Decoded entries available now (read() until undefined). */
  *drain(): Generator<LogEntry> {
    for (let e = this.read(); e !== undefined; e = this.read()) yield e;
  }

  /** Decode at most one frame. Returns false if nothing more can be done now. */
  private step(): boolean {
    if (this.offset === 0) {
      // Magic: check the prefix as soon as bytes arrive.
      const n = Math.min(this.buffered, MAGIC_BYTES.length);
      const head = this.peek(n);
      for (let i = 0; i < n; i++)
        if (head[i] !== MAGIC_BYTES[i]) throw new CorruptLogError(0, 'not an x86ft log (bad magic)');
      if (n < MAGIC_BYTES.length) return this.needMore('in the magic');
      this.consume(MAGIC_BYTES.length);
      this.offset = MAGIC_BYTES.length;
      return true;
    }
    if (this.trailer) {
      if (this.buffered > 0) throw new CorruptLogError(this.offset, 'data after the end frame');
      return false;
    }
    const at = this.offset;
    if (this.buffered < FRAME_HEADER_BYTES) return this.needMore('in a frame header');
    const fh = this.peek(FRAME_HEADER_BYTES);
    const dv = new DataView(fh.buffer, fh.byteOffset, FRAME_HEADER_BYTES);
    const len = lengthOfWord(dv.getUint32(0, true));
    if (len < 0) throw new CorruptLogError(at, 'bad frame length word');
    const crc = dv.getUint32(4, true);
    if (this.buffered < FRAME_HEADER_BYTES + len) return this.needMore(`frame of ${len} bytes incomplete`);
    const all = this.peek(FRAME_HEADER_BYTES + len);
    let payload = all.subarray(FRAME_HEADER_BYTES);
    if (crc32(payload) !== crc) throw new CorruptLogError(at, 'CRC mismatch');
    if (this.header !== undefined && this.header.version >= 3) {
      // M14: this frame must be the next one of this very stream
      if (payload.length < 1 + FRAME_CHAIN_BYTES) throw new CorruptLogError(at, 'frame too short for its sequence number');
      const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const seq = pv.getUint32(1, true), link = pv.getUint32(5, true);
      if (seq !== this.frames) {
        // a later frame first: either missing frames or frames swapped (only what follows could tell)
        const what = seq < this.frames ? 'a duplicated or reordered frame' : 'a frame is missing or frames are out of order';
        throw new CorruptLogError(at, `frame sequence number ${seq} where ${this.frames} was due (${what})`);
      }
      if (link !== this.lastCrc) throw new CorruptLogError(at, `frame ${seq} does not follow frame ${seq - 1} of this log (spliced from another log)`);
      const body = new Uint8Array(payload.length - FRAME_CHAIN_BYTES);
      body[0] = payload[0]!;
      body.set(payload.subarray(1 + FRAME_CHAIN_BYTES), 1);
      payload = body;
    }
    this.decodeFrame(at, payload);
    this.lastCrc = crc;
    this.consume(FRAME_HEADER_BYTES + len);
    this.offset = at + FRAME_HEADER_BYTES + len;
    this.frames++;
    return true;
  }

  private needMore(where: string): false {
    if (this.eofSeen) {
      if (this.header === undefined && this.offset <= MAGIC_BYTES.length) throw new TruncatedLogError(this.offset, `${where}, before the header is complete`);
      throw new TruncatedLogError(this.offset, where);
    }
    return false;
  }

  private decodeFrame(at: number, payload: Uint8Array): void {
    const type = payload[0];
    const body = payload.subarray(1);
    if (this.header === undefined) {
      if (type !== FrameType.Header) throw new CorruptLogError(at, 'first frame is not a header frame');
      if (body.length < 2) throw new CorruptLogError(at, 'header frame too short');
      const version = body[0]! | (body[1]! << 8);
      if (!SUPPORTED_LOG_VERSIONS.includes(version)) throw new UnsupportedVersionError(at, version);
      const obj = this.unpack(plainUnpackr, body.subarray(2), at) as Record<string, unknown>;
      const h = { version, ...obj } as LogHeader;
      const why = headerProblem(h);
      if (why) throw new CorruptLogError(at, `bad header: ${why}`);
      if (version < 3 && (obj.recorder !== undefined || obj.ft !== undefined)) throw new CorruptLogError(at, `bad header: recorder and ft are version-3 fields (this log is version ${version})`);
      if (version >= 3 && (obj.recorder === undefined || obj.ft === undefined)) throw new CorruptLogError(at, 'bad header: a version-3 header has recorder and ft (null when unknown)');
      const header = fullHeader({ ...h, version });
      if (this.opts.content) {
        const bad = devicesProblem(header);
        if (bad) throw new CorruptLogError(at, `bad header: ${bad}`);
      }
      if (this.opts.expect) checkHeader(header, this.opts.expect);
      this.opts.onHeader?.(header);
      this.header = header;
      this.lastIcount = header.startIcount;
      if (version >= 3 && header.digestInterval > 0) this.nextDigestAt = header.startIcount + header.digestInterval;
      return;
    }
    if (type === FrameType.Batch) {
      const flat = this.unpack(this.unpackr, body, at);
      if (!Array.isArray(flat) || flat.length === 0 || flat.length % 3 !== 0)
        throw new CorruptLogError(at, 'batch is not a non-empty list of (delta, kind, payload)');
      const out: LogEntry[] = new Array(flat.length / 3);
      let prev = this.lastIcount;
      for (let i = 0, j = 0; i < flat.length; i += 3, j++) {
        const delta = flat[i];
        if (typeof delta !== 'number' || !Number.isSafeInteger(delta) || delta < 0)
          throw new CorruptLogError(at, `entry ${j}: bad icount delta ${String(delta)}`);
        const kind = kindOfCode(flat[i + 1] as number, this.header.version);
        if (kind === undefined) throw new CorruptLogError(at, `entry ${j}: unknown kind code ${String(flat[i + 1])}`);
        const raw = flat[i + 2] as Record<string, unknown> | null;
        if (typeof raw !== 'object' || raw === null) throw new CorruptLogError(at, `entry ${j}: payload is not a record`);
        const payload: Record<string, unknown> = {};
        for (const [n, t] of ENTRY_SCHEMA[kind].fields) {
          const v = raw[n];
          // Copy bytes out of the frame buffer: plain Uint8Array, no aliasing.
          payload[n] = t === 'bytes' && v instanceof Uint8Array ? new Uint8Array(v) : v;
        }
        const e = { icount: prev + delta, kind, payload } as LogEntry;
        const why = entryProblem(e) ?? (this.opts.content ? entryContentProblem(e, this.header) ?? this.digestPlacement(e) : undefined);
        if (why) throw new CorruptLogError(at, `entry ${j}: ${why}`);
        if (Object.keys(raw).length !== ENTRY_SCHEMA[kind].fields.length)
          throw new CorruptLogError(at, `entry ${j}: ${kind} payload has unexpected fields`);
        out[j] = e;
        prev = e.icount;
      }
      // The whole frame is valid: only now publish its entries.
      this.lastIcount = prev;
      this.entryCount += out.length;
      if (this.queue.length === 0) this.queue = out;
      else for (const e of out) this.queue.push(e);
      return;
    }
    if (type === FrameType.End) {
      const t = this.unpack(plainUnpackr, body, at) as Partial<LogTrailer> | null;
      if (typeof t !== 'object' || t === null || t.entries !== this.entryCount || t.lastIcount !== this.lastIcount)
        throw new CorruptLogError(at, `end frame says ${JSON.stringify(t)} but the log holds ${this.entryCount} entries up to icount ${this.lastIcount}`);
      this.trailer = { entries: t.entries, lastIcount: t.lastIcount };
      return;
    }
    if (type === FrameType.Header) throw new CorruptLogError(at, 'second header frame');
    throw new CorruptLogError(at, `unknown frame type 0x${(type ?? 0).toString(16)}`);
  }

  /** M17 (version 3): digests at the multiples of the interval (from the start record, then from each snapshot
   *  record), others only as the final digest. */
  private digestPlacement(e: LogEntry): string | undefined {
    const h = this.header!;
    if (h.version < 3) return undefined;
    if (this.finalDigestAt >= 0 && e.kind !== 'digest-detail' && e.kind !== 'digest') {
      const ok = e.icount === this.finalDigestAt && (e.kind === 'end' || e.kind === 'snapshot');
      const at = this.finalDigestAt;
      this.finalDigestAt = -1;
      if (!ok) return `the digest at icount ${at} is neither at a multiple of digestInterval ${h.digestInterval} from ${h.startIcount} nor followed by the end or a snapshot`;
    }
    if (e.kind === 'start') {
      // A recorder counts its digest multiples from where it attached. A later start record is a
      // chain of generation logs stitched into one stream (src/replay/chain.ts): each generation
      // has its own interval, checked when its own log was read, so the check stops here.
      const first = this.startSeen === false;
      this.startSeen = true;
      this.nextDigestAt = first && h.digestInterval > 0 ? e.icount + h.digestInterval : Infinity;
      this.m17 = first;
      return undefined;
    }
    if (!this.m17) return undefined;
    if (e.icount > this.nextDigestAt) return `no digest at icount ${this.nextDigestAt} (digestInterval ${h.digestInterval} from ${h.startIcount}), the log goes on to ${e.icount}`;
    if (e.kind === 'digest') {
      if (e.icount === this.nextDigestAt) this.nextDigestAt += h.digestInterval;
      else this.finalDigestAt = e.icount;
    }
    // a live snapshot restarts the multiples at its icount (a log forked there starts from it: Recorder.forkAtSnapshot)
    if (e.kind === 'snapshot' && h.digestInterval > 0) this.nextDigestAt = e.icount + h.digestInterval;
    return undefined;
  }

  private unpack(u: Unpackr, bytes: Uint8Array, at: number): unknown {
    try {
      return u.unpack(bytes);
    } catch (e) {
      throw new CorruptLogError(at, `undecodable frame body (${(e as Error).message})`);
    }
  }

  /** The first n buffered bytes as one contiguous view (joins chunks if needed). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    const joined = concatBytes(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        this.chunks.shift();
        n -= c.length;
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}

/** Decode a complete in-memory stream; throws LogError like LogDecoder. */
export function decodeLog(bytes: Uint8Array, opts?: DecoderOptions): { header: LogHeader; entries: LogEntry[]; trailer: LogTrailer } {
  const d = new LogDecoder(opts);
  d.push(bytes);
  d.eof();
  const entries = [...d.drain()];
  // drain() stops at undefined only when finished (eof() turns "need more" into a throw).
  return { header: d.header!, entries, trailer: d.trailer! };
}
