/* bits: bit manipulation — popcount/clz/ctz/ffs/parity builtins (bsr/bsf and a popcount
 * routine without -mpopcnt), rotates, bswap, bit tests, bitfields, double-width shifts
 * (shld/shrd via __int128), sign extension and setcc/cmov patterns. */
#include "x86ft.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static uint64_t acc;
static void mix(uint64_t v) { acc = (acc ^ v) * 0xff51afd7ed558ccdull; acc ^= acc >> 33; }

static inline uint32_t rol32(uint32_t x, unsigned r) { r &= 31; return (x << r) | (x >> ((32 - r) & 31)); }
static inline uint32_t ror32(uint32_t x, unsigned r) { r &= 31; return (x >> r) | (x << ((32 - r) & 31)); }
static inline uint64_t rol64(uint64_t x, unsigned r) { r &= 63; return (x << r) | (x >> ((64 - r) & 63)); }
static inline uint64_t ror64(uint64_t x, unsigned r) { r &= 63; return (x >> r) | (x << ((64 - r) & 63)); }
static inline uint16_t rol16(uint16_t x, unsigned r) { r &= 15; return (uint16_t)((x << r) | (x >> ((16 - r) & 15))); }
static inline uint8_t rol8(uint8_t x, unsigned r) { r &= 7; return (uint8_t)((x << r) | (x >> ((8 - r) & 7))); }

/* portable reference versions, to check the builtins against */
static int ref_popcount(uint64_t x) { int n = 0; while (x) { n += (int)(x & 1); x >>= 1; } return n; }
static int ref_clz(uint64_t x) { int n = 0; while (!(x & 0x8000000000000000ull)) { n++; x <<= 1; } return n; }
static int ref_ctz(uint64_t x) { int n = 0; while (!(x & 1)) { n++; x >>= 1; } return n; }
static uint64_t ref_bswap(uint64_t x) { uint64_t r = 0; for (int i = 0; i < 8; i++) { r = (r << 8) | (x & 0xff); x >>= 8; } return r; }

struct packed {
  unsigned a : 3;
  unsigned b : 7;
  signed c : 5;
  unsigned d : 1;
  unsigned long long e : 33;
  signed long long f : 15;
};

static void counts(void) {
  int bad = 0;
  unsigned long long sum = 0;
  for (int i = 0; i < 5000; i++) {
    uint64_t x = next() >> (i & 63);
    uint32_t y = (uint32_t)x;
    int pc = __builtin_popcountll(x), pc32 = __builtin_popcount(y);
    if (pc != ref_popcount(x) || pc32 != ref_popcount(y)) bad++;
    sum += (unsigned)pc * 3 + (unsigned)pc32 + (unsigned)__builtin_parityll(x) + (unsigned)__builtin_parity(y);
    if (x) {
      if (__builtin_clzll(x) != ref_clz(x) || __builtin_ctzll(x) != ref_ctz(x)) bad++;
      sum += (unsigned)__builtin_clzll(x) * 5 + (unsigned)__builtin_ctzll(x) * 7;
    }
    if (y) sum += (unsigned)__builtin_clz(y) * 11 + (unsigned)__builtin_ctz(y) * 13;
    sum += (unsigned)__builtin_ffsll((long long)x) + (unsigned)__builtin_ffs((int)y);
    sum += (unsigned)__builtin_clrsbll((long long)x);
    uint16_t h = (uint16_t)x;
    if (h) sum += (unsigned)__builtin_clz((unsigned)h << 16) + (unsigned)__builtin_ctz(h);
  }
  printf("popcount/clz/ctz/ffs/parity: sum %llu, mismatches %d\n", sum, bad);
  printf("clz(1)=%d ctz(1<<63)=%d popcount(~0)=%d ffs(0)=%d parity(7)=%d\n",
         __builtin_clzll(1), __builtin_ctzll(1ull << 63), __builtin_popcountll(~0ull), __builtin_ffs(0), __builtin_parity(7));
}

static void rotates(void) {
  uint64_t h0 = acc;
  for (int i = 0; i < 3000; i++) {
    uint64_t x = next();
    unsigned r = (unsigned)next() & 127;
    mix(rol32((uint32_t)x, r)); mix(ror32((uint32_t)x, r)); mix(rol64(x, r)); mix(ror64(x, r));
    mix(rol16((uint16_t)x, r)); mix(rol8((uint8_t)x, r));
    mix(rol64(x, 13)); mix(ror32((uint32_t)x, 7)); mix(rol16((uint16_t)x, 8));
  }
  printf("rotates: %016llx\n", (unsigned long long)(acc - h0));
}

static void swaps(void) {
  int bad = 0;
  uint64_t h0 = acc;
  for (int i = 0; i < 2000; i++) {
    uint64_t x = next();
    uint64_t b = __builtin_bswap64(x);
    if (b != ref_bswap(x)) bad++;
    mix(b); mix(__builtin_bswap32((uint32_t)x)); mix(__builtin_bswap16((uint16_t)x));
  }
  printf("bswap: %016llx mismatches %d; bswap64(0x0102030405060708)=%016llx\n",
         (unsigned long long)(acc - h0), bad, (unsigned long long)__builtin_bswap64(0x0102030405060708ull));
}

static void bit_tests(void) {
  uint64_t set[4] = { 0 };
  for (int i = 0; i < 500; i++) {
    unsigned k = (unsigned)next() & 255;
    set[k >> 6] ^= 1ull << (k & 63);      /* btc pattern */
  }
  unsigned n = 0, first = 999;
  for (unsigned k = 0; k < 256; k++)
    if (set[k >> 6] >> (k & 63) & 1) { n++; if (first == 999) first = k; }
  printf("bitset: %016llx %016llx %016llx %016llx count %u first %u\n", (unsigned long long)set[0],
         (unsigned long long)set[1], (unsigned long long)set[2], (unsigned long long)set[3], n, first);
  /* in-asm bt/bts/btr/btc on memory and registers */
  uint64_t m = 0x8000000000000001ull, cf_sum = 0;
  for (uint64_t b = 0; b < 64; b += 7) {
    uint8_t c1, c2, c3;
    __asm__("btsq %3, %0; setc %1; btrq $0, %0; setc %2" : "+r"(m), "=q"(c1), "=q"(c2) : "r"(b) : "cc");
    __asm__("btcq %2, %0; setc %1" : "+m"(m), "=q"(c3) : "r"(b + 1) : "cc");
    cf_sum = cf_sum * 3 + c1 + c2 * 5u + c3 * 7u;
  }
  printf("bt*: m=%016llx cf=%llu\n", (unsigned long long)m, (unsigned long long)cf_sum);
}

static void bitfields(void) {
  static struct packed arr[64];
  for (int i = 0; i < 64; i++) {
    uint64_t x = next();
    arr[i].a = (unsigned)x; arr[i].b = (unsigned)(x >> 3); arr[i].c = (int)(x >> 10);
    arr[i].d = (unsigned)(x >> 15); arr[i].e = x >> 16; arr[i].f = (long long)(x >> 49);
  }
  long long s = 0;
  for (int i = 0; i < 64; i++) {
    arr[i].b += arr[i].a;
    arr[i].c -= 3;
    arr[i].f = arr[i].f * 3 + arr[i].c;
    s += arr[i].a + arr[i].b * 2 + arr[i].c * 3 + arr[i].d * 5 + (long long)arr[i].e + arr[i].f;
  }
  printf("bitfields: sizeof %u, sum %lld, arr[5]: a=%u b=%u c=%d d=%u e=%llu f=%lld\n", (unsigned)sizeof(struct packed),
         s, arr[5].a, arr[5].b, arr[5].c, arr[5].d, (unsigned long long)arr[5].e, (long long)arr[5].f);
}

static void wide_shifts(void) {
  uint64_t h0 = acc;
  for (int i = 0; i < 2000; i++) {
    unsigned __int128 v = ((unsigned __int128)next() << 64) | next();
    unsigned s = (unsigned)next() & 127;
    mix((uint64_t)(v << s)); mix((uint64_t)((v << s) >> 64)); mix((uint64_t)(v >> s)); mix((uint64_t)((v >> s) >> 64));
    __int128 sv = (__int128)v;
    mix((uint64_t)(sv >> s)); mix((uint64_t)((sv >> s) >> 64));
    uint64_t hi = next(), lo = next();
    unsigned c = s & 63;
    uint64_t r1 = hi, r2 = lo;
    __asm__("shldq %%cl, %2, %0" : "+r"(r1) : "c"(c), "r"(lo) : "cc");
    __asm__("shrdq %%cl, %2, %0" : "+r"(r2) : "c"(c), "r"(hi) : "cc");
    mix(r1); mix(r2);
    uint32_t h32 = (uint32_t)hi, l32 = (uint32_t)lo;
    __asm__("shldl $5, %1, %0" : "+r"(h32) : "r"(l32) : "cc");
    mix(h32);
  }
  printf("double-width shifts: %016llx\n", (unsigned long long)(acc - h0));
}

static void extensions(void) {
  uint64_t h0 = acc;
  for (int i = 0; i < 2000; i++) {
    uint64_t x = next();
    mix((uint64_t)(int64_t)(int8_t)x); mix((uint64_t)(int64_t)(int16_t)x); mix((uint64_t)(int64_t)(int32_t)x);
    mix((uint32_t)(int32_t)(int8_t)x); mix((uint16_t)(int16_t)(int8_t)x);
    int64_t s = (int64_t)x;
    mix(s < 0); mix(s > 100); mix(x > 100); mix((s >> 63) & 5); mix(s < 0 ? -1 : s > 0 ? 1 : 0);
    mix(x & (0 - x)); mix(x & (x - 1)); mix(x ^ (x >> 1)); mix(~x & (x + 1));
  }
  printf("extensions/setcc/lowest-bit tricks: %016llx\n", (unsigned long long)(acc - h0));
  /* bit reversal via masks */
  uint32_t v = 0x12345678u;
  v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
  v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
  v = ((v >> 4) & 0x0f0f0f0fu) | ((v & 0x0f0f0f0fu) << 4);
  v = __builtin_bswap32(v);
  printf("reverse(0x12345678) = %08x\n", v);
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  counts();
  rotates();
  swaps();
  bit_tests();
  bitfields();
  wide_shifts();
  extensions();
  printf("total: %016llx\n", (unsigned long long)acc);
  return (int)(acc & 0x7f);
}
