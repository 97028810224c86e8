/* fp_math: the SDK libm (sdk/math.c, the same code in the native build) over many
 * arguments, and long double arithmetic on the x87 (fld/fmul/fdiv/fsqrt, conversions). */
#include "x86ft.h"

static uint64_t h;
static void mix(double v) { union { double d; uint64_t u; } b = { v }; h = h * 0x100000001b3ull ^ b.u; }
static void mixl(long double v) {
  union { long double v; struct { uint64_t m; uint16_t se; } p; } b;
  memset(&b, 0, sizeof b); b.v = v; h = h * 0x100000001b3ull ^ b.p.m ^ b.p.se;
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  static const double args[] = { 0.0, -0.0, 0.5, -0.5, 1.0, 1.5, 2.0, 2.5, -2.5, 3.0, 0.1, 0.7853981633974483,
    1.5707963267948966, 3.141592653589793, 10.0, -7.25, 100.5, 1e-10, 1e10, 123456.789, -0.999, 1e300, 5e-324 };
  int na = (int)(sizeof args / sizeof *args);
  for (int i = 0; i < na; i++) {
    double x = args[i];
    int e;
    double fr = frexp(x, &e);
    printf("x=%a sqrt %a fabs %a floor %a ceil %a trunc %a round %a frexp %a,%d ldexp %a\n", x, sqrt(fabs(x)), fabs(x),
           floor(x), ceil(x), trunc(x), round(x), fr, e, ldexp(x, 7));
    printf("  exp %a log %a sin %a cos %a tan %a atan %a fmod3 %a pow %a atan2 %a\n", exp(x), log(fabs(x)), sin(x), cos(x),
           tan(x), atan(x), fmod(x, 3.0), pow(fabs(x), 0.75), atan2(x, -1.5));
    mix(exp(x)); mix(sin(x)); mix(pow(x, 3.0));
  }
  for (int i = -200; i <= 200; i++) {            /* a sweep: checksums plus a few lines */
    double x = i * 0.0937 + 0.01;
    double v[10] = { exp(x * 0.5), log(x * x + 1e-3), sin(x), cos(x), tan(x * 0.3), atan(x), atan2(x, 1.0 - x),
                     pow(1.0 + x * x, 0.3), fmod(x * 7.5, 1.25), sqrt(x * x) };
    for (int k = 0; k < 10; k++) mix(v[k]);
    if (i % 40 == 0) printf("sweep %4d %.17g %.17g %.17g %.17g %.17g\n", i, v[0], v[1], v[2], v[5], v[7]);
  }
  printf("ldexp edge %a %a %a %a\n", ldexp(1.0, -1074), ldexp(0x1.8p0, -1075), ldexp(1.0, 1024), ldexp(0x1.fffffffffffffp-1, -1022));
  printf("fmod edge %a %a %a %a\n", fmod(1e300, 3.0), fmod(-5.5, 2.0), fmod(5e-324 * 7, 5e-324 * 2), fmod(1.0, INFINITY));
  printf("pow edge %a %a %a %a %a\n", pow(-2.0, 3.0), pow(-8.0, 1.0 / 3), pow(0.0, -1.0), pow(2.0, 0.5), pow(10.0, 22.0));
  /* long double (x87): arithmetic, sqrt, conversions */
  long double a = 1.0L, s = 0.0L, p = 1.0L;
  for (int i = 1; i <= 60; i++) {
    a = a * 3.0L / (i + 1.0L);
    s += a;
    p *= 1.0L + 1.0L / i;
    mixl(a); mixl(s); mixl(p);
  }
  printf("ld series %La %.21Lg %La\n", s, s, p);
  long double r2 = sqrtl(2.0L), r3 = sqrtl(3.0L);
  printf("ld sqrt %La %La %.21Lg %La\n", r2, r3, r2 * r3, r2 * r2 - 2.0L);
  long double e = 1.0L, t = 1.0L;
  for (int i = 1; i < 30; i++) { t /= i; e += t; }
  printf("ld e %La %.21Lg  (double) %a  (float) %a\n", e, e, (double)e, (double)(float)e);
  long double big = 1.0L;
  for (int i = 0; i < 70; i++) big *= 1e70L;
  printf("ld big %Le tiny %Le\n", big, 1.0L / big);
  long long ll = (long long)(e * 1e17L);
  unsigned long long ull = (unsigned long long)(r2 * 1e19L);
  printf("ld conv %lld %llu %La %La\n", ll, ull, (long double)ll, (long double)(-ll / 7));
  long double fx = fabsl(-r3) - 1.7L;
  printf("ld fabs %La cmp %d %d %d\n", fx, r2 < r3, r2 == r3, e > 2.718L);
  float f = 1.0f;
  for (int i = 0; i < 50; i++) f = f * 1.1f + sqrtf((float)i);
  printf("float %a %.9g\n", (double)f, (double)f);
  mixl(e); mix(f);
  printf("hash %016llx\n", (unsigned long long)h);
  return (int)(h & 0x7f);
}
