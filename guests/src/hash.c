/* hash: SHA-256 (FIPS 180-4 test vectors plus generated messages), CRC-32 (table and
 * bitwise, IEEE reflected), Adler-32 and FNV-1a over fixed and generated data. */
#include "x86ft.h"

struct sha256 { uint32_t h[8]; uint64_t len; unsigned char block[64]; unsigned fill; };

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

static void sha256_block(struct sha256 *c, const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
    h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
  }
  c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void sha256_init(struct sha256 *c) {
  static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  memcpy(c->h, iv, sizeof iv);
  c->len = 0;
  c->fill = 0;
}

static void sha256_update(struct sha256 *c, const void *data, size_t n) {
  const unsigned char *p = data;
  c->len += n;
  while (n) {
    if (c->fill == 0 && n >= 64) { sha256_block(c, p); p += 64; n -= 64; continue; }
    unsigned take = 64 - c->fill;
    if (take > n) take = (unsigned)n;
    memcpy(c->block + c->fill, p, take);
    c->fill += take; p += take; n -= take;
    if (c->fill == 64) { sha256_block(c, c->block); c->fill = 0; }
  }
}

static void sha256_final(struct sha256 *c, unsigned char out[32]) {
  uint64_t bits = c->len * 8;
  unsigned char pad = 0x80;
  sha256_update(c, &pad, 1);
  pad = 0;
  while (c->fill != 56) sha256_update(c, &pad, 1);
  unsigned char lenbuf[8];
  for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)(bits >> (56 - 8 * i));
  sha256_update(c, lenbuf, 8);
  for (int i = 0; i < 8; i++)
    for (int k = 0; k < 4; k++) out[4 * i + k] = (unsigned char)(c->h[i] >> (24 - 8 * k));
}

static void print_digest(const char *label, const unsigned char *d) {
  printf("%s", label);
  for (int i = 0; i < 32; i++) printf("%02x", d[i]);
  putchar('\n');
}

static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc32_table(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}
static uint32_t crc32_bitwise(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}
static uint32_t adler32(const unsigned char *p, size_t n) {
  uint32_t a = 1, b = 0;
  while (n--) { a = (a + *p++) % 65521; b = (b + a) % 65521; }
  return b << 16 | a;
}
static uint64_t fnv1a64(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  while (n--) { h ^= *p++; h *= 0x100000001b3ull; }
  return h;
}

static unsigned char data[16384];

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  static const char *msgs[] = { "", "abc", "abcdbcdefghcdefghidefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    "The quick brown fox jumps over the lazy dog", "0123456789012345678901234567890123456789012345678901234" };
  unsigned char d[32];
  struct sha256 c;
  for (unsigned i = 0; i < sizeof msgs / sizeof *msgs; i++) {
    sha256_init(&c);
    sha256_update(&c, msgs[i], strlen(msgs[i]));
    sha256_final(&c, d);
    printf("sha256(msg%u, %u bytes) = ", i, (unsigned)strlen(msgs[i]));
    print_digest("", d);
  }
  /* generated data, hashed in odd-sized pieces */
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof data; i++) { x = x * 1103515245u + 12345u; data[i] = (unsigned char)(x >> 16); }
  sha256_init(&c);
  for (size_t off = 0, step = 1; off < sizeof data; off += step, step = step * 3 % 97 + 1)
    sha256_update(&c, data + off, off + step > sizeof data ? sizeof data - off : step);
  sha256_final(&c, d);
  print_digest("sha256(16 KiB generated) = ", d);
  /* 8000 'a's */
  memset(data, 'a', 8000);
  sha256_init(&c);
  sha256_update(&c, data, 8000);
  sha256_final(&c, d);
  print_digest("sha256(8000 x 'a') = ", d);

  crc_init();
  for (unsigned i = 0; i < sizeof msgs / sizeof *msgs; i++) {
    const unsigned char *m = (const unsigned char *)msgs[i];
    size_t n = strlen(msgs[i]);
    printf("msg%u: crc32 %08x (bitwise %08x) adler32 %08x fnv1a64 %016llx\n", i, crc32_table(m, n),
           crc32_bitwise(m, n), adler32(m, n), (unsigned long long)fnv1a64(m, n));
  }
  printf("crc32(\"123456789\") = %08x\n", crc32_table((const unsigned char *)"123456789", 9));
  x = 777;
  for (size_t i = 0; i < 4096; i++) { x = x * 1664525u + 1013904223u; data[i] = (unsigned char)(x >> 24); }
  printf("4 KiB: crc32 %08x bitwise %08x adler32 %08x fnv1a64 %016llx\n", crc32_table(data, 4096), crc32_bitwise(data, 4096),
         adler32(data, 4096), (unsigned long long)fnv1a64(data, 4096));
  return (int)(crc32_table(data, 4096) & 0x7f);
}
