// A minimal WebAssembly binary encoder for the wasm tier (src/cpu/wasm/compile.ts): one module with one
// function type, an imported memory, one exported function. Written from the WebAssembly Core
// Specification 2.0, §5 (Binary Format): LEB128 integers (§5.2.2), sections (§5.5), instructions (§5.4).
// Compile time only: BigInt appears in i64 constants, never at run time.

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

/** Unsigned LEB128 of a non-negative integer below 2^53. */
export function uleb(out: number[], v: number): void {
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

/** Signed LEB128 of an integer (i32.const takes -2^31..2^31-1, i64.const any 64-bit two's-complement value). */
export function sleb(out: number[], v: bigint): void {
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) { out.push(b); return; }
    out.push(b | 0x80);
  }
}

/** Builds one function body's instructions. */
export class Code {
  readonly b: number[] = [];
  op(o: Op): this { this.b.push(o); return this; }
  /** block/loop/if with no result. */
  open(o: Op.block | Op.loop | Op.if): this { this.b.push(o, EMPTY); return this; }
  i32(v: number): this { this.b.push(Op.i32_const); sleb(this.b, BigInt(v | 0)); return this; }
  /** i64.const of the 64-bit value hi:lo (each a 32-bit integer, signed or unsigned). */
  i64(lo: number, hi = 0): this { this.b.push(Op.i64_const); sleb(this.b, BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0))); return this; }
  get(l: number): this { this.b.push(Op.local_get); uleb(this.b, l); return this; }
  set(l: number): this { this.b.push(Op.local_set); uleb(this.b, l); return this; }
  tee(l: number): this { this.b.push(Op.local_tee); uleb(this.b, l); return this; }
  br(o: Op.br | Op.br_if, depth: number): this { this.b.push(o); uleb(this.b, depth); return this; }
  /** br_table: branch to labels[i] for the i32 i on the stack, `dflt` when i is out of range. */
  brTable(labels: number[], dflt: number): this { this.b.push(Op.br_table); uleb(this.b, labels.length); for (const l of labels) uleb(this.b, l); uleb(this.b, dflt); return this; }
  /** A load or store with natural alignment log2 `align` at constant byte offset `off`. */
  mem(o: Op, align: number, off: number): this { this.b.push(o); uleb(this.b, align); uleb(this.b, off); return this; }
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  for (const x of body) out.push(x);
}

function name(out: number[], s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

/**
 * A module importing memory "e"."m" (at least `pages` 64-KiB pages) and exporting function "f" of type
 * params -> results, with extra locals `locals` (types, declared one by one) and body `code` (without
 * the final `end`, which this adds).
 */
export function moduleBytes(params: T[], results: T[], locals: T[], code: Code, pages: number): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // magic, version 1
  const type: number[] = [1, 0x60];
  uleb(type, params.length); type.push(...params);
  uleb(type, results.length); type.push(...results);
  section(out, 1, type);
  const imp: number[] = [1];
  name(imp, 'e'); name(imp, 'm'); imp.push(0x02, 0x00); uleb(imp, pages); // memory, limits {min}
  section(out, 2, imp);
  section(out, 3, [1, 0]); // one function of type 0
  const exp: number[] = [1];
  name(exp, 'f'); exp.push(0x00, 0);
  section(out, 7, exp);
  // locals, run-length grouped by type
  const body: number[] = [];
  const groups: [number, T][] = [];
  for (const t of locals) {
    const g = groups[groups.length - 1];
    if (g !== undefined && g[1] === t) g[0]++; else groups.push([1, t]);
  }
  uleb(body, groups.length);
  for (const [n, t] of groups) { uleb(body, n); body.push(t); }
  for (const x of code.b) body.push(x);
  body.push(Op.end);
  const codeSec: number[] = [1];
  uleb(codeSec, body.length);
  for (const x of body) codeSec.push(x);
  section(out, 10, codeSec);
  return new Uint8Array(out);
}
