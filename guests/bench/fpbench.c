/* fpbench (benchmark): a floating-point kernel — a damped mass-spring chain (mulsd/addsd/
 * divsd/sqrtsd) plus a float complex iteration. Iterations: the first number on the command
 * line, else ITERATIONS (1M, a few hundred million instructions). */
#include "x86ft.h"

#ifndef ITERATIONS
#define ITERATIONS 1000000ull
#endif

#define M 16
static __attribute__((noinline)) double run(uint64_t n, float *fout) {
  double x[M], v[M];
  for (int i = 0; i < M; i++) { x[i] = i * 0.1; v[i] = 0; }
  float zr = 0, zi = 0;
  for (uint64_t it = 0; it < n; it++) {
    for (int i = 1; i < M - 1; i++) {
      double f = (x[i - 1] - 2 * x[i] + x[i + 1]) * 0.5 - v[i] * 0.01;
      v[i] += f * 0.01;
    }
    for (int i = 1; i < M - 1; i++) x[i] += v[i] * 0.01;
    x[0] = sqrt(1.0 + (double)(it & 1023) * 1e-3) - 1.0;
    float t = zr * zr - zi * zi - 0.745f;
    zi = 2 * zr * zi + 0.113f;
    zr = t;
    if (zr * zr + zi * zi > 4.0f) { zr = (float)x[3]; zi = 0; }
  }
  *fout = zr;
  double s = 0;
  for (int i = 0; i < M; i++) s += x[i] * (i + 1) + v[i];
  return s;
}

int main(const struct x86ft_bootinfo *bi) {
  uint64_t n = x86ft_cmdline_number(bi, ITERATIONS);
  float z;
  double r = run(n, &z);
  printf("fpbench: %llu iterations, result %.17g %a, z %a\n", (unsigned long long)n, r, r, (double)z);
  union { double d; uint64_t u; } b = { r };
  return (int)(b.u & 0x3f);
}
