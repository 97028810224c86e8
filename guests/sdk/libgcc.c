/* x86ft SDK: the compiler-support routines gcc calls for 128-bit division and popcount,
 * written integer-only (the host's libgcc versions use SSE registers). Linked before
 * -lgcc, so these win. */
#include "x86ft.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* 128/64 -> 64 with hi < d (no #DE) */
static inline uint64_t div128_64(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem) {
  uint64_t q, r;
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
  *rem = r;
  return q;
}

static u128 udivmod(u128 n, u128 d, u128 *rem) {
  uint64_t dhi = (uint64_t)(d >> 64), dlo = (uint64_t)d;
  uint64_t nhi = (uint64_t)(n >> 64), nlo = (uint64_t)n;
  if (dhi == 0) {
    if (dlo == 0) { volatile uint64_t z = 0; return nlo / z; }   /* raise #DE like hardware */
    uint64_t r, qhi = nhi / dlo;
    uint64_t qlo = div128_64(nhi % dlo, nlo, dlo, &r);
    if (rem) *rem = r;
    return ((u128)qhi << 64) | qlo;
  }
  if (d > n) { if (rem) *rem = n; return 0; }
  /* divisor >= 2^64: quotient < 2^64; shift-subtract over the bit-length difference */
  int shift = __builtin_clzll(dhi) - (nhi ? __builtin_clzll(nhi) : 64);
  u128 q = 0;
  d <<= shift;
  for (int k = shift; k >= 0; k--) {
    q <<= 1;
    if (n >= d) { n -= d; q |= 1; }
    d >>= 1;
  }
  if (rem) *rem = n;
  return q;
}

u128 __udivti3(u128 n, u128 d);
u128 __umodti3(u128 n, u128 d);
s128 __divti3(s128 n, s128 d);
s128 __modti3(s128 n, s128 d);
u128 __udivmodti4(u128 n, u128 d, u128 *rem);
int __popcountdi2(uint64_t x);
int __popcountsi2(uint32_t x);

u128 __udivti3(u128 n, u128 d) { return udivmod(n, d, NULL); }
u128 __umodti3(u128 n, u128 d) { u128 r = 0; udivmod(n, d, &r); return r; }
u128 __udivmodti4(u128 n, u128 d, u128 *rem) { return udivmod(n, d, rem); }

s128 __divti3(s128 n, s128 d) {
  int neg = (n < 0) != (d < 0);
  u128 q = udivmod(n < 0 ? -(u128)n : (u128)n, d < 0 ? -(u128)d : (u128)d, NULL);
  return neg ? -(s128)q : (s128)q;
}

s128 __modti3(s128 n, s128 d) {
  u128 r = 0;
  udivmod(n < 0 ? -(u128)n : (u128)n, d < 0 ? -(u128)d : (u128)d, &r);
  return n < 0 ? -(s128)r : (s128)r;
}

int __popcountdi2(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (int)((x * 0x0101010101010101ull) >> 56);
}

int __popcountsi2(uint32_t x) { return __popcountdi2(x); }
