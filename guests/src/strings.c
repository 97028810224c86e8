/* strings: the libc string and memory functions, strto*, ctype, snprintf into buffers,
 * malloc/realloc/free. Comparison results are printed as signs only (the C standard
 * fixes only the sign; libcs differ in magnitude). */
#include "x86ft.h"

static int sgn(int x) { return (x > 0) - (x < 0); }

static uint32_t fnv(const void *p, size_t n) {
  const unsigned char *b = p;
  uint32_t h = 2166136261u;
  while (n--) { h ^= *b++; h *= 16777619u; }
  return h;
}

static unsigned char buf[1024], ref[1024];

static void fill(unsigned char *b, size_t n) { for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 7 + 3); }

/* byte-at-a-time model of memmove, to check the real one */
static void model_move(unsigned char *b, size_t d, size_t s, size_t n) {
  unsigned char tmp[1024];
  for (size_t i = 0; i < n; i++) tmp[i] = b[s + i];
  for (size_t i = 0; i < n; i++) b[d + i] = tmp[i];
}

static void memory_functions(void) {
  int bad = 0;
  uint32_t h = 0;
  /* overlapping memmove in both directions, all small offsets and lengths */
  for (size_t d = 0; d < 12; d++)
    for (size_t s = 0; s < 12; s++)
      for (size_t n = 0; n < 66; n += 5) {
        fill(buf, 80); fill(ref, 80);
        memmove(buf + d, buf + s, n);
        model_move(ref, d, s, n);
        if (memcmp(buf, ref, 80) != 0) bad++;
        h = h * 31 + fnv(buf, 80);
      }
  printf("memmove: hash %08x, mismatches %d\n", h, bad);
  /* memset/memcpy at every alignment */
  bad = 0; h = 0;
  for (size_t off = 0; off < 16; off++)
    for (size_t n = 0; n < 100; n += 9) {
      memset(buf, 0xEE, 128);
      memset(buf + off, (int)(off * 17 + n), n);
      for (size_t i = 0; i < 128; i++) {
        unsigned char want = (i >= off && i < off + n) ? (unsigned char)(off * 17 + n) : 0xEE;
        if (buf[i] != want) { bad++; break; }
      }
      fill(ref, 128);
      memcpy(buf + off, ref + (15 - off), n);
      h = h * 33 + fnv(buf, 128);
    }
  printf("memset/memcpy: hash %08x, mismatches %d\n", h, bad);
  unsigned char a[] = { 1, 2, 3, 200 }, b[] = { 1, 2, 3, 100 };
  printf("memcmp: %d %d %d %d\n", sgn(memcmp(a, b, 4)), sgn(memcmp(b, a, 4)), sgn(memcmp(a, b, 3)), sgn(memcmp(a, a, 0)));
  const char *hay = "the quick brown fox";
  printf("memchr: %d %d\n", (int)((const char *)memchr(hay, 'q', 19) - hay), memchr(hay, 'z', 19) == NULL);
}

static void string_functions(void) {
  static const char *words[] = { "", "a", "ab", "abc", "abd", "abcd", "B", "b", "\xff", "zebra", "Zebra", "ab\x80" };
  const int nw = sizeof words / sizeof words[0];
  int s = 0;
  for (int i = 0; i < nw; i++)
    for (int j = 0; j < nw; j++) {
      s = s * 3 + sgn(strcmp(words[i], words[j])) + 1;
      s = s * 3 + sgn(strncmp(words[i], words[j], 2)) + 1;
    }
  printf("strcmp/strncmp signature: %08x\n", (unsigned)s);
  char t[128];
  strcpy(t, "hello");
  strcat(t, ", ");
  strncat(t, "worldwide", 5);
  printf("strcpy/strcat/strncat: [%s] len %u\n", t, (unsigned)strlen(t));
  printf("strchr: [%s] [%s] %d; strrchr: [%s]\n", strchr(t, 'o'), strchr(t, '\0') == t + strlen(t) ? "end" : "bad",
         strchr(t, 'z') == NULL, strrchr(t, 'o'));
  printf("strstr: [%s] [%s] %d\n", strstr(t, "wor"), strstr(t, ""), strstr(t, "xyz") == NULL);
  char n[8];
  memset(n, 'X', sizeof n);
  strncpy(n, "abc", 6);
  printf("strncpy pads: %d %d %d %d %c%c\n", n[3], n[4], n[5], n[6] == 'X', n[0], n[2]);
  printf("strspn %u strcspn %u strnlen %u %u\n", (unsigned)strspn("aabbcx", "ab"), (unsigned)strcspn("hello world", " w"),
         (unsigned)strnlen("abcdef", 3), (unsigned)strnlen("ab", 10));
  char *d = strdup("duplicate me");
  printf("strdup: [%s]\n", d);
  free(d);
}

static void conversions(void) {
  static const char *nums[] = { "0", "42", "-42", "  +17xyz", "0x1F", "0777", "0b101", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "zz", "", "  -0x8000000000000000", "12abc", "-1" };
  for (unsigned i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    char *e1, *e2, *e3;
    long a = strtol(nums[i], &e1, 0);
    unsigned long long b = strtoull(nums[i], &e2, 10);
    long c = strtol(nums[i], &e3, 16);
    printf("%-24s strtol0=%ld(+%d) strtoull10=%llu(+%d) strtol16=%ld(+%d)\n", nums[i], a, (int)(e1 - nums[i]),
           b, (int)(e2 - nums[i]), c, (int)(e3 - nums[i]));
  }
  printf("strtol base36 'zz'=%ld base2 '1011'=%ld atoi(' -123x')=%d atol('99999999999')=%ld\n",
         strtol("zz", NULL, 36), strtol("1011", NULL, 2), atoi(" -123x"), atol("99999999999"));
  int cls = 0;
  for (int c = 0; c < 128; c++)
    cls = cls * 7 + (isdigit(c) ? 1 : 0) + (isalpha(c) ? 2 : 0) + (isspace(c) ? 4 : 0) + (isupper(c) ? 8 : 0) +
          (ispunct(c) ? 16 : 0) + (isxdigit(c) ? 32 : 0) + (isprint(c) ? 64 : 0) + toupper(c) + tolower(c);
  printf("ctype signature: %08x\n", (unsigned)cls);
  printf("abs: %d %ld %lld\n", abs(-5), labs(-7L), llabs(-9000000000LL));
}

static void formatting(void) {
  char small[10];
  int r = snprintf(small, sizeof small, "%s-%d-%x", "abcdef", 12345, 0xbeef);
  printf("snprintf truncates: [%s] returns %d\n", small, r);
  r = snprintf(NULL, 0, "%05d|%-6s|", 42, "ab");
  printf("snprintf(NULL,0) returns %d\n", r);
  char big[200];
  r = sprintf(big, "%d %u %x %o %c %s %%", -1, 3000000000u, 255, 8, 'Q', "str");
  printf("sprintf: [%s] %d\n", big, r);
  r = snprintf(small, 1, "xyz");
  printf("snprintf size 1: [%s] %d\n", small, r);
}

static void heap(void) {
  void *ptrs[64];
  uint32_t h = 0;
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 64; i++) {
      size_t n = (size_t)((i * 37 + round * 11) % 300 + 1);
      ptrs[i] = malloc(n);
      if (!ptrs[i]) { printf("malloc failed\n"); return; }
      memset(ptrs[i], i, n);
      h = h * 7 + (uint32_t)(((uintptr_t)ptrs[i] & 15) == 0);
    }
    for (int i = 0; i < 64; i += 2) { free(ptrs[i]); ptrs[i] = NULL; }
    for (int i = 1; i < 64; i += 2) {
      size_t n = (size_t)((i * 37 + round * 11) % 300 + 1);
      unsigned char *p = realloc(ptrs[i], n * 2);
      int ok = 1;
      for (size_t k = 0; k < n; k++) if (p[k] != (unsigned char)i) ok = 0;
      h = h * 5 + (uint32_t)ok;
      ptrs[i] = p;
    }
    for (int i = 1; i < 64; i += 2) free(ptrs[i]);
  }
  int *z = calloc(100, sizeof(int));
  int zs = 0;
  for (int i = 0; i < 100; i++) zs += z[i];
  free(z);
  printf("heap: alignment/contents signature %08x, calloc sum %d\n", h, zs);
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  memory_functions();
  string_functions();
  conversions();
  formatting();
  heap();
  return 0;
}
