/* fp_kernels: double-precision kernels — n-body steps, an FFT of a fixed signal, a matrix
 * multiply — and a float n-body; results printed with %a and %.17g so any bit shows. */
#include "x86ft.h"

#define NB 5
struct body { double x, y, z, vx, vy, vz, m; };

static void nbody_step(struct body *b, int n, double dt) {
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      double d2 = dx * dx + dy * dy + dz * dz;
      double mag = dt / (d2 * sqrt(d2));
      b[i].vx -= dx * b[j].m * mag; b[i].vy -= dy * b[j].m * mag; b[i].vz -= dz * b[j].m * mag;
      b[j].vx += dx * b[i].m * mag; b[j].vy += dy * b[i].m * mag; b[j].vz += dz * b[i].m * mag;
    }
  for (int i = 0; i < n; i++) { b[i].x += dt * b[i].vx; b[i].y += dt * b[i].vy; b[i].z += dt * b[i].vz; }
}
static double energy(const struct body *b, int n) {
  double e = 0;
  for (int i = 0; i < n; i++) {
    e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
    for (int j = i + 1; j < n; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      e -= b[i].m * b[j].m / sqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

struct fbody { float x, y, vx, vy, m; };
static void fnbody_step(struct fbody *b, int n, float dt) {
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      float dx = b[i].x - b[j].x, dy = b[i].y - b[j].y;
      float d2 = dx * dx + dy * dy + 0.01f;
      float mag = dt / (d2 * sqrtf(d2));
      b[i].vx -= dx * b[j].m * mag; b[i].vy -= dy * b[j].m * mag;
      b[j].vx += dx * b[i].m * mag; b[j].vy += dy * b[i].m * mag;
    }
  for (int i = 0; i < n; i++) { b[i].x += dt * b[i].vx; b[i].y += dt * b[i].vy; }
}

#define FN 256
static double re[FN], im[FN];
static void fft(double *xr, double *xi, int n) {
  for (int i = 1, j = 0; i < n; i++) {           /* bit reversal */
    int bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { double t = xr[i]; xr[i] = xr[j]; xr[j] = t; t = xi[i]; xi[i] = xi[j]; xi[j] = t; }
  }
  for (int len = 2; len <= n; len <<= 1) {
    double ang = -2 * M_PI / len, wr = cos(ang), wi = sin(ang);
    for (int i = 0; i < n; i += len) {
      double cr = 1, ci = 0;
      for (int k = 0; k < len / 2; k++) {
        double ur = xr[i + k], ui = xi[i + k];
        double vr = xr[i + k + len / 2] * cr - xi[i + k + len / 2] * ci;
        double vi = xr[i + k + len / 2] * ci + xi[i + k + len / 2] * cr;
        xr[i + k] = ur + vr; xi[i + k] = ui + vi;
        xr[i + k + len / 2] = ur - vr; xi[i + k + len / 2] = ui - vi;
        double t = cr * wr - ci * wi; ci = cr * wi + ci * wr; cr = t;
      }
    }
  }
}

#define MN 24
static double A[MN][MN], B[MN][MN], C[MN][MN];

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  uint64_t h = 0;
  union { double d; uint64_t u; } cv;
#define MIX(v) (cv.d = (v), h = h * 0x100000001b3ull ^ cv.u)
  struct body b[NB] = {
    { 0, 0, 0, 0, 0, 0, 39.47841760435743 },
    { 4.84143144246472090, -1.16032004402742839, -0.103622044471123109, 0.606326392995832, 2.81198684491626, -0.02521836165988763, 0.037693674870389 },
    { 8.34336671824457987, 4.12479856412430479, -0.403523417114321381, -1.01077434617730, 1.82566237123041, 0.008415761376584, 0.011286326131968 },
    { 12.8943695621391310, -15.1111514016986312, -0.223307578892655734, 1.08279100644154, 0.868713018169608, -0.01083270493721, 0.001723724843496 },
    { 15.3796971148509165, -25.9193146099879641, 0.179258772950371181, 0.979090732243898, 0.594698998647676, -0.034755955504078, 0.002033686869924 },
  };
  printf("nbody e0 %.17g %a\n", energy(b, NB), energy(b, NB));
  for (int s = 1; s <= 2000; s++) {
    nbody_step(b, NB, 0.01);
    if (s % 250 == 0) { double e = energy(b, NB); MIX(e); printf("nbody step %4d e %.17g %a x1 %a\n", s, e, e, b[1].x); }
  }
  for (int i = 0; i < NB; i++) printf("body %d %a %a %a %.17g\n", i, b[i].x, b[i].y, b[i].z, b[i].vx);

  struct fbody fb[8];
  for (int i = 0; i < 8; i++) { fb[i].x = (float)cos(i * 0.7) * (1 + i); fb[i].y = (float)sin(i * 0.7) * (1 + i); fb[i].vx = -fb[i].y * 0.1f; fb[i].vy = fb[i].x * 0.1f; fb[i].m = 1.0f + i * 0.25f; }
  for (int s = 1; s <= 1000; s++) {
    fnbody_step(fb, 8, 0.005f);
    if (s % 200 == 0) { printf("fnbody %4d %a %a %.9g\n", s, (double)fb[0].x, (double)fb[7].vy, (double)fb[3].y); MIX(fb[5].x); }
  }

  for (int i = 0; i < FN; i++) { re[i] = sin(2 * M_PI * 5 * i / FN) + 0.5 * cos(2 * M_PI * 17 * i / FN) + (i % 7) * 0.01; im[i] = 0; }
  fft(re, im, FN);
  for (int i = 0; i < FN; i++) { MIX(re[i]); MIX(im[i]); }
  for (int i = 0; i < 24; i++) printf("fft[%2d] %a %a %.17g\n", i, re[i], im[i], sqrt(re[i] * re[i] + im[i] * im[i]));
  printf("fft[17] %.17g fft[5] %.17g\n", re[17], im[5]);

  for (int i = 0; i < MN; i++) for (int j = 0; j < MN; j++) { A[i][j] = 1.0 / (i + j + 1); B[i][j] = (i == j) + 0.001 * (i * MN + j) - 0.3 * ((i * 7 + j * 3) % 5); }
  for (int i = 0; i < MN; i++) for (int j = 0; j < MN; j++) { double s = 0; for (int k = 0; k < MN; k++) s += A[i][k] * B[k][j]; C[i][j] = s; }
  double tr = 0;
  for (int i = 0; i < MN; i++) { tr += C[i][i]; for (int j = 0; j < MN; j++) MIX(C[i][j]); }
  for (int i = 0; i < MN; i += 5) printf("C[%d] %a %a %.17g\n", i, C[i][0], C[i][MN - 1], C[i][i]);
  printf("trace %.17g %a\n", tr, tr);
  /* float dot products and divisions */
  float fs = 0;
  for (int i = 1; i <= 1000; i++) fs += 1.0f / (float)i * (i & 1 ? 1.0f : -1.0f);
  printf("float alt harmonic %a %.9g\n", (double)fs, (double)fs);
  MIX(fs);
  printf("hash %016llx\n", (unsigned long long)h);
  return (int)(h & 0x7f);
}
