// The FT channel's wire protocol, independent of any socket: preamble, handshake frames and proofs,
// session keys, sealed (sequence-numbered, HMAC-authenticated) message frames, the message kinds of
// the P<->S channel and their validation. Imports node:crypto and msgpackr only; nothing from
// src/machine, src/replay's recorder/replayer, or the roles. The layout is in src/ft/README.md ("Wire format").

import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr/pack'; // msgpackr's pure-JS build (no native extension)

/** Version of the channel protocol; a peer with another version is refused (code VERSION).
 *  2: a respawn pre-copies RAM ('ram'); 'snapshot-data' carries the machine state without RAM. */
export const FT_PROTOCOL_VERSION = 2;
import { X86ftError } from '../errors.js';
/** First 8 bytes each side sends: never changes, so any version can name the other's. */
export const PREAMBLE_MAGIC = 'X86FT-CH';
/** Preamble = magic (8 bytes) + version (u16 big-endian). */
export const PREAMBLE_BYTES = 10;
/** Largest handshake frame payload (a hello, a proof or a refusal). */
export const MAX_HANDSHAKE_FRAME = 4096;
/** Default largest sealed-frame payload (a 16 MiB log chunk plus its msgpack envelope). */
export const DEFAULT_MAX_FRAME = (16 << 20) + 64;
/** Sealed frame header: len:u32, seq:u64, mac[32]. */
export const SEALED_HEADER_BYTES = 44;
/** Shortest cluster secret accepted (bytes). */
export const MIN_SECRET_BYTES = 16;

// ─── Errors ─────────────────────────────────────────────────────────────────

/** Why a channel (or a handshake) ended. One code per cause; see src/ft/README.md. */
export type ProtocolErrorCode =
  | 'CONFIG' // bad local options (no or short secret, bad bounds): nothing was sent
  | 'CONNECT' // could not reach the peer (refused, unreachable, TLS failure)
  | 'VERSION' // the peer speaks another protocol version
  | 'AUTH' // the peer did not prove the cluster secret (wrong or no secret)
  | 'WRONG_PEER' // the peer is for another VM, has the wrong role, or was refused by the acceptPeer hook
  | 'HANDSHAKE_TIMEOUT' // the handshake did not complete in time (slow or silent peer)
  | 'BUSY' // the listener already has maxHandshakes handshakes in progress
  | 'MALFORMED' // bytes that are not this protocol (bad magic, undecodable or ill-typed frame)
  | 'UNKNOWN_KIND' // an authenticated message of a kind this side does not know
  | 'TOO_LARGE' // a frame longer than the maximum
  | 'BAD_MAC' // a frame whose HMAC does not verify (injected or corrupted)
  | 'SEQUENCE' // a frame with a valid HMAC but the wrong sequence number (replayed or reordered)
  | 'TRUNCATED' // the connection ended inside a frame
  | 'CLOSED' // the peer closed the connection between frames without a 'bye'
  | 'RESET' // the connection broke (reset, broken pipe)
  | 'BYE' // orderly end: the peer sent 'bye' and closed
  | 'LOCAL'; // this side closed the channel

/** The one error type of the FT channel. `code` says why; the message names what was seen. */
export class ProtocolError extends X86ftError {
  constructor(
    override readonly code: ProtocolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

// ─── Message kinds ──────────────────────────────────────────────────────────

/** The P<->S messages (src/ft/README.md "Channel messages"). */
export type FtMessage =
  | { t: 'log'; bytes: Uint8Array } // P->S: next bytes of the log stream (the file format, unchanged)
  | { t: 'sync'; icount: number } // P->S: every entry with icount <= X has been sent
  | { t: 'release'; marks: Record<string, number> } // P->S: per stream, highest seq completed at its sink
  | { t: 'ack'; icount: number } // S->P: S holds every entry with icount <= X
  | { t: 'heartbeat'; icount: number } // both ways
  | { t: 'divergence'; icount: number; message: string } // S->P, then S stops and never claims
  | { t: 'bye'; reason: string; status?: number } // orderly end (guest ended, stop requested)
  // Respawn (FT.md "Redundancy restored"): a secondary joining a running primary gets RAM pre-copied
  // while the guest runs, then at icount M the last changed pages and the machine state, then the log
  // stream from M (a log whose header names the snapshot). src/replay/precopy.ts.
  | { t: 'ram'; offset: number; bytes: Uint8Array } // P->S: RAM content at offset (whole pages; a later one replaces an earlier one), only before 'snapshot'
  | { t: 'snapshot'; icount: number; hash: string; size: number; marks: Record<string, number>; input: number } // P->S: M, the pre-copy identity of the state at M, state bytes to come, S's first release mark, console input bytes consumed before M
  | { t: 'snapshot-data'; offset: number; bytes: Uint8Array } // P->S: the machine state's bytes (sections, no RAM) at offset (in order)
  | { t: 'snapshot-end'; sha256: Uint8Array }; // P->S: SHA-256 of the state bytes as sent (S refuses a mismatch, and an assembled state whose identity is not 'hash')

/** A message: a plain object whose `t` names its kind. */
export interface Message {
  t: string;
}

/**
 * One row per message kind: checks a decoded object's fields and returns the message built from
 * them (fresh object, only the known fields), or a string saying what is wrong.
 */
export type KindTable<M extends Message> = { readonly [K in M['t']]: (o: Record<string, unknown>) => Extract<M, { t: K }> | string };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const MAX_TEXT = 4096;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_TEXT;

/** Field checkers for kind tables (shared with the console service's kinds). */
export const field = {
  count(o: Record<string, unknown>, name: string): number | string {
    const v = o[name];
    return isCount(v) ? v : `field '${name}' must be a non-negative integer`;
  },
  bytes(o: Record<string, unknown>, name: string): Uint8Array | string {
    const v = o[name];
    return isBytes(v) ? v : `field '${name}' must be bytes`;
  },
  text(o: Record<string, unknown>, name: string): string | { error: string } {
    const v = o[name];
    return isText(v) ? v : { error: `field '${name}' must be a string of at most ${MAX_TEXT} characters` };
  },
};

function countMessage<T extends 'sync' | 'ack' | 'heartbeat'>(t: T) {
  return (o: Record<string, unknown>): { t: T; icount: number } | string => {
    const icount = field.count(o, 'icount');
    return typeof icount === 'string' ? icount : { t, icount };
  };
}

/** Per-stream sequence numbers (release marks; a snapshot's first release mark). */
function checkMarks(m: unknown): Record<string, number> | string {
  if (typeof m !== 'object' || m === null || Array.isArray(m) || isBytes(m)) return "field 'marks' must be a map";
  const marks: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === '__proto__' || k.length > 64) return `bad stream name in 'marks'`;
    if (!isCount(v)) return `mark of stream '${k}' must be a non-negative integer`;
    marks[k] = v;
  }
  return marks;
}

/** The P<->S kinds. (ram, snapshot, snapshot-data, snapshot-end: respawn); any other kind is UNKNOWN_KIND. */
export const FT_KINDS: KindTable<FtMessage> = {
  log(o) {
    const bytes = field.bytes(o, 'bytes');
    return typeof bytes === 'string' ? bytes : { t: 'log', bytes };
  },
  sync: countMessage('sync'),
  ack: countMessage('ack'),
  heartbeat: countMessage('heartbeat'),
  release(o) {
    const marks = checkMarks(o.marks);
    return typeof marks === 'string' ? marks : { t: 'release', marks };
  },
  snapshot(o) {
    const icount = field.count(o, 'icount');
    if (typeof icount === 'string') return icount;
    const size = field.count(o, 'size');
    if (typeof size === 'string') return size;
    if (typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash)) return "field 'hash' must be 64 hex digits";
    const input = field.count(o, 'input');
    if (typeof input === 'string') return input;
    const marks = checkMarks(o.marks);
    return typeof marks === 'string' ? marks : { t: 'snapshot', icount, hash: o.hash, size, marks, input };
  },
  ram(o) {
    const offset = field.count(o, 'offset');
    if (typeof offset === 'string') return offset;
    const bytes = field.bytes(o, 'bytes');
    return typeof bytes === 'string' ? bytes : { t: 'ram', offset, bytes };
  },
  'snapshot-data'(o) {
    const offset = field.count(o, 'offset');
    if (typeof offset === 'string') return offset;
    const bytes = field.bytes(o, 'bytes');
    return typeof bytes === 'string' ? bytes : { t: 'snapshot-data', offset, bytes };
  },
  'snapshot-end'(o) {
    const sha256 = field.bytes(o, 'sha256');
    if (typeof sha256 === 'string') return sha256;
    return sha256.length === 32 ? { t: 'snapshot-end', sha256 } : "field 'sha256' must be 32 bytes";
  },
  divergence(o) {
    const icount = field.count(o, 'icount');
    if (typeof icount === 'string') return icount;
    const message = field.text(o, 'message');
    return typeof message === 'string' ? { t: 'divergence', icount, message } : message.error;
  },
  bye(o) {
    const reason = field.text(o, 'reason');
    if (typeof reason !== 'string') return reason.error;
    if (o.status === undefined) return { t: 'bye', reason };
    if (typeof o.status !== 'number' || !Number.isSafeInteger(o.status)) return "field 'status' must be an integer";
    return { t: 'bye', reason, status: o.status };
  },
};

// ─── Message encoding (msgpack) ─────────────────────────────────────────────

const packr = new Packr({ useRecords: false, useFloat32: 0 });
// Decoded bin fields are views of the frame (no copy): a log chunk aliases the socket's buffer.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/**
 * Encode a message as the parts of one frame payload. A message with a single large `bytes` field
 * (a log chunk) is encoded without copying it: the msgpack map prefix is built here and the bytes
 * follow as the second part. The concatenation is exactly msgpackr's encoding of the object.
 */
export function encodeMessage(msg: Message): Uint8Array[] {
  const bytes = (msg as { bytes?: unknown }).bytes;
  if (msg.t === 'log' && bytes instanceof Uint8Array && bytes.length >= 256) return [logPrefix(msg.t, bytes.length), bytes];
  return [packr.pack(msg)];
}

const textEncoder = new TextEncoder();
/** msgpack of {t, bytes: bin32(len)} up to (not including) the bin data. */
function logPrefix(t: string, len: number): Uint8Array {
  const tb = textEncoder.encode(t);
  const out = new Uint8Array(4 + tb.length + 6 + 5);
  let p = 0;
  out[p++] = 0x82; // fixmap, 2 entries
  out[p++] = 0xa1; // fixstr 't'
  out[p++] = 0x74;
  out[p++] = 0xa0 | tb.length; // fixstr kind (< 32 bytes)
  out.set(tb, p);
  p += tb.length;
  out[p++] = 0xa5; // fixstr 'bytes'
  out.set(textEncoder.encode('bytes'), p);
  p += 5;
  out[p++] = 0xc6; // bin32
  new DataView(out.buffer).setUint32(p, len);
  return out;
}

/** Decode and validate one message payload against a kind table. Throws ProtocolError (MALFORMED, UNKNOWN_KIND). */
export function decodeMessage<M extends Message>(payload: Uint8Array, kinds: KindTable<M>): M {
  let o: unknown;
  try {
    o = unpackr.unpack(payload);
  } catch (e) {
    throw new ProtocolError('MALFORMED', `undecodable message (${(e as Error).message})`, { cause: e });
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o) || isBytes(o)) throw new ProtocolError('MALFORMED', 'a message must be a map');
  const t = (o as { t?: unknown }).t;
  if (typeof t !== 'string') throw new ProtocolError('MALFORMED', "a message needs a string field 't'");
  const check = Object.prototype.hasOwnProperty.call(kinds, t) ? (kinds as Record<string, (o: Record<string, unknown>) => M | string>)[t] : undefined;
  if (!check) throw new ProtocolError('UNKNOWN_KIND', `unknown message kind '${t.slice(0, 64)}'`);
  const m = check(o as Record<string, unknown>);
  if (typeof m === 'string') throw new ProtocolError('MALFORMED', `'${t}' message: ${m}`);
  return m;
}

// ─── Handshake ──────────────────────────────────────────────────────────────

/** What each side says about itself before proving the secret. */
export interface Hello {
  /** FT VM name. */
  vm: string;
  /** Generation the sender belongs to (0 = does not know, e.g. a console client). */
  generation: number;
  /** Host id of the sender (`--host-id`). */
  hostId: string;
  /** 'primary' | 'secondary' | 'console' | 'console-client' (a side checks the peer's). */
  role: string;
  /** 32 fresh random bytes. */
  nonce: Uint8Array;
}

/** Handshake frames (unauthenticated, at most MAX_HANDSHAKE_FRAME bytes). */
export type HandshakeFrame =
  | ({ h: 'hello' } & Hello)
  | { h: 'proof'; mac: Uint8Array }
  | { h: 'refuse'; code: ProtocolErrorCode; message: string };

const REFUSE_CODES: ReadonlySet<ProtocolErrorCode> = new Set(['VERSION', 'AUTH', 'WRONG_PEER', 'MALFORMED', 'HANDSHAKE_TIMEOUT', 'TOO_LARGE']);

/** The preamble: magic + version (big-endian u16). */
export function encodePreamble(version = FT_PROTOCOL_VERSION): Uint8Array {
  const b = new Uint8Array(PREAMBLE_BYTES);
  b.set(textEncoder.encode(PREAMBLE_MAGIC), 0);
  b[8] = version >>> 8;
  b[9] = version & 0xff;
  return b;
}

/** Check a peer's preamble. Throws MALFORMED (not this protocol) or VERSION (naming both versions). */
export function checkPreamble(b: Uint8Array, ours = FT_PROTOCOL_VERSION): void {
  for (let i = 0; i < 8; i++) {
    if (b[i] !== PREAMBLE_MAGIC.charCodeAt(i)) throw new ProtocolError('MALFORMED', 'the peer does not speak the x86ft channel protocol (bad preamble)');
  }
  const v = (b[8]! << 8) | b[9]!;
  if (v !== ours) throw new ProtocolError('VERSION', `the peer speaks x86ft channel protocol version ${v}, this side speaks version ${ours}`);
}

/** Length-prefixed handshake frame: len:u32 + msgpack payload. */
export function encodeHandshakeFrame(f: HandshakeFrame): Uint8Array {
  const payload = packr.pack(f);
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Decode a handshake frame payload. Throws MALFORMED on anything but a well-typed hello, proof or refuse. */
export function decodeHandshakeFrame(payload: Uint8Array): HandshakeFrame {
  let o: Record<string, unknown>;
  try {
    o = unpackr.unpack(payload) as Record<string, unknown>;
  } catch (e) {
    throw new ProtocolError('MALFORMED', `undecodable handshake frame (${(e as Error).message})`, { cause: e });
  }
  if (typeof o !== 'object' || o === null) throw new ProtocolError('MALFORMED', 'a handshake frame must be a map');
  const bad = (what: string): never => {
    throw new ProtocolError('MALFORMED', `bad handshake frame: ${what}`);
  };
  switch (o.h) {
    case 'hello': {
      const { vm, generation, hostId, role, nonce } = o;
      if (!isText(vm) || !isText(hostId) || !isText(role)) bad('vm, hostId and role must be strings');
      if (!isCount(generation)) bad('generation must be a non-negative integer');
      if (!isBytes(nonce) || nonce.length !== 32) bad('nonce must be 32 bytes');
      return { h: 'hello', vm: vm as string, generation: generation as number, hostId: hostId as string, role: role as string, nonce: nonce as Uint8Array };
    }
    case 'proof':
      if (!isBytes(o.mac)) bad('proof must be bytes');
      return { h: 'proof', mac: o.mac as Uint8Array };
    case 'refuse': {
      const code = REFUSE_CODES.has(o.code as ProtocolErrorCode) ? (o.code as ProtocolErrorCode) : 'WRONG_PEER';
      return { h: 'refuse', code, message: isText(o.message) ? o.message : '(no reason given)' };
    }
    default:
      return bad(`unknown handshake frame '${String(o.h).slice(0, 32)}'`);
  }
}

/** A fresh hello nonce. */
export function freshNonce(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** Keys of one authenticated session. */
export interface SessionKeys {
  /** Proof the connecting side sends. */
  clientProof: Buffer;
  /** Proof the listening side sends. */
  serverProof: Buffer;
  /** MAC key of frames client -> server. */
  c2s: Buffer;
  /** MAC key of frames server -> client. */
  s2c: Buffer;
}

/**
 * Derive the proofs and session keys from the cluster secret and the transcript (both preambles and
 * both hello payloads, client's first). Both nonces are in the transcript, so a proof or key from
 * another session never verifies in this one; every hello field (vm, generation, host, role) is bound.
 */
export function deriveSession(secret: Uint8Array, transcript: Uint8Array[]): SessionKeys {
  const h = createHash('sha256');
  for (const part of transcript) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(part.length);
    h.update(len).update(part);
  }
  const th = h.digest();
  const mac = (label: string): Buffer => createHmac('sha256', secret).update(label).update(th).digest();
  const key = (label: string): Buffer => Buffer.from(hkdfSync('sha256', secret, th, label, 32));
  return {
    clientProof: mac('x86ft-ch1 client proof'),
    serverProof: mac('x86ft-ch1 server proof'),
    c2s: key('x86ft-ch1 c2s'),
    s2c: key('x86ft-ch1 s2c'),
  };
}

/** Constant-time comparison of a received proof or MAC. */
export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// ─── Sealed frames ──────────────────────────────────────────────────────────

/** HMAC-SHA-256 over seq (u64 big-endian) and the payload parts. */
export function frameMac(key: Uint8Array, seq: number, parts: readonly Uint8Array[]): Buffer {
  const s = Buffer.alloc(8);
  s.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 0);
  s.writeUInt32BE(seq >>> 0, 4);
  const h = createHmac('sha256', key).update(s);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Seal a message payload: returns the chunks to write (header first). A small payload shares one
 * buffer with its header; a large last part (a log chunk) is written as it is.
 */
export function sealFrame(key: Uint8Array, seq: number, parts: readonly Uint8Array[]): Uint8Array[] {
  let len = 0;
  for (const p of parts) len += p.length;
  const mac = frameMac(key, seq, parts);
  const last = parts[parts.length - 1]!;
  const inline = last.length < 16384 ? len : len - last.length;
  const head = new Uint8Array(SEALED_HEADER_BYTES + inline);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, len);
  dv.setUint32(4, Math.floor(seq / 0x1_0000_0000));
  dv.setUint32(8, seq >>> 0);
  head.set(mac, 12);
  let p = SEALED_HEADER_BYTES;
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && inline < len) return [head, last];
    head.set(parts[i]!, p);
    p += parts[i]!.length;
  }
  return [head];
}

/** Fields of a sealed frame header. */
export interface SealedHeader {
  len: number;
  seq: number;
  mac: Uint8Array;
}

export function readSealedHeader(b: Uint8Array): SealedHeader {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { len: dv.getUint32(0), seq: dv.getUint32(4) * 0x1_0000_0000 + dv.getUint32(8), mac: b.subarray(12, 44) };
}

// ─── Incoming bytes ─────────────────────────────────────────────────────────

/**
 * Bytes received and not yet parsed, as a list of chunks. read(n) returns a view when the n bytes
 * lie in one chunk and copies once otherwise, so a frame split over many reads is joined once.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset consumed in chunks[0]
  length = 0;

  push(c: Uint8Array): void {
    if (c.length === 0) return;
    this.chunks.push(c);
    this.length += c.length;
  }

  /** Take n bytes (n <= length). */
  read(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const v = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      this.length -= n;
      return v;
    }
    const out = new Uint8Array(n);
    let p = 0;
    while (p < n) {
      const c = this.chunks[0]!;
      const take = Math.min(n - p, c.length - this.head);
      out.set(c.subarray(this.head, this.head + take), p);
      p += take;
      this.head += take;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.length -= n;
    return out;
  }
}
