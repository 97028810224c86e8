/* x86ft SDK libc: ctype, number parsing, qsort/bsearch, a first-fit heap, exit/abort. */
#include "x86ft.h"

/* ---- ctype (ASCII, "C" locale) ---- */
int isdigit(int c) { return c >= '0' && c <= '9'; }
int isxdigit(int c) { return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int isupper(int c) { return c >= 'A' && c <= 'Z'; }
int islower(int c) { return c >= 'a' && c <= 'z'; }
int isalpha(int c) { return isupper(c) || islower(c); }
int isalnum(int c) { return isalpha(c) || isdigit(c); }
int isspace(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
int isprint(int c) { return c >= 0x20 && c < 0x7f; }
int ispunct(int c) { return isprint(c) && c != ' ' && !isalnum(c); }
int toupper(int c) { return islower(c) ? c - 32 : c; }
int tolower(int c) { return isupper(c) ? c + 32 : c; }

int abs(int x) { return x < 0 ? -x : x; }
long labs(long x) { return x < 0 ? -x : x; }
long long llabs(long long x) { return x < 0 ? -x : x; }

/* ---- strto* ---- */
/* Parses like strtoull; *neg tells whether a '-' was seen; *over on overflow of `limit`. */
static unsigned long long parse_ull(const char *s, char **end, int base, int *neg, int *over,
                                    unsigned long long limit) {
  const char *p = s;
  unsigned long long v = 0;
  int any = 0;
  *neg = 0; *over = 0;
  while (isspace((unsigned char)*p)) p++;
  if (*p == '+' || *p == '-') { *neg = *p == '-'; p++; }
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
    p += 2; base = 16;
  } else if (base == 0) {
    base = p[0] == '0' ? 8 : 10;
  }
  if (base < 2 || base > 36) { if (end) *end = (char *)s; return 0; }
  for (;; p++) {
    int c = (unsigned char)*p, d;
    if (isdigit(c)) d = c - '0';
    else if (isalpha(c)) d = tolower(c) - 'a' + 10;
    else break;
    if (d >= base) break;
    any = 1;
    if (v > (limit - (unsigned)d) / (unsigned)base) *over = 1;
    else v = v * (unsigned)base + (unsigned)d;
  }
  if (end) *end = (char *)(any ? p : s);
  return v;
}

unsigned long long strtoull(const char *s, char **end, int base) {
  int neg, over;
  unsigned long long v = parse_ull(s, end, base, &neg, &over, ULLONG_MAX);
  if (over) return ULLONG_MAX;
  return neg ? -v : v;
}
unsigned long strtoul(const char *s, char **end, int base) { return strtoull(s, end, base); }

long long strtoll(const char *s, char **end, int base) {
  int neg, over;
  unsigned long long v = parse_ull(s, end, base, &neg, &over, ULLONG_MAX);
  if (neg) {
    if (over || v > (unsigned long long)LLONG_MAX + 1) return LLONG_MIN;
    return (long long)(0 - v);
  }
  if (over || v > LLONG_MAX) return LLONG_MAX;
  return (long long)v;
}
long strtol(const char *s, char **end, int base) { return strtoll(s, end, base); }
int atoi(const char *s) { return (int)strtol(s, NULL, 10); }
long atol(const char *s) { return strtol(s, NULL, 10); }

/* ---- qsort: introsort-free heapsort-fallback quicksort (median of three, insertion for small) ---- */
static void swap_bytes(char *a, char *b, size_t size) {
  while (size--) { char t = *a; *a++ = *b; *b++ = t; }
}

static void qs(char *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  while (n > 8) {
    char *lo = base, *hi = base + (n - 1) * size, *mid = base + (n / 2) * size;
    if (cmp(mid, lo) < 0) swap_bytes(mid, lo, size);
    if (cmp(hi, mid) < 0) { swap_bytes(hi, mid, size); if (cmp(mid, lo) < 0) swap_bytes(mid, lo, size); }
    /* pivot to position 1 */
    swap_bytes(mid, lo + size, size);
    char *piv = lo + size, *i = lo + size, *j = hi;
    for (;;) {
      do i += size; while (cmp(i, piv) < 0);
      do j -= size; while (cmp(piv, j) < 0);
      if (i >= j) break;
      swap_bytes(i, j, size);
    }
    swap_bytes(piv, j, size);
    size_t left = (size_t)(j - base) / size, right = n - left - 1;
    /* recurse on the smaller part, loop on the larger: O(log n) stack */
    if (left < right) { qs(base, left, size, cmp); base = j + size; n = right; }
    else { qs(j + size, right, size, cmp); n = left; }
  }
  for (size_t k = 1; k < n; k++)
    for (char *p = base + k * size; p > base && cmp(p - size, p) > 0; p -= size)
      swap_bytes(p - size, p, size);
}

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  if (n > 1 && size) qs(base, n, size, cmp);
}

void *bsearch(const void *key, const void *base, size_t n, size_t size,
              int (*cmp)(const void *, const void *)) {
  const char *b = base;
  while (n) {
    const char *mid = b + (n / 2) * size;
    int c = cmp(key, mid);
    if (c == 0) return (void *)mid;
    if (c > 0) { b = mid + size; n = n - n / 2 - 1; }
    else n /= 2;
  }
  return NULL;
}

/* ---- heap: first-fit free list over a static arena, blocks 16-byte aligned ---- */
#ifndef X86FT_HEAP_SIZE
#define X86FT_HEAP_SIZE (8u << 20)
#endif
struct block { size_t size; struct block *next; };   /* size includes the header; 16 bytes */
/* not cleared by crt0 (section .bss.noinit): malloc never relies on zeroed memory */
static unsigned char heap[X86FT_HEAP_SIZE] __attribute__((aligned(16), section(".bss.noinit")));
static size_t heap_top;
static struct block *free_list;

void *malloc(size_t n) {
  if (n > X86FT_HEAP_SIZE) return NULL;
  size_t need = (n + sizeof(struct block) + 15) & ~(size_t)15;
  for (struct block **pp = &free_list; *pp; pp = &(*pp)->next) {
    struct block *b = *pp;
    if (b->size >= need) {
      if (b->size - need >= 64) {   /* split */
        struct block *rest = (struct block *)((char *)b + need);
        rest->size = b->size - need;
        rest->next = b->next;
        *pp = rest;
        b->size = need;
      } else {
        *pp = b->next;
      }
      return b + 1;
    }
  }
  if (heap_top + need > sizeof heap) return NULL;
  struct block *b = (struct block *)(heap + heap_top);
  heap_top += need;
  b->size = need;
  return b + 1;
}

void free(void *p) {
  if (!p) return;
  struct block *b = (struct block *)p - 1;
  /* address-ordered insert with coalescing */
  struct block **pp = &free_list;
  while (*pp && *pp < b) pp = &(*pp)->next;
  b->next = *pp;
  *pp = b;
  if (b->next && (char *)b + b->size == (char *)b->next) { b->size += b->next->size; b->next = b->next->next; }
  if (pp != &free_list) {
    struct block *prev = (struct block *)((char *)pp - offsetof(struct block, next));
    if ((char *)prev + prev->size == (char *)b) { prev->size += b->size; prev->next = b->next; }
  }
}

void *calloc(size_t n, size_t size) {
  if (size && n > (size_t)-1 / size) return NULL;
  void *p = malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *realloc(void *p, size_t n) {
  if (!p) return malloc(n);
  if (n == 0) { free(p); return NULL; }
  struct block *b = (struct block *)p - 1;
  size_t have = b->size - sizeof(struct block);
  if (have >= n) return p;
  void *q = malloc(n);
  if (q) { memcpy(q, p, have); free(p); }
  return q;
}

/* ---- exit ---- */
void exit(int status) { x86ft_exit(status); }
void abort(void) { x86ft_exit(134); }   /* 128 + SIGABRT, like a host shell reports it */
