/* x86ft SDK libm: a small, self-contained math library (double; sqrt/fabs also float and
 * long double). Compiled into the bare-metal SDK AND into the native reference build (the
 * symbols are x86ft_*, see x86ft.h), so both builds run the same code and only the
 * machine's arithmetic is compared. Accuracy: within a few ulp on ordinary arguments;
 * trigonometric argument reduction is Cody-Waite (accurate for |x| < ~1e9). */
#include "x86ft.h"

typedef union { double d; uint64_t u; } dbits;

double x86ft_sqrt(double x) { __asm__("sqrtsd %1, %0" : "=x"(x) : "x"(x)); return x; }
float x86ft_sqrtf(float x) { __asm__("sqrtss %1, %0" : "=x"(x) : "x"(x)); return x; }
long double x86ft_sqrtl(long double x) { __asm__("fsqrt" : "+t"(x)); return x; }
double x86ft_fabs(double x) { dbits b = { x }; b.u &= ~(1ull << 63); return b.d; }
float x86ft_fabsf(float x) { union { float f; uint32_t u; } b = { x }; b.u &= 0x7fffffffu; return b.f; }
long double x86ft_fabsl(long double x) { __asm__("fabs" : "+t"(x)); return x; }
double x86ft_copysign(double x, double y) {
  dbits a = { x }, b = { y };
  a.u = (a.u & ~(1ull << 63)) | (b.u & (1ull << 63));
  return a.d;
}

static int isnan_(double x) { dbits b = { x }; return (b.u << 1) > (0x7ffull << 53); }
static int isinf_(double x) { dbits b = { x }; return (b.u << 1) == (0x7ffull << 53); }

double x86ft_trunc(double x) {
  dbits b = { x };
  int e = (int)((b.u >> 52) & 0x7ff) - 1023;
  if (e >= 52) return x;                         /* integral, inf or nan */
  if (e < 0) { b.u &= 1ull << 63; return b.d; }  /* |x| < 1: signed zero */
  b.u &= ~((1ull << (52 - e)) - 1);
  return b.d;
}
double x86ft_floor(double x) { double t = x86ft_trunc(x); return (x < 0 && t != x) ? t - 1.0 : t; }
double x86ft_ceil(double x) { double t = x86ft_trunc(x); return (x > 0 && t != x) ? t + 1.0 : t; }
double x86ft_round(double x) {
  double t = x86ft_trunc(x);
  if (x86ft_fabs(x - t) >= 0.5) t += x86ft_copysign(1.0, x);
  return t;
}

double x86ft_ldexp(double x, int n) {
  /* scale in exact steps, so that only the last multiplication rounds */
  if (n > 1023) { x *= 0x1p1023; n -= 1023; if (n > 1023) { x *= 0x1p1023; n -= 1023; if (n > 1023) n = 1023; } }
  else if (n < -1022) {
    x *= 0x1p-969; n += 969;                     /* 2^-1022 * 2^53: stays normal, exact */
    if (n < -1022) { x *= 0x1p-969; n += 969; if (n < -1022) n = -1022; }
  }
  dbits s = { 0 };
  s.u = (uint64_t)(n + 1023) << 52;
  return x * s.d;
}

double x86ft_frexp(double x, int *e) {
  dbits b = { x };
  int ex = (int)((b.u >> 52) & 0x7ff);
  if (ex == 0) {
    if (x == 0) { *e = 0; return x; }
    b.d = x * 0x1p64;
    ex = (int)((b.u >> 52) & 0x7ff) - 64;
  } else if (ex == 0x7ff) { *e = 0; return x; }
  *e = ex - 1022;
  b.u = (b.u & ~(0x7ffull << 52)) | (1022ull << 52);
  return b.d;
}

double x86ft_fmod(double x, double y) {
  dbits bx = { x }, by = { y };
  uint64_t sx = bx.u & (1ull << 63);
  int ex = (int)((bx.u >> 52) & 0x7ff), ey = (int)((by.u >> 52) & 0x7ff);
  if (isnan_(x) || isnan_(y) || ex == 0x7ff || y == 0) return (x * y) / (x * y);
  if (ey == 0x7ff) return x;
  uint64_t mx = bx.u & ((1ull << 52) - 1), my = by.u & ((1ull << 52) - 1);
  if (ex) mx |= 1ull << 52; else ex = 1;
  if (ey) my |= 1ull << 52; else ey = 1;
  if (ex < ey || (ex == ey && mx < my)) return x;
  /* long division on the significands: r = mx * 2^(ex-ey) mod my */
  uint64_t r = mx;
  for (int i = ex - ey; i > 0; i--) {
    if (r >= my) r -= my;
    r <<= 1;
  }
  if (r >= my) r -= my;
  /* result = r * 2^(ey - 1075), exact */
  double res = x86ft_ldexp((double)r, ey - 1075);
  dbits br = { res };
  br.u |= sx;
  return br.d;
}

static const double LN2_HI = 0x1.62e42fefa3800p-1, LN2_LO = 0x1.ef35793c7673p-45;

double x86ft_exp(double x) {
  if (isnan_(x)) return x + x;
  if (x > 709.8) return 0x1p1023 * 0x1p1023;
  if (x < -745.2) return 0x1p-1022 * 0x1p-1022;
  double kf = x * 0x1.71547652b82fep0;           /* x / ln2 */
  int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
  double r = (x - k * LN2_HI) - k * LN2_LO;      /* |r| <= ~0.35 */
  double term = 1.0, sum = 1.0;
  for (int i = 1; i <= 16; i++) { term = term * r / i; sum += term; }
  return x86ft_ldexp(sum, k);
}

double x86ft_log(double x) {
  if (isnan_(x) || x == __builtin_inf()) return x + x;
  if (x == 0) return -1.0 / 0.0 * (x == x);
  if (x < 0) return (x - x) / (x - x);
  int k;
  double m = x86ft_frexp(x, &k);                 /* x = m * 2^k, m in [0.5, 1) */
  if (m < 0.70710678118654752) { m *= 2; k--; }
  double s = (m - 1) / (m + 1), s2 = s * s;
  double sum = 0, p = s;
  for (int i = 1; i <= 25; i += 2) { sum += p / i; p *= s2; }
  return 2 * sum + k * LN2_LO + k * LN2_HI;
}

static double ipow(double x, long long n) {
  double r = 1.0;
  int neg = n < 0;
  unsigned long long u = neg ? 0ull - (unsigned long long)n : (unsigned long long)n;
  while (u) { if (u & 1) r *= x; x *= x; u >>= 1; }
  return neg ? 1.0 / r : r;
}

double x86ft_pow(double x, double y) {
  if (y == 0) return 1.0;
  if (x == 1.0) return 1.0;
  if (isnan_(x) || isnan_(y)) return x + y;
  int yint = x86ft_trunc(y) == y;
  if (yint && x86ft_fabs(y) <= 64) return ipow(x, (long long)y);
  if (x == 0) {
    int odd = yint && x86ft_fabs(y) < 0x1p53 && ((long long)y & 1);
    if (y < 0) return odd ? 1.0 / x : 1.0 / 0.0;
    return odd ? x : 0.0;
  }
  if (isinf_(y)) {
    double ax = x86ft_fabs(x);
    if (ax == 1) return 1.0;
    return (ax > 1) == (y > 0) ? __builtin_inf() : 0.0;
  }
  double sign = 1.0;
  if (x < 0) {
    if (!yint) return (x - x) / (x - x);
    if (x86ft_fabs(y) < 0x1p53 && ((long long)y & 1)) sign = -1.0;
    x = -x;
  }
  return sign * x86ft_exp(y * x86ft_log(x));
}

/* pi/2 in three parts, for Cody-Waite reduction */
static const double PIO2_1 = 0x1.921fb54400000p0, PIO2_2 = 0x1.0b4611a600000p-34,
                    PIO2_3 = 0x1.3198a2e037073p-69;

static double reduce(double x, int *q) {
  double kf = x * 0x1.45f306dc9c883p-1;          /* x * 2/pi */
  double k = x86ft_trunc(kf < 0 ? kf - 0.5 : kf + 0.5);
  *q = (int)((long long)k & 3);
  return ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
}

static double ksin(double r) {
  double r2 = r * r, term = r, sum = r;
  for (int i = 2; i <= 18; i += 2) { term = -term * r2 / (i * (i + 1)); sum += term; }
  return sum;
}
static double kcos(double r) {
  double r2 = r * r, term = 1.0, sum = 1.0;
  for (int i = 1; i <= 18; i += 2) { term = -term * r2 / (i * (i + 1)); sum += term; }
  return sum;
}

double x86ft_sin(double x) {
  if (isnan_(x) || isinf_(x)) return (x - x) / (x - x);
  int q; double r = reduce(x, &q);
  switch (q) { case 0: return ksin(r); case 1: return kcos(r); case 2: return -ksin(r); default: return -kcos(r); }
}
double x86ft_cos(double x) {
  if (isnan_(x) || isinf_(x)) return (x - x) / (x - x);
  int q; double r = reduce(x, &q);
  switch (q) { case 0: return kcos(r); case 1: return -ksin(r); case 2: return -kcos(r); default: return ksin(r); }
}
double x86ft_tan(double x) {
  if (isnan_(x) || isinf_(x)) return (x - x) / (x - x);
  int q; double r = reduce(x, &q);
  double s = ksin(r), c = kcos(r);
  return (q & 1) ? -c / s : s / c;
}

static const double PI_2 = 0x1.921fb54442d18p0, PI_6 = 0x1.0c152382d7366p-1,
                    INV_SQRT3 = 0x1.279a74590331cp-1;
double x86ft_atan(double x) {
  if (isnan_(x)) return x + x;
  int neg = x < 0;
  double a = x86ft_fabs(x), off = 0;
  int inv = a > 1;
  if (inv) a = 1.0 / a;
  if (a > 0.2679491924311227) { a = (a - INV_SQRT3) / (1 + a * INV_SQRT3); off = PI_6; }
  double a2 = a * a, p = a, sum = 0;
  for (int i = 1; i <= 35; i += 2) { sum += ((i & 2) ? -p : p) / i; p *= a2; }
  double r = off + sum;
  if (inv) r = PI_2 - r;
  return neg ? -r : r;
}

double x86ft_atan2(double y, double x) {
  static const double PI = 0x1.921fb54442d18p1;
  if (isnan_(x) || isnan_(y)) return x + y;
  dbits bx = { x };
  int xneg = (int)(bx.u >> 63);
  if (y == 0) return xneg ? x86ft_copysign(PI, y) : y;
  if (x == 0) return x86ft_copysign(PI_2, y);
  if (isinf_(x)) {
    if (isinf_(y)) return x86ft_copysign(xneg ? 3 * PI / 4 : PI / 4, y);
    return xneg ? x86ft_copysign(PI, y) : x86ft_copysign(0.0, y);
  }
  if (isinf_(y)) return x86ft_copysign(PI_2, y);
  double r = x86ft_atan(y / x);
  if (x < 0) r = y < 0 ? r - PI : r + PI;
  return r;
}
