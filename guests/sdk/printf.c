/* x86ft SDK libc: printf family. Output matches glibc for the supported conversions:
 * %d %i %u %x %X %o %c %s %p %% (and %n), flags - + space # 0, width and precision
 * (number or *), length modifiers hh h l ll z j t. No floating point. */
#include "x86ft.h"

struct sink {
  char *buf;       /* NULL: write to the console */
  size_t cap;      /* capacity of buf, including the terminating NUL */
  size_t len;      /* characters produced so far (may exceed cap) */
};

static void put(struct sink *s, char c) {
  if (!s->buf) x86ft_uart_putc((unsigned char)c);
  else if (s->len + 1 < s->cap) s->buf[s->len] = c;
  s->len++;
}

static void pad(struct sink *s, char c, int n) {
  while (n-- > 0) put(s, c);
}

enum { F_MINUS = 1, F_PLUS = 2, F_SPACE = 4, F_HASH = 8, F_ZERO = 16 };
enum { L_NONE, L_HH, L_H, L_L, L_LL, L_Z, L_J, L_T };

static void fmt_int(struct sink *s, unsigned long long v, int neg, int base, int upper,
                    int flags, int width, int prec, int is_signed) {
  char digits[24];
  int nd = 0;
  const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  unsigned long long u = v;
  while (u) { digits[nd++] = dig[u % (unsigned)base]; u /= (unsigned)base; }
  if (prec < 0 && nd == 0) digits[nd++] = '0';          /* "0" unless an explicit precision */
  int zeros = prec > nd ? prec - nd : 0;                /* precision zeros */
  if (base == 8 && (flags & F_HASH) && zeros == 0 && (nd == 0 || digits[nd - 1] != '0')) zeros = 1;
  char prefix[2];
  int np = 0;
  if (is_signed) {
    if (neg) prefix[np++] = '-';
    else if (flags & F_PLUS) prefix[np++] = '+';
    else if (flags & F_SPACE) prefix[np++] = ' ';
  } else if (base == 16 && (flags & F_HASH) && v != 0) {
    prefix[np++] = '0';
    prefix[np++] = upper ? 'X' : 'x';
  }
  int body = np + zeros + nd;
  int fill = width > body ? width - body : 0;
  if (!(flags & F_MINUS) && (flags & F_ZERO) && prec < 0) { zeros += fill; fill = 0; }
  if (!(flags & F_MINUS)) pad(s, ' ', fill);
  for (int k = 0; k < np; k++) put(s, prefix[k]);
  pad(s, '0', zeros);
  while (nd) put(s, digits[--nd]);
  if (flags & F_MINUS) pad(s, ' ', fill);
}

static void fmt_str(struct sink *s, const char *str, int flags, int width, int prec) {
  int n = 0;
  if (prec < 0) while (str[n]) n++;
  else while (n < prec && str[n]) n++;
  int fill = width > n ? width - n : 0;
  if (!(flags & F_MINUS)) pad(s, ' ', fill);
  for (int k = 0; k < n; k++) put(s, str[k]);
  if (flags & F_MINUS) pad(s, ' ', fill);
}

static void format(struct sink *s, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') { put(s, *fmt); continue; }
    const char *start = fmt;
    int flags = 0, width = 0, prec = -1, len = L_NONE;
    for (;;) {
      char c = *++fmt;
      if (c == '-') flags |= F_MINUS;
      else if (c == '+') flags |= F_PLUS;
      else if (c == ' ') flags |= F_SPACE;
      else if (c == '#') flags |= F_HASH;
      else if (c == '0') flags |= F_ZERO;
      else break;
    }
    if (*fmt == '*') {
      width = va_arg(ap, int);
      if (width < 0) { flags |= F_MINUS; width = -width; }
      fmt++;
    } else {
      while (isdigit((unsigned char)*fmt)) width = width * 10 + (*fmt++ - '0');
    }
    if (*fmt == '.') {
      fmt++;
      if (*fmt == '*') { prec = va_arg(ap, int); if (prec < 0) prec = -1; fmt++; }
      else { prec = 0; while (isdigit((unsigned char)*fmt)) prec = prec * 10 + (*fmt++ - '0'); }
    }
    switch (*fmt) {
      case 'h': if (fmt[1] == 'h') { len = L_HH; fmt++; } else len = L_H; fmt++; break;
      case 'l': if (fmt[1] == 'l') { len = L_LL; fmt++; } else len = L_L; fmt++; break;
      case 'z': len = L_Z; fmt++; break;
      case 'j': len = L_J; fmt++; break;
      case 't': len = L_T; fmt++; break;
      default: break;
    }
    char conv = *fmt;
    switch (conv) {
      case 'd': case 'i': {
        long long v;
        if (len == L_NONE) v = va_arg(ap, int);
        else if (len == L_HH) v = (signed char)va_arg(ap, int);
        else if (len == L_H) v = (short)va_arg(ap, int);
        else v = va_arg(ap, long long);   /* l ll z j t are all 64-bit here */
        unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
        fmt_int(s, mag, v < 0, 10, 0, flags, width, prec, 1);
        break;
      }
      case 'u': case 'x': case 'X': case 'o': {
        unsigned long long v;
        if (len == L_NONE) v = va_arg(ap, unsigned);
        else if (len == L_HH) v = (unsigned char)va_arg(ap, unsigned);
        else if (len == L_H) v = (unsigned short)va_arg(ap, unsigned);
        else v = va_arg(ap, unsigned long long);
        int base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
        fmt_int(s, v, 0, base, conv == 'X', flags, width, prec, 0);
        break;
      }
      case 'p': {
        void *p = va_arg(ap, void *);
        if (!p) fmt_str(s, "(nil)", flags, width, -1);
        else fmt_int(s, (uintptr_t)p, 0, 16, 0, flags | F_HASH, width, prec, 0);
        break;
      }
      case 'c': {
        char c = (char)va_arg(ap, int);
        int fill = width > 1 ? width - 1 : 0;
        if (!(flags & F_MINUS)) pad(s, ' ', fill);
        put(s, c);
        if (flags & F_MINUS) pad(s, ' ', fill);
        break;
      }
      case 's': {
        const char *str = va_arg(ap, const char *);
        if (!str) str = (prec < 0 || prec >= 6) ? "(null)" : "";
        fmt_str(s, str, flags, width, prec);
        break;
      }
      case 'n': {
        void *p = va_arg(ap, void *);
        if (len == L_HH) *(signed char *)p = (signed char)s->len;
        else if (len == L_H) *(short *)p = (short)s->len;
        else if (len == L_NONE) *(int *)p = (int)s->len;
        else *(long long *)p = (long long)s->len;
        break;
      }
      case '%':
        put(s, '%');
        break;
      default:   /* unknown conversion: print it as written */
        for (; start <= fmt && *start; start++) put(s, *start);
        if (!*fmt) return;
        break;
    }
  }
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) {
  struct sink s = { buf, n, 0 };
  char dummy;
  if (n == 0) { s.buf = &dummy; s.cap = 0; }
  format(&s, fmt, ap);
  if (n) buf[s.len < n ? s.len : n - 1] = 0;
  return (int)s.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  return r;
}

int sprintf(char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, (size_t)INT_MAX, fmt, ap);
  va_end(ap);
  return r;
}

int vprintf(const char *fmt, va_list ap) {
  struct sink s = { NULL, 0, 0 };
  format(&s, fmt, ap);
  return (int)s.len;
}

int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vprintf(fmt, ap);
  va_end(ap);
  return r;
}

int putchar(int c) { x86ft_uart_putc((unsigned char)c); return (unsigned char)c; }

int puts(const char *str) {
  while (*str) x86ft_uart_putc((unsigned char)*str++);
  x86ft_uart_putc('\n');
  return 1;
}

int fflush(void *stream) { (void)stream; return 0; }
