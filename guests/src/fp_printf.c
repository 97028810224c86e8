/* fp_printf: printf of doubles and long doubles — %f %F %e %E %g %G %a %A with flags,
 * width and precision; denormals, inf, nan, -0.0, huge and tiny values, rounding ties.
 * The native build prints with glibc: the SDK's exact conversion must match it. */
#include "x86ft.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static double bits2d(uint64_t u) { union { uint64_t u; double d; } b = { u }; return b.d; }
static long double bits2ld(uint64_t m, uint16_t se) {
  union { long double v; struct { uint64_t m; uint16_t se; } p; } b;
  memset(&b, 0, sizeof b); b.p.m = m; b.p.se = se; return b.v;
}

static const char *dfmts[] = {
  "%f", "%F", "%e", "%E", "%g", "%G", "%a", "%A", "%.0f", "%.1f", "%.3f", "%.10f", "%.20f",
  "%.0e", "%.1e", "%.5e", "%.16e", "%.25e", "%.0g", "%.1g", "%.2g", "%.6g", "%.15g", "%.17g",
  "%.30g", "%#.0f", "%#.0e", "%#g", "%#.3g", "%#a", "%.0a", "%.1a", "%.3a", "%.13a", "%.20a",
  "%+f", "% e", "%+g", "% a", "%12.4f", "%-12.4f|", "%012.4f", "%+015.3e", "%-+15.3e|", "% 020g",
  "%020a", "%-20a|", "%+#12.0g", "%25.17g", "%-25.17g|", "%*.*f", "%.*e",
};
static const char *lfmts[] = {
  "%Lf", "%Le", "%Lg", "%La", "%LA", "%.0Lf", "%.3Lf", "%.25Lf", "%.0Le", "%.20Le", "%.21Lg",
  "%.18Lg", "%#.0Lf", "%#Lg", "%.0La", "%.1La", "%.5La", "%.15La", "%+020La", "%-30.10Le|",
  "% 025.19Lg", "%LF", "%LE", "%LG",
};

static unsigned long long sum;
static void out(const char *s) { for (const char *t = s; *t; t++) sum = sum * 131 + (unsigned char)*t; printf("%s", s); }

static void pd(const char *f, double v) {
  char buf[2048];
  if (f[1] == '*') snprintf(buf, sizeof buf, f, 14, 5, v);
  else if (f[2] == '*') snprintf(buf, sizeof buf, f, 7, v);
  else snprintf(buf, sizeof buf, f, v);
  out(buf); out(" ");
}
static void pl(const char *f, long double v) {
  char buf[2048];
  snprintf(buf, sizeof buf, f, v);
  out(buf); out(" ");
}

static void all_d(double v) {
  for (size_t i = 0; i < sizeof dfmts / sizeof *dfmts; i++) pd(dfmts[i], v);
  out("\n");
}
static void all_l(long double v) {
  for (size_t i = 0; i < sizeof lfmts / sizeof *lfmts; i++) pl(lfmts[i], v);
  out("\n");
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  static const double special[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 2.5, 3.5, -2.5, 0.125, 0.375,
    9.5, 99.5, 999.5, 0.05, 0.15, 0.25, 0.35, 0.45, 1e-5, 1e-4, 0.0001234, 123456.0, 1234567.0,
    1e15, 1e16, 1e17, 1e21, 1e22, 1e23, 9007199254740993.0, 4.35, 2.675, 1.005, 0.999999999,
    9.9999999999e9, 999999.5, 9999995.0, 0.00009999995, 1e100, 1e300, 1.7976931348623157e308,
    2.2250738585072014e-308, 2.2250738585072009e-308, 4.9406564584124654e-324, 1e-310, 1e-320,
    3.141592653589793, 2.718281828459045, 6.02214076e23, 1.602176634e-19, 0x1.fffffffffffffp0,
    0x1.0000000000001p0, 0x1.8p0, 0x1.08p0, 0x1.18p0, 0x1.28p0, 0x1.ffffp-1022, 123.456, -987.654e-3,
  };
  for (size_t i = 0; i < sizeof special / sizeof *special; i++) all_d(special[i]);
  all_d(INFINITY); all_d(-INFINITY); all_d(NAN); all_d(-(double)NAN);
  for (int i = 0; i < 8; i++) {                  /* random bit patterns, every exponent range */
    uint64_t u = next();
    if (i % 4 == 0) u &= 0x800fffffffffffffull;    /* denormals */
    if ((u >> 52 & 0x7ff) == 0x7ff) u ^= 1ull << 60;
    all_d(bits2d(u));
  }
  for (int i = 0; i < 16; i++) {                 /* random values of moderate size */
    double v = (double)(int64_t)next() / (double)(1ull << (next() % 60));
    all_d(v);
  }
  static const long double lspecial[] = {
    0.0L, -0.0L, 1.0L, 0.1L, 0.2L, 1.0L / 3, 2.5L, 0.5L, 1e-5L, 1e20L, 1e4000L, 1e-4000L,
    1.18973149535723176502e+4932L, 3.36210314311209350626e-4932L, 3.64519953188247460253e-4951L,
    3.14159265358979323846264338327950288L, 0x1.08p0L, 0xf.8p0L, 0xf.f8p0L, 0x8.8p0L,
    123456789012345678901234.0L, 18446744073709551615.0L, 0.999999999999999999L,
  };
  for (size_t i = 0; i < sizeof lspecial / sizeof *lspecial; i++) all_l(lspecial[i]);
  all_l((long double)INFINITY); all_l(-(long double)INFINITY); all_l((long double)NAN);
  for (int i = 0; i < 12; i++) {
    uint64_t m = next(), se = next() & 0xffff;
    if (i == 0) se &= 0x8000;                      /* a denormal */
    else if (i > 2) se = (se & 0x8000) | (0x3fff + (int)(se % 400) - 200);
    if ((se & 0x7fff) == 0x7fff) se ^= 1;
    if ((se & 0x7fff) != 0) m |= 1ull << 63;       /* normal: explicit integer bit */
    else m &= ~(1ull << 63);
    all_l(bits2ld(m, (uint16_t)se));
  }
  /* long outputs: every digit of the extremes */
  printf("%.1100f\n", 4.9406564584124654e-324);
  printf("%.770e\n", 2.2250738585072009e-308);
  printf("%f\n", 1.7976931348623157e308);
  printf("%Lf\n", 1.18973149535723176502e+4932L);
  printf("%.200Le\n", 3.64519953188247460253e-4951L);
  /* return values and truncation */
  char small[8];
  int n = snprintf(small, sizeof small, "%.10f", 3.14159);
  printf("snprintf %d [%s]\n", n, small);
  n = printf("%g %g\n", 1e-300, 1e300);
  printf("printf %d\n", n);
  printf("checksum %016llx\n", sum);
  return (int)(sum & 0x7f);
}
