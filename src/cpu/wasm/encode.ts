// A minimal WebAssembly binary encoder for the wasm tier (src/cpu/wasm/compile.ts): one module with one
// function type, an imported memory, exported functions. Written from the WebAssembly Core
// Specification 2.0, §5 (Binary Format): LEB128 integers (§5.2.2), sections (§5.5), instructions (§5.4).

/** Value types (§5.3.1). */
export const enum T { I32 = 0x7f, I64 = 0x7e, F64 = 0x7c }

/** Opcodes used by the tier (§5.4). Memory instructions take a memarg (align, offset) after them. */
export const enum Op {
  unreachable = 0x00, block = 0x02, loop = 0x03, if = 0x04, else = 0x05, end = 0x0b, br = 0x0c, br_if = 0x0d, br_table = 0x0e, return = 0x0f,
  drop = 0x1a, select = 0x1b,
  local_get = 0x20, local_set = 0x21, local_tee = 0x22,
  i32_load = 0x28, i64_load = 0x29, f64_load = 0x2b, i32_load8_u = 0x2d, i32_load16_u = 0x2f,
  i64_load8_u = 0x31, i64_load16_u = 0x33, i64_load32_u = 0x35,
  i32_store = 0x36, i64_store = 0x37, f64_store = 0x39, i64_store8 = 0x3c, i64_store16 = 0x3d, i64_store32 = 0x3e,
  i32_const = 0x41, i64_const = 0x42,
  i32_eqz = 0x45, i32_eq = 0x46, i32_ne = 0x47, i32_lt_u = 0x49, i32_gt_u = 0x4b, i32_le_u = 0x4d, i32_ge_u = 0x4f, i32_ge_s = 0x4e,
  i64_eqz = 0x50, i64_eq = 0x51, i64_ne = 0x52, i64_lt_s = 0x53, i64_lt_u = 0x54, i64_le_s = 0x57, i64_le_u = 0x58, i64_ge_u = 0x5a,
  f64_eq = 0x61,
  i32_popcnt = 0x69, i32_add = 0x6a, i32_sub = 0x6b, i32_and = 0x71, i32_or = 0x72, i32_xor = 0x73, i32_shl = 0x74, i32_shr_u = 0x76,
  i64_add = 0x7c, i64_sub = 0x7d, i64_mul = 0x7e, i64_and = 0x83, i64_or = 0x84, i64_xor = 0x85, i64_shl = 0x86, i64_shr_s = 0x87, i64_shr_u = 0x88,
  i32_wrap_i64 = 0xa7, i32_trunc_f64_u = 0xab, i64_extend_i32_s = 0xac, i64_extend_i32_u = 0xad, i64_trunc_f64_s = 0xb0,
  f64_convert_i64_s = 0xb9,
  i64_extend8_s = 0xc2, i64_extend16_s = 0xc3, i64_extend32_s = 0xc4,
}

/** Block type "no result" (§5.4.1). */
export const EMPTY = 0x40;

/**
 * A growable byte buffer with the binary format's integer encodings (§5.2.2). Encoding writes bytes into
 * one Uint8Array (an array of numbers and BigInt arithmetic for the LEB128s made generating a module cost
 * more than V8's compiling it).
 */
export class Bytes {
  buf = new Uint8Array(1024);
  len = 0;
  /** Room for n more bytes. */
  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(x: number): this { this.room(1); this.buf[this.len++] = x; return this; }
  /** Unsigned LEB128 of an integer in [0, 2^32). */
  uleb(v: number): this {
    this.room(5);
    v >>>= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>>= 7;
      if (v === 0) { this.buf[this.len++] = b; return this; }
      this.buf[this.len++] = b | 0x80;
    }
  }
  /** Signed LEB128 of a 32-bit integer (i32.const's immediate). */
  sleb32(v: number): this {
    this.room(5);
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { this.buf[this.len++] = b; return this; }
      this.buf[this.len++] = b | 0x80;
    }
  }
  /** Signed LEB128 of the 64-bit two's-complement value hi:lo (each a 32-bit integer, signed or unsigned). */
  sleb64(lo: number, hi: number): this {
    this.room(10);
    lo |= 0; hi |= 0;
    for (;;) {
      const b = lo & 0x7f;
      // hi:lo >>= 7 (arithmetic)
      lo = (lo >>> 7) | (hi << 25); hi >>= 7;
      if ((lo === 0 && hi === 0 && (b & 0x40) === 0) || (lo === -1 && hi === -1 && (b & 0x40) !== 0)) { this.buf[this.len++] = b; return this; }
      this.buf[this.len++] = b | 0x80;
    }
  }
  /** Appends bytes [0, n) of src. */
  append(src: Uint8Array, n = src.length): this { this.room(n); this.buf.set(src.subarray(0, n), this.len); this.len += n; return this; }
  name(s: string): this { this.uleb(s.length); this.room(s.length); for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i); return this; }
}

/** Builds one function body's instructions. */
export class Code extends Bytes {
  op(o: Op): this { return this.u8(o); }
  /** block/loop/if with no result. */
  open(o: Op.block | Op.loop | Op.if): this { return this.u8(o).u8(EMPTY); }
  i32(v: number): this { return this.u8(Op.i32_const).sleb32(v); }
  /** i64.const of the 64-bit value hi:lo (each a 32-bit integer, signed or unsigned). */
  i64(lo: number, hi = 0): this { return this.u8(Op.i64_const).sleb64(lo, hi); }
  get(l: number): this { return this.u8(Op.local_get).uleb(l); }
  set(l: number): this { return this.u8(Op.local_set).uleb(l); }
  tee(l: number): this { return this.u8(Op.local_tee).uleb(l); }
  br(o: Op.br | Op.br_if, depth: number): this { return this.u8(o).uleb(depth); }
  /** br_table: branch to labels[i] for the i32 i on the stack, `dflt` when i is out of range. */
  brTable(labels: number[], dflt: number): this { this.u8(Op.br_table).uleb(labels.length); for (const l of labels) this.uleb(l); return this.uleb(dflt); }
  /** A load or store with natural alignment log2 `align` at constant byte offset `off`. */
  mem(o: Op, align: number, off: number): this { return this.u8(o).uleb(align).uleb(off); }
}

/** One function of a module: its extra locals' types (declared one by one) and its body (without the final `end`). */
export interface Func { locals: T[]; code: Code }

function section(out: Bytes, id: number, body: Bytes): void {
  out.u8(id).uleb(body.len).append(body.buf, body.len);
}

/**
 * A module importing memory "e"."m" (at least `pages` 64-KiB pages) and exporting functions "0", "1", …
 * (funcs in order), each of type params -> results.
 */
export function moduleBytes(params: T[], results: T[], funcs: Func[], pages: number): Uint8Array<ArrayBuffer> {
  const out = new Bytes();
  for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.u8(b); // magic, version 1
  const type = new Bytes().uleb(1).u8(0x60).uleb(params.length);
  for (const t of params) type.u8(t);
  type.uleb(results.length);
  for (const t of results) type.u8(t);
  section(out, 1, type);
  section(out, 2, new Bytes().uleb(1).name('e').name('m').u8(0x02).u8(0x00).uleb(pages)); // memory, limits {min}
  const fsec = new Bytes().uleb(funcs.length);
  for (let j = 0; j < funcs.length; j++) fsec.uleb(0); // each of type 0
  section(out, 3, fsec);
  const exp = new Bytes().uleb(funcs.length);
  for (let j = 0; j < funcs.length; j++) exp.name(String(j)).u8(0x00).uleb(j);
  section(out, 7, exp);
  const code = new Bytes().uleb(funcs.length), body = new Bytes();
  for (const f of funcs) {
    body.len = 0;
    // locals, run-length grouped by type
    let groups = 0;
    for (let k = 0; k < f.locals.length; k++) if (k === 0 || f.locals[k] !== f.locals[k - 1]) groups++;
    body.uleb(groups);
    for (let k = 0; k < f.locals.length;) {
      let e = k + 1;
      while (e < f.locals.length && f.locals[e] === f.locals[k]) e++;
      body.uleb(e - k).u8(f.locals[k]);
      k = e;
    }
    body.append(f.code.buf, f.code.len).u8(Op.end);
    code.uleb(body.len).append(body.buf, body.len);
  }
  section(out, 10, code);
  return out.buf.slice(0, out.len);
}
