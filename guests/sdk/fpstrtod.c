/* x86ft SDK: strtod, strtof, strtold, atof — correctly rounded (round to nearest, ties to
 * even). The decimal input D * 10^E is converted exactly with big integers: the quotient
 * q = floor(D * 10^E * 2^k) (66-67 bits) and whether a remainder is left decide the
 * rounding. Up to 800 significant digits are used exactly; any further nonzero digits only
 * count as "a bit more" (exact for every double and float). Hex floats, inf, infinity, nan
 * and nan(...) are accepted like C99. */
#include "x86ft.h"

#define BN_LIMBS 760
typedef struct { uint32_t d[BN_LIMBS]; int n; } bignum;   /* little-endian, n = used limbs */

static void bn_set(bignum *a, uint32_t v) { a->d[0] = v; a->n = v ? 1 : 0; }
static void bn_muladd(bignum *a, uint32_t m, uint32_t add) {
  uint64_t c = add;
  for (int i = 0; i < a->n; i++) { uint64_t t = (uint64_t)a->d[i] * m + c; a->d[i] = (uint32_t)t; c = t >> 32; }
  if (c && a->n < BN_LIMBS) a->d[a->n++] = (uint32_t)c;
}
static int bn_bits(const bignum *a) {
  if (!a->n) return 0;
  return 32 * (a->n - 1) + 32 - __builtin_clz(a->d[a->n - 1]);
}
static void bn_shl(bignum *a, int k) {
  if (!a->n || k <= 0) return;
  int w = k / 32, b = k % 32;
  int n = a->n + w + 1;
  if (n > BN_LIMBS) n = BN_LIMBS;
  for (int i = n - 1; i >= 0; i--) {
    int j = i - w;
    uint32_t hi = j >= 0 && j < a->n ? a->d[j] : 0;
    uint32_t lo = j - 1 >= 0 && j - 1 < a->n ? a->d[j - 1] : 0;
    a->d[i] = b ? (hi << b) | (lo >> (32 - b)) : hi;
  }
  a->n = n;
  while (a->n && !a->d[a->n - 1]) a->n--;
}
static void bn_shr1(bignum *a) {
  for (int i = 0; i < a->n; i++) a->d[i] = (a->d[i] >> 1) | (i + 1 < a->n ? a->d[i + 1] << 31 : 0);
  while (a->n && !a->d[a->n - 1]) a->n--;
}
static int bn_cmp(const bignum *a, const bignum *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = a->n - 1; i >= 0; i--) if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
  return 0;
}
static void bn_sub(bignum *a, const bignum *b) {   /* a -= b, a >= b */
  int64_t c = 0;
  for (int i = 0; i < a->n; i++) {
    int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) + c;
    a->d[i] = (uint32_t)t; c = t < 0 ? -1 : 0;
  }
  while (a->n && !a->d[a->n - 1]) a->n--;
}
static void bn_mulpow10(bignum *a, int e) {
  while (e >= 9) { bn_muladd(a, 1000000000u, 0); e -= 9; }
  static const uint32_t p10[9] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 };
  if (e > 0) bn_muladd(a, p10[e], 0);
}

/* A format: p significand bits, minimum normal exponent emin, maximum exponent emax. */
struct fmt { int p, emin, emax; };
static const struct fmt F_FLOAT = { 24, -126, 127 }, F_DOUBLE = { 53, -1022, 1023 },
                        F_LDOUBLE = { 64, -16382, 16383 };

/* The value q * 2^-k (+ a bit more if sticky), rounded to format f: significand and the
 * exponent of its most significant bit position; *cls: 0 zero, 1 denormal, 2 normal, 3 inf. */
static uint64_t round_to(unsigned __int128 q, int k, int sticky, const struct fmt *f, int *msbexp, int *cls) {
  if (!q) { *cls = 0; return 0; }
  int top = 127;
  while (!((q >> top) & 1)) top--;
  if (top < 66) { q <<= 66 - top; k += 66 - top; top = 66; }
  int E = top - k;                               /* exponent of the value's top bit */
  int lsb = (E >= f->emin ? E : f->emin) - f->p + 1;
  int s = lsb + k;                               /* bits of q below the result's lsb */
  uint64_t mant;
  int half, rest;
  if (s >= 128) { mant = 0; half = 0; rest = 1; }
  else {
    mant = (uint64_t)(q >> s);
    half = (int)((q >> (s - 1)) & 1);
    rest = s - 1 > 0 && (q & (((unsigned __int128)1 << (s - 1)) - 1)) != 0;
  }
  rest |= sticky;
  if (half && (rest || (mant & 1))) {
    mant++;
    if (f->p == 64 ? mant == 0 : (mant >> f->p) != 0) { mant = f->p == 64 ? 1ull << 63 : mant >> 1; lsb++; }
  }
  if (!mant) { *cls = 0; return 0; }
  if (mant >> (f->p - 1)) {
    *msbexp = lsb + f->p - 1;
    if (*msbexp > f->emax) { *cls = 3; return 0; }
    *cls = 2;
  } else *cls = 1;
  return mant;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int match(const char *s, const char *w) {   /* case-insensitive prefix */
  int n = 0;
  while (w[n]) { if (lower((unsigned char)s[n]) != w[n]) return 0; n++; }
  return n;
}

static bignum num, den;

/* Parses s; returns 0 finite (q,k,sticky set), 1 inf, 2 nan, -1 nothing parsed. */
static int parse(const char *s, char **end, int *neg, unsigned __int128 *q, int *k, int *sticky, const struct fmt *f) {
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  *neg = 0;
  if (*p == '+' || *p == '-') { *neg = *p == '-'; p++; }
  int n;
  if ((n = match(p, "infinity")) || (n = match(p, "inf"))) { if (end) *end = (char *)(p + n); return 1; }
  if ((n = match(p, "nan"))) {
    p += n;
    if (*p == '(') {
      const char *t = p + 1;
      while (isalnum((unsigned char)*t) || *t == '_') t++;
      if (*t == ')') p = t + 1;
    }
    if (end) *end = (char *)p;
    return 2;
  }
  *sticky = 0;
  if (p[0] == '0' && lower((unsigned char)p[1]) == 'x' &&
      (isxdigit((unsigned char)p[2]) || (p[2] == '.' && isxdigit((unsigned char)p[3])))) {
    p += 2;
    unsigned __int128 m = 0;
    long be = 0;
    int any = 0, seen_point = 0;
    for (;; p++) {
      int c = (unsigned char)*p, v;
      if (c == '.' && !seen_point) { seen_point = 1; continue; }
      if (c >= '0' && c <= '9') v = c - '0';
      else if (lower(c) >= 'a' && lower(c) <= 'f') v = lower(c) - 'a' + 10;
      else break;
      any = 1;
      if (m >> 120) { if (v) *sticky = 1; if (!seen_point) be += 4; }
      else { m = (m << 4) | (unsigned)v; if (seen_point) be -= 4; }
    }
    (void)any;
    if (lower((unsigned char)*p) == 'p') {
      const char *t = p + 1;
      int eneg = 0;
      if (*t == '+' || *t == '-') { eneg = *t == '-'; t++; }
      if (isdigit((unsigned char)*t)) {
        long ev = 0;
        while (isdigit((unsigned char)*t)) { if (ev < 100000) ev = ev * 10 + (*t - '0'); t++; }
        be += eneg ? -ev : ev;
        p = t;
      }
    }
    if (end) *end = (char *)p;
    if (be > 100000) be = 100000;
    if (be < -100000) be = -100000;
    *q = m; *k = (int)-be;
    return 0;
  }
  /* decimal */
  const char *start = p;
  static char dig[800];
  int nd = 0, any = 0;
  long e10 = 0;
  int seen_point = 0;
  for (;; p++) {
    int c = (unsigned char)*p;
    if (c == '.' && !seen_point) { seen_point = 1; continue; }
    if (c < '0' || c > '9') break;
    any = 1;
    if (nd == 0 && c == '0') { if (seen_point) e10--; continue; }
    if (nd < (int)sizeof dig) { dig[nd++] = (char)c; if (seen_point) e10--; }
    else { if (c != '0') *sticky = 1; if (!seen_point) e10++; }
  }
  if (!any) { if (end) *end = (char *)s; (void)start; return -1; }
  if (lower((unsigned char)*p) == 'e') {
    const char *t = p + 1;
    int eneg = 0;
    if (*t == '+' || *t == '-') { eneg = *t == '-'; t++; }
    if (isdigit((unsigned char)*t)) {
      long ev = 0;
      while (isdigit((unsigned char)*t)) { if (ev < 1000000) ev = ev * 10 + (*t - '0'); t++; }
      e10 += eneg ? -ev : ev;
      p = t;
    }
  }
  if (end) *end = (char *)p;
  if (nd == 0) { *q = 0; *k = 0; return 0; }
  /* far outside the format's range: no big numbers needed (10^(x-1) <= value < 10^x) */
  long lim_hi = f->emax * 30103L / 100000 + 2, lim_lo = (f->emin - f->p) * 30103L / 100000 - 2;
  if (e10 + nd > lim_hi) { *q = 1; *k = -100000; return 0; }    /* overflows */
  if (e10 + nd < lim_lo) { *q = 1; *k = 100000; return 0; }     /* underflows to zero */
  bn_set(&num, 0);
  for (int i = 0; i < nd;) {        /* nine digits at a time */
    uint32_t chunk = 0, mul = 1;
    for (int j = 0; j < 9 && i < nd; j++, i++) { chunk = chunk * 10 + (uint32_t)(dig[i] - '0'); mul *= 10; }
    bn_muladd(&num, mul, chunk);
  }
  bn_set(&den, 1);
  if (e10 >= 0) bn_mulpow10(&num, (int)e10);
  else bn_mulpow10(&den, (int)-e10);
  int kk = 66 - (bn_bits(&num) - bn_bits(&den));
  if (kk > 0) bn_shl(&num, kk); else bn_shl(&den, -kk);
  /* restoring division: the quotient is below 2^67 */
  bn_shl(&den, 67);
  unsigned __int128 qq = 0;
  for (int i = 67; i >= 0; i--) {
    if (bn_cmp(&num, &den) >= 0) { bn_sub(&num, &den); qq |= (unsigned __int128)1 << i; }
    bn_shr1(&den);
  }
  if (num.n) *sticky = 1;
  *q = qq; *k = kk;
  return 0;
}

static uint64_t convert(const char *s, char **end, const struct fmt *f, int *neg, int *msbexp, int *cls) {
  unsigned __int128 q; int k, sticky;
  int r = parse(s, end, neg, &q, &k, &sticky, f);
  if (r < 0) { *neg = 0; *cls = 0; return 0; }
  if (r == 1) { *cls = 3; return 0; }
  if (r == 2) { *cls = 4; return 0; }
  return round_to(q, k, sticky, f, msbexp, cls);
}

double strtod(const char *s, char **end) {
  int neg, e, cls;
  uint64_t m = convert(s, end, &F_DOUBLE, &neg, &e, &cls);
  union { double d; uint64_t u; } b;
  if (cls == 0) b.u = 0;
  else if (cls == 1) b.u = m;
  else if (cls == 2) b.u = ((uint64_t)(e + 1023) << 52) | (m & ((1ull << 52) - 1));
  else if (cls == 3) b.u = 0x7ffull << 52;
  else b.u = 0x7ff8ull << 48;
  if (neg) b.u |= 1ull << 63;
  return b.d;
}

float strtof(const char *s, char **end) {
  int neg, e, cls;
  uint64_t m = convert(s, end, &F_FLOAT, &neg, &e, &cls);
  union { float f; uint32_t u; } b;
  if (cls == 0) b.u = 0;
  else if (cls == 1) b.u = (uint32_t)m;
  else if (cls == 2) b.u = ((uint32_t)(e + 127) << 23) | ((uint32_t)m & 0x7fffffu);
  else if (cls == 3) b.u = 0x7f800000u;
  else b.u = 0x7fc00000u;
  if (neg) b.u |= 0x80000000u;
  return b.f;
}

long double strtold(const char *s, char **end) {
  int neg, e, cls;
  uint64_t m = convert(s, end, &F_LDOUBLE, &neg, &e, &cls);
  union { long double v; struct { uint64_t m; uint16_t se; } p; } b;
  memset(&b, 0, sizeof b);
  if (cls == 0) { b.p.m = 0; b.p.se = 0; }
  else if (cls == 1) { b.p.m = m; b.p.se = 0; }
  else if (cls == 2) { b.p.m = m; b.p.se = (uint16_t)(e + 16383); }
  else if (cls == 3) { b.p.m = 1ull << 63; b.p.se = 0x7fff; }
  else { b.p.m = 3ull << 62; b.p.se = 0x7fff; }
  if (neg) b.p.se |= 0x8000;
  return b.v;
}

double atof(const char *s) { return strtod(s, NULL); }
