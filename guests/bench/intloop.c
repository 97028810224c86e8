/* intloop (benchmark): a tight integer loop — add, xor, shift, compare, branch.
 * Iterations: the first number on the command line, else ITERATIONS (100M). */
#include "x86ft.h"

#ifndef ITERATIONS
#define ITERATIONS 100000000ull
#endif

static __attribute__((noinline)) uint64_t loop(uint64_t n) {
  uint64_t a = 0x12345678, b = 0x9abcdef, c = 0;
  for (uint64_t i = 0; i < n; i++) {
    a += b ^ i;
    b = (b << 1) ^ (a >> 3);
    if ((a & 0xff) < 0x80) c++;
  }
  return a ^ b ^ c;
}

int main(const struct x86ft_bootinfo *bi) {
  uint64_t n = x86ft_cmdline_number(bi, ITERATIONS);
  uint64_t r = loop(n);
  printf("intloop: %llu iterations, result %016llx\n", (unsigned long long)n, (unsigned long long)r);
  return (int)(r & 0x3f);
}
