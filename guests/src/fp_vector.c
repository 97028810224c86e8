/* fp_vector: loops gcc auto-vectorises at -O2/-O3 (this guest is built with -O3 via
 * FP_VECTOR_FLAGS in the Makefile for its -O2 build): saxpy (mulps/addps), daxpy and dot
 * products (mulpd/addpd), integer sums and products (paddd/paddq/pmuludq), min/max, conversions. */
#include "x86ft.h"

#define N 1003
static float xf[N], yf[N];
static double xd[N], yd[N];
static int32_t xi[N], yi[N];
static int64_t xl[N];
static uint8_t xb[N], yb[N];

__attribute__((noinline)) static void saxpy(float a, const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }
__attribute__((noinline)) static void daxpy(double a, const double *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }
__attribute__((noinline)) static void vmul(const double *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] = y[i] * x[i] - 0.5; }
__attribute__((noinline)) static double ddot(const double *x, const double *y, int n) {
  double s0 = 0, s1 = 0;
  for (int i = 0; i + 1 < n; i += 2) { s0 += x[i] * y[i]; s1 += x[i + 1] * y[i + 1]; }
  return s0 + s1;
}
__attribute__((noinline)) static int32_t isum(const int32_t *x, int n) { int32_t s = 0; for (int i = 0; i < n; i++) s += x[i]; return s; }
__attribute__((noinline)) static void iadd(const int32_t *x, int32_t *y, int n) { for (int i = 0; i < n; i++) y[i] = y[i] + x[i] * 3 - (x[i] >> 2); }
__attribute__((noinline)) static int64_t lsum(const int64_t *x, int n) { int64_t s = 0; for (int i = 0; i < n; i++) s += x[i] ^ (x[i] << 3); return s; }
__attribute__((noinline)) static void bavg(const uint8_t *x, uint8_t *y, int n) { for (int i = 0; i < n; i++) y[i] = (uint8_t)((x[i] + y[i] + 1) >> 1); }
__attribute__((noinline)) static void i2f(const int32_t *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = (float)x[i] * 0.25f; }
__attribute__((noinline)) static void f2d(const float *x, double *y, int n) { for (int i = 0; i < n; i++) y[i] += (double)x[i]; }
__attribute__((noinline)) static void clampf(float *y, int n) { for (int i = 0; i < n; i++) y[i] = y[i] < -100.0f ? -100.0f : y[i] > 100.0f ? 100.0f : y[i]; }
__attribute__((noinline)) static int32_t imax(const int32_t *x, int n) { int32_t m = x[0]; for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m; return m; }
__attribute__((noinline)) static void dsqrt(double *y, int n) { for (int i = 0; i < n; i++) y[i] = __builtin_sqrt(y[i] * y[i] + 1.0); }

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  uint64_t r = 88172645463325252ull, h = 0;
  for (int i = 0; i < N; i++) {
    r ^= r << 13; r ^= r >> 7; r ^= r << 17;
    xf[i] = (float)(int32_t)(r & 0xfffff) / 1024.0f - 512.0f; yf[i] = (float)i * 0.125f;
    xd[i] = (double)(int64_t)(r >> 11) * 0x1p-40; yd[i] = 1.0 / (i + 1);
    xi[i] = (int32_t)r; yi[i] = (int32_t)(r >> 32); xl[i] = (int64_t)r; xb[i] = (uint8_t)r; yb[i] = (uint8_t)(r >> 8);
  }
  union { double d; uint64_t u; } cv; union { float f; uint32_t u; } fv;
  for (int k = 0; k < 4; k++) {
    saxpy(0.75f + k, xf, yf, N);
    daxpy(-1.25 + k, xd, yd, N);
    vmul(yd, xd, N);
    iadd(xi, yi, N);
    bavg(xb, yb, N);
    clampf(yf, N);
    printf("k%d saxpy %a %a daxpy %a %a vmul %a\n", k, (double)yf[0], (double)yf[N - 1], yd[1], yd[N - 2], xd[7]);
    printf("k%d ddot %a isum %d lsum %lld imax %d yb %u %u\n", k, ddot(xd, yd, N), isum(yi, N), (long long)lsum(xl, N), imax(yi, N), yb[3], yb[N - 1]);
  }
  i2f(yi, xf, N);
  f2d(xf, yd, N);
  dsqrt(xd, N);
  for (int i = 0; i < N; i++) {
    fv.f = xf[i]; h = h * 31 + fv.u; fv.f = yf[i]; h = h * 31 + fv.u;
    cv.d = xd[i]; h = h * 31 + cv.u; cv.d = yd[i]; h = h * 31 + cv.u;
    h = h * 31 + (uint32_t)yi[i] + yb[i];
  }
  printf("%a %a %.17g %.9g\n", xd[N / 2], yd[N / 3], xd[5], (double)xf[9]);
  printf("hash %016llx\n", (unsigned long long)h);
  return (int)(h & 0x7f);
}
