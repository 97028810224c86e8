/* sort: qsort (SDK) plus own merge sort, heap sort, shell sort and radix sort over
 * pseudo-random data of several shapes; every result is checked and checksummed.
 * Comparators are total orders, so the result does not depend on the qsort algorithm. */
#include "x86ft.h"

#define N 2000

static uint32_t rng = 2463534242u;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

static int32_t src[N], a[N], tmp[N];

static int cmp_i32(const void *x, const void *y) {
  int32_t p = *(const int32_t *)x, q = *(const int32_t *)y;
  return (p > q) - (p < q);
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

struct rec { int key, id; };
static int cmp_rec(const void *x, const void *y) {
  const struct rec *p = x, *q = y;
  if (p->key != q->key) return p->key < q->key ? 1 : -1;   /* key descending */
  return (p->id > q->id) - (p->id < q->id);               /* then id ascending */
}

static void merge_sort(int32_t *v, int32_t *t, int n) {
  if (n < 2) return;
  int h = n / 2;
  merge_sort(v, t, h);
  merge_sort(v + h, t, n - h);
  int i = 0, j = h, k = 0;
  while (i < h && j < n) t[k++] = v[j] < v[i] ? v[j++] : v[i++];
  while (i < h) t[k++] = v[i++];
  while (j < n) t[k++] = v[j++];
  for (k = 0; k < n; k++) v[k] = t[k];
}

static void sift(int32_t *v, int root, int n) {
  for (;;) {
    int c = 2 * root + 1;
    if (c >= n) return;
    if (c + 1 < n && v[c + 1] > v[c]) c++;
    if (v[root] >= v[c]) return;
    int32_t x = v[root]; v[root] = v[c]; v[c] = x;
    root = c;
  }
}

static void heap_sort(int32_t *v, int n) {
  for (int i = n / 2 - 1; i >= 0; i--) sift(v, i, n);
  for (int e = n - 1; e > 0; e--) { int32_t x = v[0]; v[0] = v[e]; v[e] = x; sift(v, 0, e); }
}

static void shell_sort(int32_t *v, int n) {
  static const int gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
  for (unsigned g = 0; g < sizeof gaps / sizeof *gaps; g++) {
    int gap = gaps[g];
    for (int i = gap; i < n; i++) {
      int32_t x = v[i];
      int j = i;
      for (; j >= gap && v[j - gap] > x; j -= gap) v[j] = v[j - gap];
      v[j] = x;
    }
  }
}

static void radix_sort(int32_t *v, int32_t *t, int n) {
  /* LSD radix on the sign-flipped value, 8 bits at a time */
  for (int shift = 0; shift < 32; shift += 8) {
    int count[257] = { 0 };
    for (int i = 0; i < n; i++) count[((((uint32_t)v[i]) ^ 0x80000000u) >> shift & 255) + 1]++;
    for (int d = 0; d < 256; d++) count[d + 1] += count[d];
    for (int i = 0; i < n; i++) t[count[(((uint32_t)v[i]) ^ 0x80000000u) >> shift & 255]++] = v[i];
    memcpy(v, t, (size_t)n * sizeof *v);
  }
}

static uint32_t checksum(const int32_t *v, int n) {
  uint32_t h = 0;
  for (int i = 0; i < n; i++) h = (h ^ (uint32_t)v[i]) * 16777619u + (uint32_t)i;
  return h;
}

static int sorted(const int32_t *v, int n) {
  for (int i = 1; i < n; i++) if (v[i - 1] > v[i]) return 0;
  return 1;
}

static void make_data(int shape, int n) {
  for (int i = 0; i < n; i++) {
    switch (shape) {
      case 0: src[i] = (int32_t)next(); break;                       /* random */
      case 1: src[i] = (int32_t)(next() % 50) - 25; break;           /* many duplicates */
      case 2: src[i] = i * 3 - n; break;                             /* ascending */
      case 3: src[i] = n - i * 7; break;                             /* descending */
      case 4: src[i] = (i % 100 == 0) ? (int32_t)next() : i; break;  /* nearly sorted */
      default: src[i] = (i & 1) ? INT32_MIN + i : INT32_MAX - i; break; /* extremes */
    }
  }
}

int main(const struct x86ft_bootinfo *bi) {
  static const char *shapes[] = { "random", "dups", "ascending", "descending", "nearly", "extremes" };
  static const int sizes[] = { 0, 1, 2, 3, 10, 100, N };
  int bad = 0;
  for (int shape = 0; shape < 6; shape++) {
    for (unsigned s = 0; s < sizeof sizes / sizeof *sizes; s++) {
      int n = sizes[s];
      if (n >= N && shape >= 2) n = N / 4;   /* keep the run short */
      make_data(shape, n);
      uint32_t sums[5];
      memcpy(a, src, sizeof(int32_t) * (size_t)n); qsort(a, (size_t)n, sizeof *a, cmp_i32); sums[0] = checksum(a, n); bad += !sorted(a, n);
      memcpy(a, src, sizeof(int32_t) * (size_t)n); merge_sort(a, tmp, n); sums[1] = checksum(a, n); bad += !sorted(a, n);
      memcpy(a, src, sizeof(int32_t) * (size_t)n); heap_sort(a, n); sums[2] = checksum(a, n); bad += !sorted(a, n);
      memcpy(a, src, sizeof(int32_t) * (size_t)n); shell_sort(a, n); sums[3] = checksum(a, n); bad += !sorted(a, n);
      memcpy(a, src, sizeof(int32_t) * (size_t)n); radix_sort(a, tmp, n); sums[4] = checksum(a, n); bad += !sorted(a, n);
      for (int k = 1; k < 5; k++) if (sums[k] != sums[0]) bad++;
      if (n > 0)
        printf("%-10s n=%4d checksum %08x min %d median %d max %d\n", shapes[shape], n, sums[0], a[0], a[n / 2], a[n - 1]);
    }
  }
  /* qsort of strings and of structs with a two-key order, then bsearch */
  static const char *names[] = { "pear", "apple", "fig", "banana", "cherry", "date", "kiwi", "lemon", "mango", "apple2", "Apple", "" };
  const char *sn[12];
  memcpy(sn, names, sizeof names);
  qsort(sn, 12, sizeof *sn, cmp_str);
  printf("names:");
  for (int i = 0; i < 12; i++) printf(" [%s]", sn[i]);
  printf("\n");
  const char *key = "kiwi";
  const char **hit = bsearch(&key, sn, 12, sizeof *sn, cmp_str);
  printf("bsearch kiwi -> index %d\n", hit ? (int)(hit - sn) : -1);
  static struct rec recs[500];
  for (int i = 0; i < 500; i++) { recs[i].key = (int)(next() % 20); recs[i].id = i; }
  qsort(recs, 500, sizeof *recs, cmp_rec);
  uint32_t h = 0;
  for (int i = 0; i < 500; i++) h = h * 31 + (uint32_t)(recs[i].key * 1000 + recs[i].id);
  printf("records: first (%d,%d) last (%d,%d) hash %08x\n", recs[0].key, recs[0].id, recs[499].key, recs[499].id, h);
  int32_t probe = a[0];
  (void)probe;
  printf("sort errors: %d\n", bad);
  (void)bi;
  return bad;
}
