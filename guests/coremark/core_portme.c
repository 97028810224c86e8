/* x86ft's CoreMark port: timing, console, entry point (see core_portme.h for the three targets).
 * CoreMark's own sources (core_main.c …) are compiled with -Dmain=coremark_main; the entry here
 * turns the command line into CoreMark's argv, and the exit status says whether CoreMark found
 * a CRC error against its table of known values (1) or not (0). */
#include "coremark.h"

#ifdef X86FT_MULTIBOOT
#include <stdarg.h>
#else
#include "x86ft.h"
#endif
#ifdef X86FT_NATIVE
#include <time.h>
#endif

int coremark_main(int argc, char *argv[]);

ee_u32 default_num_contexts = 1;

/* CRC or data-type errors CoreMark printed (its "ERROR!" lines other than the 10-second rule). */
static int coremark_errors;

static int has_prefix(const char *s, const char *p) {
  while (*p) if (*s++ != *p++) return 0;
  return 1;
}

static void note_errors(const char *fmt) {
  for (const char *s = fmt; *s; s++) {
    if (has_prefix(s, "ERROR") && !has_prefix(s, "ERROR! Must execute for at least 10 secs")) { coremark_errors++; return; }
  }
}

/* ---------------------------------------------------------------- time */

static CORE_TICKS start_time_val, stop_time_val;

#if defined(X86FT_NATIVE)
static CORE_TICKS now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (CORE_TICKS)t.tv_sec * 1000000000u + (CORE_TICKS)t.tv_nsec;
}
#elif defined(X86FT_MULTIBOOT)
static void mark(const char *what);
static CORE_TICKS now(void) { return 0; }
#else
/* x86ft: RDTSC is nanoseconds of guest time (host monotonic time under run/record, the log's under replay). */
static CORE_TICKS now(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((CORE_TICKS)hi << 32) | lo;
}
#endif

void start_time(void) {
#ifdef X86FT_MULTIBOOT
  mark("start");
#endif
  start_time_val = now();
}

void stop_time(void) {
  stop_time_val = now();
#ifdef X86FT_MULTIBOOT
  mark("stop");
#endif
}

CORE_TICKS get_time(void) { return stop_time_val - start_time_val; }

secs_ret time_in_secs(CORE_TICKS ticks) { return (secs_ret)ticks / EE_TICKS_PER_SEC; }

/* ---------------------------------------------------------------- init, fini */

void portable_init(core_portable *p, int *argc, char *argv[]) {
  (void)argc; (void)argv;
  if (sizeof(ee_ptr_int) != sizeof(ee_u8 *)) ee_printf("ERROR! ee_ptr_int must hold a pointer\n");
  if (sizeof(ee_u32) != 4) ee_printf("ERROR! ee_u32 must be 32 bits\n");
  p->portable_id = 1;
}

void portable_fini(core_portable *p) { p->portable_id = 0; }

/* ---------------------------------------------------------------- command line -> argv */

#define MAX_ARGS 16
static char args_buf[256];
static char *argv_buf[MAX_ARGS + 1];

static int split_args(const char *cmdline) {
  int argc = 0;
  size_t n = 0;
  argv_buf[argc++] = (char *)"coremark";
  while (*cmdline && argc < MAX_ARGS) {
    while (*cmdline == ' ') cmdline++;
    if (!*cmdline) break;
    argv_buf[argc++] = &args_buf[n];
    while (*cmdline && *cmdline != ' ' && n < sizeof args_buf - 1) args_buf[n++] = *cmdline++;
    while (*cmdline && *cmdline != ' ') cmdline++; /* an over-long argument is cut */
    args_buf[n++] = 0;
    if (n >= sizeof args_buf - 1) break;
  }
  argv_buf[argc] = 0;
  return argc;
}

#ifndef X86FT_MULTIBOOT
/* ---------------------------------------------------------------- boot contract and host entry */

int ee_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  note_errors(fmt);
  int n = vprintf(fmt, ap);
  va_end(ap);
  return n;
}

int main(const struct x86ft_bootinfo *bi) {
  int argc = split_args(x86ft_cmdline(bi));
  coremark_main(argc, argv_buf);
  return coremark_errors ? 1 : 0;
}

#else
/* ---------------------------------------------------------------- 32-bit multiboot kernel (v86) */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc_com1(char c) {
  while (!(inb(0x3fd) & 0x20)) { }
  outb(0x3f8, (uint8_t)c);
}

static void puts_com1(const char *s) { while (*s) putc_com1(*s++); }

static void mark(const char *what) { puts_com1("coremark-mark: "); puts_com1(what); putc_com1('\n'); }

void *memset(void *d, int c, size_t n) { uint8_t *p = d; while (n--) *p++ = (uint8_t)c; return d; }
void *memcpy(void *restrict d, const void *restrict s, size_t n) {
  uint8_t *p = d; const uint8_t *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static void put_u32(uint32_t v, unsigned base, int width, char pad) {
  char tmp[12];
  int n = 0;
  do { tmp[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
  while (n < width--) putc_com1(pad);
  while (n) putc_com1(tmp[--n]);
}

/* The conversions CoreMark's reports use: %d %u %x %lu %ld %s %c %f, width and '0'. */
int ee_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  note_errors(fmt);
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') { putc_com1(*f); continue; }
    f++;
    char pad = ' ';
    int width = 0;
    if (*f == '0') { pad = '0'; f++; }
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    while (*f == 'l') f++;
    switch (*f) {
      case 'd': { int32_t v = va_arg(ap, int32_t); if (v < 0) { putc_com1('-'); v = -v; } put_u32((uint32_t)v, 10, width, pad); break; }
      case 'u': put_u32(va_arg(ap, uint32_t), 10, width, pad); break;
      case 'x': put_u32(va_arg(ap, uint32_t), 16, width, pad); break;
      case 's': puts_com1(va_arg(ap, const char *)); break;
      case 'c': putc_com1((char)va_arg(ap, int)); break;
      case 'f': {
        double v = va_arg(ap, double);
        if (v < 0) { putc_com1('-'); v = -v; }
        if (v >= 4294967295.0) { puts_com1("(big)"); break; }
        uint32_t ip = (uint32_t)v;
        put_u32(ip, 10, 0, ' ');
        putc_com1('.');
        put_u32((uint32_t)((v - ip) * 1000000.0), 10, 6, '0');
        break;
      }
      case '%': putc_com1('%'); break;
      default: putc_com1('%'); putc_com1(*f); break;
    }
  }
  va_end(ap);
  return 0;
}

/* Multiboot information (Multiboot 0.6.96 §3.3): flags bit 2 = cmdline valid, cmdline at offset 16. */
void mb_main(uint32_t magic, const uint32_t *info) {
  const char *cmdline = "";
  if (magic == 0x2BADB002u && (info[0] & 4)) cmdline = (const char *)(uintptr_t)info[4];
  int argc = split_args(cmdline);
  coremark_main(argc, argv_buf);
  puts_com1(coremark_errors ? "coremark-exit: 1\n" : "coremark-exit: 0\n");
}
#endif
