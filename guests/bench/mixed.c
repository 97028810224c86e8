/* mixed (benchmark): a realistic mix — fill 2 MiB with a PRNG, SHA-256 it, sort 256K
 * 32-bit keys with qsort and a merge sort, CRC-32 the result. A few hundred million
 * instructions at -O2. Repeat count: the first number on the command line, else 1. */
#include "x86ft.h"

#define BYTES (2u << 20)
#define KEYS (BYTES / 8)

static unsigned char data[BYTES];
static uint32_t keys[KEYS], tmp[KEYS];

static inline uint32_t ror(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }
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

static void sha256_blocks(uint32_t h[8], const unsigned char *p, size_t nblocks) {
  for (; nblocks; nblocks--, p += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++)
      w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
             (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
      uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
}

static int cmp_u32(const void *x, const void *y) {
  uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;
  return (p > q) - (p < q);
}

static void merge_sort(uint32_t *v, uint32_t *t, size_t n) {
  if (n < 2) return;
  size_t h = n / 2;
  merge_sort(v, t, h);
  merge_sort(v + h, t, n - h);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) t[k++] = v[j] < v[i] ? v[j++] : v[i++];
  while (i < h) t[k++] = v[i++];
  while (j < n) t[k++] = v[j++];
  memcpy(v, t, n * sizeof *v);
}

static uint32_t crc32(const unsigned char *p, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  uint32_t c = 0xffffffffu;
  while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

int main(const struct x86ft_bootinfo *bi) {
  unsigned rounds = (unsigned)x86ft_cmdline_number(bi, 1);
  uint64_t x = 0x853c49e6748fea9bull;
  uint32_t crc = 0;
  for (unsigned r = 0; r < rounds; r++) {
    for (size_t i = 0; i < BYTES; i += 8) {
      x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
      uint64_t v = x * 0x2545f4914f6cdd1dull;
      memcpy(data + i, &v, 8);
    }
    uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    sha256_blocks(h, data, BYTES / 64);
    printf("round %u: sha256 blocks %08x%08x%08x%08x...\n", r, h[0], h[1], h[2], h[3]);
    memcpy(keys, data, sizeof keys);
    qsort(keys, KEYS / 2, sizeof *keys, cmp_u32);
    merge_sort(keys + KEYS / 2, tmp, KEYS / 2);
    printf("round %u: sorted min %08x max %08x, %08x..%08x\n", r, keys[0], keys[KEYS / 2 - 1], keys[KEYS / 2], keys[KEYS - 1]);
    crc ^= crc32((const unsigned char *)keys, sizeof keys);
  }
  printf("mixed: crc %08x\n", crc);
  return (int)(crc & 0x3f);
}
