/* hello: the smallest guest — console output, command line, exit status. */
#include "x86ft.h"

int main(const struct x86ft_bootinfo *bi) {
  printf("hello from x86ft guest\n");
  printf("cmdline: [%s]\n", x86ft_cmdline(bi));
  puts("puts works");
  putchar('!');
  putchar('\n');
  return 42;
}
