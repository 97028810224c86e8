/* x86ft guest SDK: the one header a guest includes.
 * Bare-metal build: declares the SDK's own libc (string, stdio over COM1, stdlib, setjmp)
 * and the machine helpers (port I/O, control registers, IDT). Native build (-DX86FT_NATIVE):
 * maps the same names onto the host's libc, so one .c file compiles both ways. */
#ifndef X86FT_H
#define X86FT_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#ifdef X86FT_NATIVE
#include <limits.h>
#else
/* limits.h: gcc's own limits.h wants a libc one behind it, so define the values here. */
#define CHAR_BIT 8
#define SCHAR_MIN (-SCHAR_MAX - 1)
#define SCHAR_MAX __SCHAR_MAX__
#define UCHAR_MAX (SCHAR_MAX * 2 + 1)
#define CHAR_MIN SCHAR_MIN
#define CHAR_MAX SCHAR_MAX
#define SHRT_MIN (-SHRT_MAX - 1)
#define SHRT_MAX __SHRT_MAX__
#define USHRT_MAX (SHRT_MAX * 2 + 1)
#define INT_MIN (-INT_MAX - 1)
#define INT_MAX __INT_MAX__
#define UINT_MAX (INT_MAX * 2U + 1U)
#define LONG_MIN (-LONG_MAX - 1L)
#define LONG_MAX __LONG_MAX__
#define ULONG_MAX (LONG_MAX * 2UL + 1UL)
#define LLONG_MIN (-LLONG_MAX - 1LL)
#define LLONG_MAX __LONG_LONG_MAX__
#define ULLONG_MAX (LLONG_MAX * 2ULL + 1ULL)
#endif

/* Boot-info block (docs-boot.md), at 0x1000 on the machine. */
struct x86ft_bootinfo {
  char magic[8];          /* "X86FTBI1" */
  uint32_t version;
  uint32_t ndevices;
  uint64_t ram_size;
  uint64_t cmdline;       /* physical address of the NUL-terminated command line */
  uint32_t cmdline_len;
  uint32_t reserved;
  struct { uint32_t type, irq; uint64_t base; } devices[];
};

/* The command line of the run ("" if none). Native: argv[1..] joined by spaces. */
const char *x86ft_cmdline(const struct x86ft_bootinfo *bi);
/* The first number on the command line, or `dflt` if there is none. */
unsigned long long x86ft_cmdline_number(const struct x86ft_bootinfo *bi, unsigned long long dflt);
/* The n-th (0-based) space-separated word of the command line as a decimal number, or `dflt` if
   there is no such word or it does not start with a digit. */
unsigned long long x86ft_cmdline_word_number(const struct x86ft_bootinfo *bi, unsigned n, unsigned long long dflt);

#ifdef X86FT_NATIVE
/* ---- native (host) build: the host's libc is the reference ---------------------------- */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <ctype.h>
#define main x86ft_guest_main
int x86ft_guest_main(const struct x86ft_bootinfo *bi);

#else
/* ---- bare-metal build: the SDK's own libc ---------------------------------------------- */
#ifndef EOF
#define EOF (-1)
#endif

/* string.h */
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);
char *strcpy(char *restrict d, const char *restrict s);
char *strncpy(char *restrict d, const char *restrict s, size_t n);
char *strcat(char *restrict d, const char *restrict s);
char *strncat(char *restrict d, const char *restrict s, size_t n);
size_t strspn(const char *s, const char *accept);
size_t strcspn(const char *s, const char *reject);
char *strdup(const char *s);

/* stdio.h: stdout is COM1 (polled 16550); output is unbuffered. */
int putchar(int c);
int puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int fflush(void *stream); /* no-op, for source compatibility: fflush(stdout) */
#define stdout ((void *)0)

/* stdlib.h */
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
__attribute__((noreturn)) void exit(int status);
__attribute__((noreturn)) void abort(void);
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t n, size_t size,
              int (*cmp)(const void *, const void *));
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);
int atoi(const char *s);
long atol(const char *s);
double strtod(const char *s, char **end);    /* correctly rounded; also hex, inf, nan */
float strtof(const char *s, char **end);
long double strtold(const char *s, char **end);
double atof(const char *s);
int abs(int x);
long labs(long x);
long long llabs(long long x);

/* ctype.h */
int isdigit(int c); int isxdigit(int c); int isalpha(int c); int isalnum(int c);
int isspace(int c); int isupper(int c); int islower(int c); int isprint(int c);
int ispunct(int c); int toupper(int c); int tolower(int c);

/* setjmp.h: saves rbx, rbp, r12-r15, rsp and the return address. */
typedef unsigned long jmp_buf[8];
int setjmp(jmp_buf env) __attribute__((returns_twice));
__attribute__((noreturn)) void longjmp(jmp_buf env, int val);

/* ---- machine helpers ---------------------------------------------------------------- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

/* The raw console: one byte to COM1 (waits for THRE in LSR). */
void x86ft_uart_putc(int c);
/* Ends the run: writes status to the debug-exit port 0xF4. */
__attribute__((noreturn)) void x86ft_exit(int status);

/* ---- interrupts and exceptions ------------------------------------------------------ */
/* Saved state of an interrupted context, as laid out on the stack by the SDK's stubs.
 * A handler may change any field; the stub restores the registers and IRETQs, so
 * changing `rip` (and `rsp`) resumes elsewhere. */
struct x86ft_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector;
  uint64_t error_code;   /* the CPU's error code, or 0 for vectors without one */
  uint64_t rip, cs, rflags, rsp, ss;   /* pushed by the CPU */
};
typedef void (*x86ft_handler)(struct x86ft_frame *f);

enum {
  X86FT_DE = 0, X86FT_DB = 1, X86FT_NMI = 2, X86FT_BP = 3, X86FT_OF = 4, X86FT_BR = 5,
  X86FT_UD = 6, X86FT_NM = 7, X86FT_DF = 8, X86FT_TS = 10, X86FT_NP = 11, X86FT_SS = 12,
  X86FT_GP = 13, X86FT_PF = 14, X86FT_MF = 16, X86FT_AC = 17, X86FT_MC = 18, X86FT_XM = 19,
};

/* Builds the IDT: all 256 vectors get an SDK stub (64-bit interrupt gate, selector 0x08)
 * that calls the registered C handler, or the default one (prints the frame, exits with
 * status 128+vector); then LIDT. Idempotent. */
void idt_init(void);
/* Registers `h` for vector `vec` (calls idt_init first if needed); NULL restores the default. */
void idt_set_handler(int vec, x86ft_handler h);
/* Writes one raw 64-bit gate: `type` 0xE interrupt gate or 0xF trap gate, `dpl` 0-3, `ist` 0-7. */
void idt_set_gate(int vec, void (*entry)(void), uint16_t selector, int type, int dpl, int ist);
/* Entry address of the SDK stub for `vec` (to re-point a gate with idt_set_gate). */
void (*idt_stub(int vec))(void);
/* LIDT with the given base and limit. */
void lidt(const void *base, uint16_t limit);
/* Prints a frame (registers, vector, error code) to the console. */
void x86ft_dump_frame(const struct x86ft_frame *f);

#endif /* X86FT_NATIVE */

/* ---- math (sdk/math.c): the SDK's own libm, in BOTH builds ----------------------------
 * The native reference build links sdk/math.c too (the symbols are x86ft_*), so both builds
 * run identical code and only the machine's arithmetic is compared. Function-like macros:
 * a variable named `exp` or `log` is not affected. */
double x86ft_sqrt(double x); float x86ft_sqrtf(float x); long double x86ft_sqrtl(long double x);
double x86ft_fabs(double x); float x86ft_fabsf(float x); long double x86ft_fabsl(long double x);
double x86ft_copysign(double x, double y);
double x86ft_floor(double x); double x86ft_ceil(double x); double x86ft_trunc(double x);
double x86ft_round(double x); double x86ft_fmod(double x, double y);
double x86ft_frexp(double x, int *e); double x86ft_ldexp(double x, int n);
double x86ft_exp(double x); double x86ft_log(double x); double x86ft_pow(double x, double y);
double x86ft_sin(double x); double x86ft_cos(double x); double x86ft_tan(double x);
double x86ft_atan(double x); double x86ft_atan2(double y, double x);
#define sqrt(x) x86ft_sqrt(x)
#define sqrtf(x) x86ft_sqrtf(x)
#define sqrtl(x) x86ft_sqrtl(x)
#define fabs(x) x86ft_fabs(x)
#define fabsf(x) x86ft_fabsf(x)
#define fabsl(x) x86ft_fabsl(x)
#define copysign(x, y) x86ft_copysign(x, y)
#define floor(x) x86ft_floor(x)
#define ceil(x) x86ft_ceil(x)
#define trunc(x) x86ft_trunc(x)
#define round(x) x86ft_round(x)
#define fmod(x, y) x86ft_fmod(x, y)
#define frexp(x, e) x86ft_frexp(x, e)
#define ldexp(x, n) x86ft_ldexp(x, n)
#define exp(x) x86ft_exp(x)
#define log(x) x86ft_log(x)
#define pow(x, y) x86ft_pow(x, y)
#define sin(x) x86ft_sin(x)
#define cos(x) x86ft_cos(x)
#define tan(x) x86ft_tan(x)
#define atan(x) x86ft_atan(x)
#define atan2(y, x) x86ft_atan2(y, x)
#define M_PI 3.14159265358979323846
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define HUGE_VAL (__builtin_huge_val())
#define DBL_MAX __DBL_MAX__
#define DBL_MIN __DBL_MIN__
#define DBL_EPSILON __DBL_EPSILON__
#define DBL_TRUE_MIN __DBL_DENORM_MIN__
#define FLT_MAX __FLT_MAX__
#define FLT_MIN __FLT_MIN__
#define LDBL_MAX __LDBL_MAX__
#define LDBL_MIN __LDBL_MIN__
#define LDBL_TRUE_MIN __LDBL_DENORM_MIN__
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define signbit(x) __builtin_signbit(x)
#endif /* X86FT_H */
