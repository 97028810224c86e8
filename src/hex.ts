// Hexadecimal text of 64-bit addresses and values held as JavaScript numbers, for messages and reports.
// Imports nothing.

/**
 * '0x…' of a 64-bit address or value: a negative integer is read as sign-extended (the upper canonical
 * half, the form the CPU keeps RIP, CR2 and linear addresses in) and printed as its unsigned 64-bit
 * value (-1 -> '0xffffffffffffffff'); a non-negative integer (or bigint) as it is, one below -2^63 as '-0x…'. Anything else (NaN, ±Infinity,
 * a fraction, a non-number) is printed with String() and no '0x', so a message never shows '0xNaN'.
 */
export function hex64(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v)) v = BigInt(v);
  if (typeof v !== 'bigint') return String(v);
  if (v < -(1n << 63n)) return '-0x' + (-v).toString(16); // no 64-bit value: said as it is, with its sign
  return '0x' + (v < 0n ? BigInt.asUintN(64, v) : v).toString(16);
}
