/* x86ft SDK libc: printf family. Output matches glibc for the supported conversions:
 * %d %i %u %x %X %o %c %s %p %% (and %n), flags - + space # 0, width and precision
 * (number or *), length modifiers hh h l ll z j t; floating point %f %F %e %E %g %G %a %A
 * for double and (with L) long double, exact and correctly rounded like glibc. */
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
enum { L_NONE, L_HH, L_H, L_L, L_LL, L_Z, L_J, L_T, L_BIGL };

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


/* ---- floating point: %f %F %e %E %g %G %a %A (double and long double) -----------------
 * Exact conversion: the value m * 2^e is split into an integer part (a big integer turned
 * into decimal by repeated division by 10^9) and a fraction r / 2^s (digits produced 9 at a
 * time by multiplying r by 10^9). Only the digits a conversion needs are produced; the rest
 * decides rounding (half to even on the exact value, like glibc in round-to-nearest). */
#define FP_LIMBS 520                 /* 16640 bits: a long double's integer part or fraction */
#define FP_DIGITS 34000              /* >= digits of the integer part + fraction produced */

struct fpdec {
  uint32_t ip[FP_LIMBS]; int nip;    /* integer part, little-endian limbs */
  uint32_t fr[FP_LIMBS]; int nfr;    /* fraction numerator r; value = r / 2^(32*nfr) */
  int frlo;                          /* fr[0..frlo) are zero (each *10^9 adds 9 zero bits) */
};

static char fp_digits[FP_DIGITS + 64];
static int fp_carry;                 /* the last E-form rounding raised the exponent */
static char fp_body[FP_DIGITS + 128];

/* Splits m * 2^e into integer and fraction parts. */
static void fp_split(struct fpdec *d, uint64_t m, int e) {
  if (e >= 0) {                      /* all integer */
    int w = e / 32, b = e % 32;
    for (int k = 0; k < w; k++) d->ip[k] = 0;
    unsigned __int128 v = (unsigned __int128)m << b;
    d->ip[w] = (uint32_t)v; d->ip[w + 1] = (uint32_t)(v >> 32); d->ip[w + 2] = (uint32_t)(v >> 64);
    d->nip = w + 3;
    d->nfr = 0;
    d->frlo = 0;
    return;
  }
  int s = -e;                        /* value = m / 2^s */
  uint64_t ipart = s >= 64 ? 0 : m >> s;
  d->ip[0] = (uint32_t)ipart; d->ip[1] = (uint32_t)(ipart >> 32); d->nip = 2;
  uint64_t f = s >= 64 ? m : m & ((1ull << s) - 1);
  /* fraction f / 2^s, stored as r / 2^(32*nfr) with nfr = ceil(s/32): r = f << (32*nfr - s) */
  int nfr = (s + 31) / 32, sh = 32 * nfr - s;
  unsigned __int128 v = (unsigned __int128)f << sh;
  for (int k = 3; k < nfr; k++) d->fr[k] = 0;
  d->fr[0] = (uint32_t)v; d->fr[1] = (uint32_t)(v >> 32); d->fr[2] = (uint32_t)(v >> 64);
  d->nfr = nfr;                      /* limbs at and above nfr are unused (f < 2^s) */
  d->frlo = 0;
}

static int fp_iszero(const uint32_t *a, int n) {
  for (int k = 0; k < n; k++) if (a[k]) return 0;
  return 1;
}

/* Decimal digits of the integer part into out (no leading zeros; "" for zero). */
static int fp_int_digits(struct fpdec *d, char *out) {
  int n = d->nip;
  while (n > 0 && !d->ip[n - 1]) n--;
  char tmp[12];
  int len = 0;
  /* collect 9-digit chunks least significant first, then reverse */
  static uint32_t chunks[FP_DIGITS / 9 + 8];
  int nc = 0;
  while (n > 0) {
    uint64_t rem = 0;
    for (int k = n - 1; k >= 0; k--) {
      uint64_t cur = (rem << 32) | d->ip[k];
      d->ip[k] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    chunks[nc++] = (uint32_t)rem;
    while (n > 0 && !d->ip[n - 1]) n--;
  }
  for (int c = nc - 1; c >= 0; c--) {
    uint32_t v = chunks[c];
    for (int k = 8; k >= 0; k--) { tmp[k] = (char)('0' + v % 10); v /= 10; }
    int k = 0;
    if (c == nc - 1) while (k < 8 && tmp[k] == '0') k++;
    for (; k < 9; k++) out[len++] = tmp[k];
  }
  return len;
}

/* The next 9 fraction digits. */
static void fp_frac_chunk(struct fpdec *d, char *out) {
  uint64_t carry = 0;
  while (d->frlo < d->nfr && !d->fr[d->frlo]) d->frlo++;
  for (int k = d->frlo; k < d->nfr; k++) {
    uint64_t cur = (uint64_t)d->fr[k] * 1000000000u + carry;
    d->fr[k] = (uint32_t)cur;
    carry = cur >> 32;
  }
  uint32_t v = (uint32_t)carry;
  for (int k = 8; k >= 0; k--) { out[k] = (char)('0' + v % 10); v /= 10; }
}

/* Rounded decimal digits of m * 2^e (m != 0).
 * eform: `prec` digits after the first significant one; else `prec` digits after the point.
 * Returns the digit count in fp_digits; *dexp = decimal exponent of the first digit
 * (value ~ d0.d1d2... * 10^dexp). F form: digits start at the units position or the first
 * integer digit, i.e. fp_digits holds the integer digits (at least one) then prec fraction digits. */
static int fp_decimal(uint64_t m, int e, int eform, int prec, int *dexp) {
  static struct fpdec d;
  fp_split(&d, m, e);
  char *dg = fp_digits;
  int ni = fp_int_digits(&d, dg);
  int n = ni;                        /* digits produced; position k has weight 10^(ni-1-k) */
  int first = ni > 0 ? 0 : -1;       /* index of the first nonzero digit */
  int want;                          /* digits to keep */
  int scan = ni, ni0 = ni;
  /* produce fraction digits until `want` is known and n > want */
  for (;;) {
    if (first < 0) { for (; scan < n; scan++) if (dg[scan] != '0') { first = scan; break; } }
    if (eform) want = first >= 0 ? first + prec + 1 : -1;
    else want = ni + prec;
    if (want >= 0 && n > want) break;
    if (fp_iszero(d.fr + d.frlo, d.nfr - d.frlo)) break;          /* the rest is zeros */
    if (n + 9 > FP_DIGITS) break;               /* cannot happen for valid formats */
    fp_frac_chunk(&d, dg + n);
    n += 9;
  }
  int sticky = !fp_iszero(d.fr + d.frlo, d.nfr - d.frlo);
  if (want < 0) want = 0;  /* unreachable for m != 0 */
  while (n < want + 1) dg[n++] = '0';
  /* round at `want`: dg[want] is the first dropped digit */
  int up = 0;
  if (dg[want] > '5') up = 1;
  else if (dg[want] == '5') {
    int rest = sticky;
    for (int k = want + 1; k < n && !rest; k++) if (dg[k] != '0') rest = 1;
    if (rest) up = 1;
    else up = want > 0 ? (dg[want - 1] - '0') & 1 : 0;
  }
  if (up) {
    int k = want - 1;
    while (k >= 0 && dg[k] == '9') dg[k--] = '0';
    if (k >= 0) dg[k]++;
    else {                           /* carry out of the top: one more leading digit */
      memmove(dg + 1, dg, (size_t)want);
      dg[0] = '1';
      want++; ni++;
    }
  }
  if (eform) {
    int was = first;
    first = 0;
    while (dg[first] == '0') first++;
    fp_carry = ni - 1 - first != ni0 - 1 - was;
    *dexp = ni - 1 - first;
    memmove(dg, dg + first, (size_t)(prec + 1));
    return prec + 1;
  }
  *dexp = ni - 1;
  return want;
}

static int fp_exp_str(char *o, int x, char ech, int mindig) {
  int n = 0;
  o[n++] = ech;
  o[n++] = x < 0 ? '-' : '+';
  unsigned u = x < 0 ? (unsigned)-x : (unsigned)x;
  char t[8]; int nt = 0;
  do { t[nt++] = (char)('0' + u % 10); u /= 10; } while (u);
  if (nt < mindig) t[nt++] = '0';
  while (nt) o[n++] = t[--nt];
  return n;
}

/* Body (no sign) of %e/%f/%g for m * 2^e; returns its length in fp_body. */
static int fp_body_efg(uint64_t m, int e, char conv, int prec, int flags) {
  char *o = fp_body;
  int n = 0, upper = conv >= 'A' && conv <= 'Z';
  char lc = (char)(conv | 0x20);
  if (prec < 0) prec = 6;
  if (prec > 16000) prec = 16000;
  int strip = 0;
  if (lc == 'g') {
    int P = prec == 0 ? 1 : prec, x;
    if (m == 0) x = 0;
    else fp_decimal(m, e, 1, P - 1, &x);
    if (m && fp_carry && x == P && (flags & F_HASH)) { lc = 'e'; prec = 0; }  /* glibc's output */
    else if (P > x && x >= -4) { lc = 'f'; prec = P - 1 - x; }
    else { lc = 'e'; prec = P - 1; }
    strip = !(flags & F_HASH);
  }
  if (lc == 'f') {
    int x, nd;
    if (m == 0) { fp_digits[0] = '0'; for (int k = 1; k <= prec; k++) fp_digits[k] = '0'; nd = prec + 1; x = 0; }
    else nd = fp_decimal(m, e, 0, prec, &x);
    int ni = nd - prec;              /* integer digits (>= 0) */
    if (ni <= 0) o[n++] = '0';
    for (int k = 0; k < ni; k++) o[n++] = fp_digits[k];
    int fd = prec;
    if (strip) while (fd > 0 && fp_digits[ni + fd - 1] == '0') fd--;
    if (fd > 0 || (flags & F_HASH)) o[n++] = '.';
    for (int k = 0; k < fd; k++) o[n++] = fp_digits[ni + k];
  } else {
    int x, nd;
    if (m == 0) { for (int k = 0; k <= prec; k++) fp_digits[k] = '0'; nd = prec + 1; x = 0; }
    else nd = fp_decimal(m, e, 1, prec, &x);
    o[n++] = fp_digits[0];
    int fd = nd - 1;
    if (strip) while (fd > 0 && fp_digits[fd] == '0') fd--;
    if (fd > 0 || (flags & F_HASH)) o[n++] = '.';
    for (int k = 1; k <= fd; k++) o[n++] = fp_digits[k];
    n += fp_exp_str(o + n, x, upper ? 'E' : 'e', 2);
  }
  return n;
}

/* Body of %a: lead hex digit, `nf` fraction nibbles in frac (top-aligned), binary exponent. */
static int fp_body_a(unsigned lead, uint64_t frac, int nf, int bexp, int prec, int flags, int upper, int ldbl) {
  char *o = fp_body;
  int n = 0;
  const char *hx = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  if (prec >= 0 && prec < nf) {      /* round to prec nibbles, half to even */
    uint64_t keep = prec ? frac >> (64 - 4 * prec) : 0;
    uint64_t rest = frac << (4 * prec);                        /* dropped bits, top-aligned */
    uint64_t half = 1ull << 63;
    int odd = prec > 0 ? (int)(keep & 1) : (int)(lead & 1);
    if (rest > half || (rest == half && odd)) {
      if (prec == 0) lead++;
      else {
        keep++;
        if (prec * 4 < 64 && (keep >> (prec * 4))) { keep = 0; lead++; }
      }
    }
    frac = prec == 0 ? 0 : keep << (64 - prec * 4);
    nf = prec;
    if (ldbl && lead > 15) { lead = 1; bexp += 4; }
  }
  o[n++] = '0'; o[n++] = upper ? 'X' : 'x';
  o[n++] = hx[lead];
  int fd = nf;
  if (prec < 0) { while (fd > 0 && ((frac >> (64 - 4 * fd)) & 15) == 0) fd--; }
  else fd = prec;
  if (fd > 0 || (flags & F_HASH)) o[n++] = '.';
  for (int k = 0; k < fd; k++) {
    o[n++] = k < nf ? hx[(frac >> (60 - 4 * k)) & 15] : '0';
  }
  n += fp_exp_str(o + n, bexp, upper ? 'P' : 'p', 1);
  return n;
}

static void fmt_fp(struct sink *s, char conv, int flags, int width, int prec, int ldbl,
                   double dv, long double lv) {
  int neg, cls;                      /* cls: 0 finite, 1 inf, 2 nan */
  uint64_t m; int e;                 /* finite value = m * 2^e */
  uint64_t mant; int bexp_raw;
  if (ldbl) {
    union { long double v; struct { uint64_t m; uint16_t se; } p; } u;
    memset(&u, 0, sizeof u);
    u.v = lv;
    neg = u.p.se >> 15;
    int E = u.p.se & 0x7fff;
    mant = u.p.m;
    bexp_raw = E;
    if (E == 0x7fff) cls = (mant << 1) ? 2 : 1;
    else cls = 0;
    m = mant; e = (E ? E : 1) - 16383 - 63;
  } else {
    union { double v; uint64_t b; } u;
    u.v = dv;
    neg = (int)(u.b >> 63);
    int E = (int)((u.b >> 52) & 0x7ff);
    mant = u.b & ((1ull << 52) - 1);
    bexp_raw = E;
    if (E == 0x7ff) cls = mant ? 2 : 1;
    else cls = 0;
    m = E ? mant | (1ull << 52) : mant;
    e = (E ? E : 1) - 1075;
  }
  int upper = conv >= 'A' && conv <= 'Z';
  char sign = neg ? '-' : (flags & F_PLUS) ? '+' : (flags & F_SPACE) ? ' ' : 0;
  int n;
  if (cls) {
    const char *t = cls == 1 ? (upper ? "INF" : "inf") : (upper ? "NAN" : "nan");
    memcpy(fp_body, t, 3);
    n = 3;
    flags &= ~F_ZERO;
  } else if ((conv | 0x20) == 'a') {
    if (ldbl) {
      int bexp = m ? (bexp_raw ? bexp_raw : 1) - 16383 - 3 : 0;
      n = fp_body_a((unsigned)(m >> 60), m << 4, 15, bexp, prec, flags, upper, 1);
    } else {
      int bexp = m ? (bexp_raw ? bexp_raw : 1) - 1023 : 0;
      n = fp_body_a(bexp_raw ? 1 : 0, mant << 12, 13, bexp, prec, flags, upper, 0);
    }
  } else {
    n = fp_body_efg(m, e, conv, prec, flags);
  }
  int body = n + (sign ? 1 : 0);
  int fill = width > body ? width - body : 0;
  if (!(flags & F_MINUS) && !(flags & F_ZERO)) pad(s, ' ', fill);
  if (sign) put(s, sign);
  int k = 0;
  if (!(flags & F_MINUS) && (flags & F_ZERO)) {
    if ((conv | 0x20) == 'a' && !cls) { put(s, fp_body[0]); put(s, fp_body[1]); k = 2; }
    pad(s, '0', fill);
  }
  for (; k < n; k++) put(s, fp_body[k]);
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
      case 'L': len = L_BIGL; fmt++; break;
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
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
        if (len == L_BIGL) fmt_fp(s, conv, flags, width, prec, 1, 0.0, va_arg(ap, long double));
        else fmt_fp(s, conv, flags, width, prec, 0, va_arg(ap, double), 0.0L);
        break;
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
