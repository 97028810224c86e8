/* format: printf conversions, flags, widths, precisions and length modifiers — the guest's
 * printf (SDK) must print exactly what the host's libc prints. */
#include "x86ft.h"

/* deliberate oddities below (%5%, NULL for %s) */
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-overflow"

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  static const long long ivals[] = { 0, 1, -1, 7, -7, 42, 255, 256, -255, 65535, 2147483647, -2147483647 - 1,
    4294967295ll, 123456789012345ll, -123456789012345ll, 9223372036854775807ll, -9223372036854775807ll - 1 };
  static const char *iflags[] = { "%d", "%i", "%5d", "%-5d|", "%05d", "%+d", "% d", "%+05d", "%-+6d|", "%.3d",
    "%8.3d", "%-8.3d|", "%08.3d", "%.0d", "%5.0d", "%+.0d", "% 07d", "%+ d", "%0-7d|", "%1d" };
  static const char *uflags[] = { "%u", "%x", "%X", "%o", "%#x", "%#X", "%#o", "%#10x", "%#010x", "%-#10x|", "%.5x",
    "%#.5x", "%#.0x", "%.0x", "%#.0o", "%#5o", "%010o", "%+u", "% x", "%#.3o", "%012X", "%-12o|" };
  unsigned nlines = 0;
  for (unsigned k = 0; k < sizeof iflags / sizeof *iflags; k++) {
    printf("[%s]", iflags[k]);
    for (unsigned i = 0; i < sizeof ivals / sizeof *ivals; i++) { putchar(' '); printf(iflags[k], (int)ivals[i]); }
    putchar('\n');
    nlines++;
  }
  for (unsigned k = 0; k < sizeof uflags / sizeof *uflags; k++) {
    printf("[%s]", uflags[k]);
    for (unsigned i = 0; i < sizeof ivals / sizeof *ivals; i++) { putchar(' '); printf(uflags[k], (unsigned)ivals[i]); }
    putchar('\n');
    nlines++;
  }
  /* length modifiers */
  for (unsigned i = 0; i < sizeof ivals / sizeof *ivals; i++) {
    long long v = ivals[i];
    printf("hh:%hhd %hhu %hhx h:%hd %hu %hx l:%ld %lu %lx ll:%lld %llu %llo z:%zu %zd j:%jd %ju t:%td\n",
           (signed char)v, (unsigned char)v, (unsigned char)v, (short)v, (unsigned short)v, (unsigned short)v,
           (long)v, (unsigned long)v, (unsigned long)v, v, (unsigned long long)v, (unsigned long long)v,
           (size_t)v, (long)v, (intmax_t)v, (uintmax_t)v, (ptrdiff_t)v);
    printf("widths: [%20lld] [%-20lld] [%020lld] [%+.25lld] [%#llx] [%#llo]\n", v, v, v, v, (unsigned long long)v,
           (unsigned long long)v);
    nlines += 2;
  }
  /* int arguments with hh/h truncate the promoted value */
  printf("trunc: %hhd %hhu %hd %hu %hhx\n", 300, 300, 70000, 70000, -1);
  /* star width and precision, including negative ones */
  printf("stars: [%*d] [%-*d] [%*d] [%.*d] [%.*d] [%*.*d] [%*s] [%.*s]\n", 6, 42, 6, 42, -6, 42, 4, 7, -1, 7, 8, 3, 5, 6, "ab", 2, "abcdef");
  /* strings and chars */
  const char *strs[] = { "", "a", "hello", "hello, world" };
  for (unsigned i = 0; i < 4; i++)
    printf("s: [%s] [%8s] [%-8s] [%.3s] [%8.3s] [%-8.3s] [%.0s]\n", strs[i], strs[i], strs[i], strs[i], strs[i], strs[i], strs[i]);
  printf("c: [%c] [%3c] [%-3c] [%c%c%c]\n", 'x', 'y', 'z', 'a', 0x62, 'c' + 256);
  printf("null: [%s] [%10s] [%.3s] [%p] [%10p] [%-10p]\n", (char *)NULL, (char *)NULL, (char *)NULL, (void *)0, (void *)0, (void *)0);
  printf("pointers: [%p] [%20p] [%-20p]\n", (void *)0x1234, (void *)0xdeadbeefull, (void *)0xffffffffffffffffull);
  int n1 = 0; long n2 = 0;
  printf("percent: %% [%5%] count%n here%ln\n", &n1, &n2);
  printf("counted: %d %ld\n", n1, n2);
  int r = printf("return value test %d %s\n", 12345, "xyz");
  printf("printf returned %d; lines %u\n", r, nlines);
  char buf[64];
  for (int cap = 0; cap <= 12; cap += 3) {
    memset(buf, '#', sizeof buf);
    int rr = snprintf(buf, (size_t)cap, "%d-%s", -1234567, "tail");
    buf[sizeof buf - 1] = 0;
    printf("snprintf cap %2d -> %d [%.14s]\n", cap, rr, buf);
  }
  return 7;
}
