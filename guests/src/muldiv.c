/* muldiv: 64-bit multiply and divide — mul/imul (1-, 2-, 3-operand), high halves via
 * __int128, unsigned 128/64 division (libgcc __udivti3/__umodti3 and inline divq),
 * signed division rounding, and division/modulo by constants (multiply-by-reciprocal). */
#include "x86ft.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {   /* xorshift64* */
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t acc;
static void mix(uint64_t v) { acc = (acc + v) * 0x9e3779b97f4a7c15ull; acc ^= acc >> 31; }
static void mix128(u128 v) { mix((uint64_t)v); mix((uint64_t)(v >> 64)); }

static void print128(const char *name, u128 v) {
  /* decimal via repeated division by 10^19 */
  char buf[48];
  int n = 0;
  if (v == 0) buf[n++] = '0';
  while (v) { buf[n++] = (char)('0' + (int)(v % 10)); v /= 10; }
  printf("%s", name);
  while (n) putchar(buf[--n]);
  putchar('\n');
}

/* divq with a 128-bit dividend whose high half is below the divisor (no #DE) */
static uint64_t divq(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem) {
  uint64_t q, r;
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
  *rem = r;
  return q;
}

static void products(void) {
  static volatile uint64_t vals[] = { 0, 1, 2, 3, 0xffffffffull, 0x100000000ull, 0xffffffffffffffffull,
    0x8000000000000000ull, 0x7fffffffffffffffull, 0xdeadbeefcafebabeull, 12345678901234567ull, 10 };
  const unsigned n = sizeof vals / sizeof vals[0];
  for (unsigned i = 0; i < n; i++)
    for (unsigned j = 0; j < n; j++) {
      uint64_t a = vals[i], b = vals[j];
      u128 p = (u128)a * b;
      s128 sp = (s128)(int64_t)a * (int64_t)b;
      mix128(p); mix128((u128)sp); mix(a * b);
      mix((uint64_t)((int64_t)a * 7)); mix((uint32_t)a * (uint32_t)b); mix((uint64_t)((int32_t)a * (int64_t)(int32_t)b));
    }
  printf("product table: %016llx\n", (unsigned long long)acc);
  print128("max*max = ", (u128)UINT64_MAX * UINT64_MAX);
  print128("2^127-1 = ", ((u128)1 << 127) - 1);
  s128 neg = (s128)INT64_MIN * INT64_MAX;
  printf("INT64_MIN*INT64_MAX hi=%016llx lo=%016llx\n", (unsigned long long)((u128)neg >> 64), (unsigned long long)(u128)neg);
}

static void random_muldiv(void) {
  uint64_t h0 = acc;
  for (int i = 0; i < 3000; i++) {
    uint64_t a = next(), b = next() >> (i % 64);
    uint32_t c = (uint32_t)next() >> (i % 32);
    u128 p = (u128)a * b;
    mix128(p);
    if (b) { mix(a / b); mix(a % b); mix((uint64_t)((int64_t)a / (int64_t)b)); mix((uint64_t)((int64_t)a % (int64_t)b)); }
    if (c) { mix((uint32_t)a / c); mix((uint32_t)a % c); mix((uint64_t)((int32_t)a / (int32_t)c)); mix((uint64_t)((int32_t)a % (int32_t)c)); }
    if (b) {
      /* 128/64 through libgcc and through divq; they must agree */
      u128 q = p / b, r = p % b;
      uint64_t rr, qq = divq((uint64_t)(p >> 64) % b, (uint64_t)p, b, &rr);
      if (q != a || r != 0) printf("BAD u128 div at %d\n", i);
      mix(qq); mix(rr);
      u128 big = ((u128)next() << 64) | next();
      mix128(big / b); mix128(big % b);
      if (b > 1) { mix128(big / (b | 1)); }
    }
    s128 sbig = (s128)(((u128)next() << 64) | next());
    int64_t sd = (int64_t)next() >> (i % 60);
    if (sd) { mix128((u128)(sbig / sd)); mix128((u128)(sbig % sd)); }
  }
  printf("random mul/div: %016llx\n", (unsigned long long)(acc - h0));
}

static void by_constants(void) {
  uint64_t h0 = acc;
  for (int i = 0; i < 4000; i++) {
    uint64_t u = next();
    int64_t s = (int64_t)next();
    uint32_t u32 = (uint32_t)u;
    int32_t s32 = (int32_t)s;
    mix(u / 3); mix(u % 3); mix(u / 10); mix(u % 10); mix(u / 7); mix(u / 1000000007); mix(u % 1000000007);
    mix((uint64_t)(s / 3)); mix((uint64_t)(s % 3)); mix((uint64_t)(s / 10)); mix((uint64_t)(s / -7)); mix((uint64_t)(s % 641));
    mix(u32 / 3); mix(u32 % 10); mix(u32 / 641); mix((uint64_t)(s32 / 5)); mix((uint64_t)(s32 % 9)); mix((uint64_t)(s32 / 16)); mix((uint64_t)(s32 % 16));
    mix(u / 16); mix((uint64_t)(s / 1024)); mix((uint16_t)u / 7); mix((uint8_t)u / 3);
  }
  printf("division by constants: %016llx\n", (unsigned long long)(acc - h0));
  volatile int64_t m = -17;
  printf("-17/4=%lld -17%%4=%lld -17>>2=%lld -17/-4=%lld\n", (long long)(m / 4), (long long)(m % 4), (long long)(m >> 2), (long long)(m / -4));
}

static void factorials(void) {
  u128 f = 1;
  for (unsigned i = 1; i <= 34; i++) f *= i;
  print128("34! = ", f);
  /* modular exponentiation with 128-bit intermediate products */
  uint64_t mod = 0xffffffffffffffc5ull, base = 0x123456789abcdefull, r = 1, e = 0xfedcba9876543210ull;
  while (e) { if (e & 1) r = (uint64_t)((u128)r * base % mod); base = (uint64_t)((u128)base * base % mod); e >>= 1; }
  printf("powmod = %016llx\n", (unsigned long long)r);
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  products();
  random_muldiv();
  by_constants();
  factorials();
  printf("total: %016llx\n", (unsigned long long)acc);
  return (int)(acc % 200);
}
