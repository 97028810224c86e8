/* fp_strtod: strtod/strtof/strtold correctness. Random doubles printed with %.17g (and %a)
 * must parse back bit-identical; tricky decimal inputs (halfway cases, denormals, overflow,
 * long mantissas, hex floats, inf/nan) must round like glibc. */
#include "x86ft.h"

static uint64_t rng = 0x0123456789abcdefull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static uint64_t d2u(double d) { union { double d; uint64_t u; } b = { d }; return b.u; }
static double u2d(uint64_t u) { union { uint64_t u; double d; } b = { u }; return b.d; }
static uint32_t f2u(float f) { union { float f; uint32_t u; } b = { f }; return b.u; }
static void ld2u(long double v, uint64_t *m, unsigned *se) {
  union { long double v; struct { uint64_t m; uint16_t se; } p; } b;
  memset(&b, 0, sizeof b); b.v = v; *m = b.p.m; *se = b.p.se;
}

static const char *inputs[] = {
  "0", "-0", "1", "0.1", "0.2", "0.3", "1e23", "8.5e-5", "2.2250738585072011e-308",
  "2.2250738585072012e-308", "2.2250738585072014e-308", "4.9406564584124654e-324",
  "2.4703282292062327e-324", "2.4703282292062328e-324", "2.470328229206232720882e-324",
  "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "1e309",
  "-1e400", "1e-400", "9007199254740993", "9007199254740992.5", "9007199254740993.0000000001",
  "9007199254740994.9999", "123456789012345678901234567890", "0.000000000000000000001234",
  "3.14159265358979323846264338327950288419716939937510582097494459", "2.718281828459045235360287",
  "1.00000000000000011102230246251565404236316680908203125",
  "1.00000000000000011102230246251565404236316680908203124",
  "1.00000000000000011102230246251565404236316680908203126",
  "1.0000000000000001110223024625156540423631668090820312500000000000000001",
  "7.2057594037927933e16", "1e-5", "1E+5", "  +12.5e-1xyz", "-.5", "5.", ".e5", "1e", "1e+",
  "0x1p0", "0x1.8p1", "-0X1.FFFFFFFFFFFFFP1023", "0x1.fffffffffffff8p0", "0x1.fffffffffffff7p0",
  "0x0.0000000000001p-1022", "0x1p-1075", "0x1.0000000000001p-1075", "0x.8p1", "0x", "0xg",
  "inf", "-INF", "infinity", "Infinityx", "nan", "-nan", "NaN(123abc)", "nan(", "abc", "",
  "3.4028234663852886e38", "3.4028235677973366e38", "1.4012984643248171e-45", "7.006492321624085e-46",
  "1.17549435e-38", "16777217", "33554431", "1e4932", "1.18973149535723176502e+4932",
  "1.18973149535723176508e+4932", "3.64519953188247460253e-4951", "1.8225997659412373012e-4951",
  "1e-4951", "0.1e-4940", "18446744073709551615", "18446744073709551617", "36893488147419103231",
  "2.5", "0.0000001e7", "000000000000000000000000000001.5", "1.5e000000000000000000000000000001",
  "123.456e-2", "99999999999999999999999999999999999999999999999999e-50",
  "4.4501477170144023e-308", "4.4501477170144022e-308", "1e22", "1e-22",
};

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  unsigned long long sum = 0;
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    const char *s = inputs[i];
    char *e1, *e2, *e3;
    double d = strtod(s, &e1);
    float f = strtof(s, &e2);
    long double l = strtold(s, &e3);
    uint64_t lm; unsigned lse;
    ld2u(l, &lm, &lse);
    int nan = isnan(d);
    /* NaN payloads are not compared: only the sign */
    printf("[%s] d=%016llx end+%d f=%08x end+%d ld=%04x:%016llx end+%d | %.17g %a\n", s,
           nan ? (unsigned long long)(d2u(d) >> 63) : (unsigned long long)d2u(d), (int)(e1 - s),
           nan ? f2u(f) >> 31 : f2u(f), (int)(e2 - s), nan ? lse >> 15 : lse,
           nan ? 0ull : (unsigned long long)lm, (int)(e3 - s), d, d);
    sum = sum * 31 + (nan ? 7 : d2u(d)) + (nan ? 0 : f2u(f)) + lm + lse;
  }
  /* round trips */
  int bad = 0;
  char buf[64];
  for (int i = 0; i < 60; i++) {
    uint64_t u = next();
    if (i % 5 == 0) u &= 0x800fffffffffffffull;           /* denormals */
    else if (i % 5 == 1) u = (u & 0x800fffffffffffffull) | ((uint64_t)(1023 + (int)(u >> 52 & 63) - 32) << 52);
    if ((u >> 52 & 0x7ff) == 0x7ff) continue;
    double d = u2d(u);
    snprintf(buf, sizeof buf, "%.17g", d);
    double back = strtod(buf, NULL);
    if (d2u(back) != u) { bad++; printf("round trip %.17g: %016llx -> %016llx\n", d, (unsigned long long)u, (unsigned long long)d2u(back)); }
    snprintf(buf, sizeof buf, "%a", d);
    if (d2u(strtod(buf, NULL)) != u) { bad++; printf("hex round trip %s\n", buf); }
    snprintf(buf, sizeof buf, "%.9g", d);         /* shorter: rounding by the parser */
    sum = sum * 31 + d2u(strtod(buf, NULL)) + f2u(strtof(buf, NULL));
    if (i % 10 == 0) printf("%s -> %a\n", buf, strtod(buf, NULL));
  }
  for (int i = 0; i < 8; i++) {                   /* long double round trips with %.21Lg */
    uint64_t m = next() | (1ull << 63);
    unsigned se = (unsigned)(0x3fff + (int)(next() % 2000) - 1000) | (i & 1 ? 0x8000u : 0);
    union { long double v; struct { uint64_t m; uint16_t se; } p; } b;
    memset(&b, 0, sizeof b); b.p.m = m; b.p.se = (uint16_t)se;
    snprintf(buf, sizeof buf, "%.21Lg", b.v);
    uint64_t m2; unsigned se2;
    ld2u(strtold(buf, NULL), &m2, &se2);
    if (m2 != m || se2 != se) { bad++; printf("ld round trip %s\n", buf); }
    sum = sum * 31 + m2 + se2;
  }
  printf("atof %.17g %.17g\n", atof("  -6.02214076e23"), atof("1e-3"));
  printf("round trip failures %d, checksum %016llx\n", bad, sum);
  return (int)(sum & 0x7f) + bad;
}
