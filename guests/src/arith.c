/* arith: integer arithmetic at every width — add/sub/neg/mul/div/mod/shifts/compares,
 * signed and unsigned, wrap-around and overflow edges (INT_MIN / -1 is never executed),
 * sign/zero extension, overflow builtins (jo/jc/seto), conditional moves. */
#include "x86ft.h"

static uint64_t hash;
static void mix(uint64_t v) { hash = (hash ^ v) * 0x100000001b3ull; hash ^= hash >> 29; }

/* volatile sources so gcc cannot fold the arithmetic away */
static volatile int64_t v64[] = { 0, 1, -1, 2, -2, 7, -7, 127, -128, 255, 32767, -32768, 65535,
  INT32_MAX, INT32_MIN, UINT32_MAX, 0x123456789abcdefll, -0x123456789abcdefll, INT64_MAX, INT64_MIN,
  0x5555555555555555ll, (int64_t)0xaaaaaaaaaaaaaaaaull, 1000000007, -999999937 };
#define NV (sizeof v64 / sizeof v64[0])

static void widths8(void) {
  uint64_t h0 = hash;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++) {
      int8_t a = (int8_t)v64[i], b = (int8_t)v64[j];
      uint8_t ua = (uint8_t)a, ub = (uint8_t)b;
      mix((uint8_t)(a + b)); mix((uint8_t)(a - b)); mix((uint8_t)(ua * ub));
      mix((int8_t)(a * b)); mix(a < b); mix(ua < ub); mix((uint8_t)(a ^ b)); mix((uint8_t)~a);
      if (b != 0 && !(a == INT8_MIN && b == -1)) { mix((uint8_t)(a / b)); mix((uint8_t)(a % b)); }
      if (ub) { mix(ua / ub); mix(ua % ub); }
      mix((uint8_t)(ua << (ub & 7))); mix((uint8_t)(ua >> (ub & 7))); mix((uint8_t)(a >> (ub & 7)));
    }
  printf("8-bit:  %016llx\n", (unsigned long long)(hash - h0));
}

static void widths16(void) {
  uint64_t h0 = hash;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++) {
      int16_t a = (int16_t)v64[i], b = (int16_t)v64[j];
      uint16_t ua = (uint16_t)a, ub = (uint16_t)b;
      mix((uint16_t)(a + b)); mix((uint16_t)(a - b)); mix((uint16_t)(ua * ub));
      mix((int16_t)(a * b)); mix(a < b); mix(ua < ub); mix(a >= b);
      if (b != 0 && !(a == INT16_MIN && b == -1)) { mix((uint16_t)(a / b)); mix((uint16_t)(a % b)); }
      if (ub) { mix(ua / ub); mix(ua % ub); }
      mix((uint16_t)(ua << (ub & 15))); mix((uint16_t)(ua >> (ub & 15))); mix((uint16_t)(a >> (ub & 15)));
    }
  printf("16-bit: %016llx\n", (unsigned long long)(hash - h0));
}

static void widths32(void) {
  uint64_t h0 = hash;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++) {
      int32_t a = (int32_t)v64[i], b = (int32_t)v64[j];
      uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
      mix((uint32_t)(a + b)); mix((uint32_t)(a - b)); mix(ua * ub); mix((uint32_t)(a * b));
      mix(a < b); mix(ua < ub); mix(a <= b); mix(ua >= ub); mix(a == b);
      if (b != 0 && !(a == INT32_MIN && b == -1)) { mix((uint32_t)(a / b)); mix((uint32_t)(a % b)); }
      if (ub) { mix(ua / ub); mix(ua % ub); }
      mix(ua << (ub & 31)); mix(ua >> (ub & 31)); mix((uint32_t)(a >> (ub & 31)));
      mix((uint64_t)(int64_t)a); mix((uint64_t)ua);   /* sign / zero extension */
      mix((uint32_t)-a); mix((uint32_t)(a * 3 + b * 5 - 9));
    }
  printf("32-bit: %016llx\n", (unsigned long long)(hash - h0));
}

static void widths64(void) {
  uint64_t h0 = hash;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++) {
      int64_t a = v64[i], b = v64[j];
      uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
      mix(ua + ub); mix(ua - ub); mix(ua * ub); mix(a < b); mix(ua < ub); mix(a > b); mix(ua > ub);
      if (b != 0 && !(a == INT64_MIN && b == -1)) { mix((uint64_t)(a / b)); mix((uint64_t)(a % b)); }
      if (ub) { mix(ua / ub); mix(ua % ub); }
      mix(ua << (ub & 63)); mix(ua >> (ub & 63)); mix((uint64_t)(a >> (ub & 63)));
      mix(0 - ua); mix(a < 0 ? 0 - ua : ua);
      mix(a > b ? ua : ub);   /* cmov */
    }
  printf("64-bit: %016llx\n", (unsigned long long)(hash - h0));
}

static void overflow_builtins(void) {
  int flags = 0, n = 0;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++) {
      int64_t a = v64[i], b = v64[j], r64;
      int32_t r32; uint32_t u32; uint64_t u64; int8_t r8; uint16_t u16;
      flags = flags * 31 + __builtin_add_overflow(a, b, &r64);
      flags = flags * 31 + __builtin_sub_overflow(a, b, &r64);
      flags = flags * 31 + __builtin_mul_overflow(a, b, &r64);
      flags = flags * 31 + __builtin_add_overflow((int32_t)a, (int32_t)b, &r32);
      flags = flags * 31 + __builtin_mul_overflow((int32_t)a, (int32_t)b, &r32);
      flags = flags * 31 + __builtin_add_overflow((uint32_t)a, (uint32_t)b, &u32);
      flags = flags * 31 + __builtin_sub_overflow((uint64_t)a, (uint64_t)b, &u64);
      flags = flags * 31 + __builtin_mul_overflow((uint64_t)a, (uint64_t)b, &u64);
      flags = flags * 31 + __builtin_add_overflow((int8_t)a, (int8_t)b, &r8);
      flags = flags * 31 + __builtin_mul_overflow((uint16_t)a, (uint16_t)b, &u16);
      n += __builtin_mul_overflow(a, b, &r64);
    }
  printf("overflow flags: %08x, signed 64-bit mul overflows: %d\n", (unsigned)flags, n);
}

static void edges(void) {
  volatile int32_t imin = INT32_MIN, m1 = -1, one = 1;
  volatile int64_t lmin = INT64_MIN;
  volatile uint32_t umax = UINT32_MAX;
  printf("INT_MIN-1 wraps: %d\n", imin - one);
  printf("INT_MAX+1 wraps: %d\n", (int32_t)(INT32_MAX + one));
  printf("-INT_MIN: %d, abs: %d\n", -imin, imin < 0 ? -imin : imin);
  printf("INT_MIN*-1: %d\n", imin * m1);
  printf("INT_MIN/-1 avoided; INT_MIN/1: %d, INT_MIN%%-2: %d\n", imin / one, imin % -2);
  printf("LLONG_MIN-1: %lld, -LLONG_MIN: %lld\n", (long long)(lmin - 1), (long long)-lmin);
  printf("UINT_MAX+1: %u, 0u-1: %u\n", umax + 1, 0u - (uint32_t)one);
  printf("-7/2=%d -7%%2=%d 7/-2=%d 7%%-2=%d\n", -7 / (int)(one * 2), -7 % (int)(one * 2), 7 / (int)(m1 * 2), 7 % (int)(m1 * 2));
  printf("(char)200=%d (unsigned char)-56=%u (short)70000=%d\n", (signed char)(200 * one), (unsigned char)(-56 * one), (short)(70000 * one));
  printf("shift: 1<<31=%d -1>>1=%d (u)-1>>1=%u -16>>2=%d\n", (int32_t)(1u << (31 * one)), m1 >> one, (uint32_t)m1 >> one, (-16 * one) >> 2);
  printf("bool: %d %d %d\n", !!(imin), !(one - 1), (imin < 0) + (umax > 0));
}

static void sums(void) {
  /* a running mixture of widths in one loop: loop-carried flags and partial registers */
  uint8_t b = 1; uint16_t w = 1; uint32_t d = 1; uint64_t q = 1; int64_t s = 0;
  for (int i = 0; i < 20000; i++) {
    b = (uint8_t)(b * 3 + (uint8_t)i);
    w = (uint16_t)(w * 7 + b);
    d = d * 2654435761u + w;
    q = q * 6364136223846793005ull + d;
    s += (int64_t)(int32_t)d >> 3;
    if ((q >> 60) == 5) s -= b;
  }
  printf("mixed loop: b=%u w=%u d=%u q=%llu s=%lld\n", b, w, d, (unsigned long long)q, (long long)s);
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  printf("arith: %u test values\n", (unsigned)NV);
  widths8();
  widths16();
  widths32();
  widths64();
  overflow_builtins();
  edges();
  sums();
  printf("total: %016llx\n", (unsigned long long)hash);
  return (int)(hash & 0x3f);
}
