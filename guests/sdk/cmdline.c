/* x86ft SDK: command-line helpers shared by the bare-metal and native builds. */
#include "x86ft.h"

unsigned long long x86ft_cmdline_number(const struct x86ft_bootinfo *bi, unsigned long long dflt) {
  const char *s = x86ft_cmdline(bi);
  for (; *s; s++) {
    if (*s >= '0' && *s <= '9') return strtoull(s, NULL, 0);
  }
  return dflt;
}
