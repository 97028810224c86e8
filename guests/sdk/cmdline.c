/* x86ft SDK: command-line helpers shared by the bare-metal and native builds. */
#include "x86ft.h"

unsigned long long x86ft_cmdline_number(const struct x86ft_bootinfo *bi, unsigned long long dflt) {
  const char *s = x86ft_cmdline(bi);
  for (; *s; s++) {
    if (*s >= '0' && *s <= '9') return strtoull(s, NULL, 0);
  }
  return dflt;
}

unsigned long long x86ft_cmdline_word_number(const struct x86ft_bootinfo *bi, unsigned n, unsigned long long dflt) {
  const char *s = x86ft_cmdline(bi);
  if (!s) return dflt;
  while (*s == ' ') s++;
  for (; n > 0; n--) {
    while (*s && *s != ' ') s++;
    while (*s == ' ') s++;
  }
  if (*s < '0' || *s > '9') return dflt;
  unsigned long long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (unsigned long long)(*s++ - '0');
  return v;
}
