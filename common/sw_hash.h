/* sw_hash: SHA-256 (FIPS 180-4), used for trial config hashes, spec hashes and model checksums. */
#ifndef SW_HASH_H
#define SW_HASH_H
#include <stddef.h>
#include <stdint.h>

typedef struct sw_sha256 {
  uint32_t state[8];   /* running hash H0..H7 */
  uint64_t nbytes;     /* total bytes absorbed */
  uint8_t  block[64];  /* pending partial block */
  size_t   nblock;     /* bytes pending in block */
} sw_sha256_t;

void sw_sha256_init(sw_sha256_t *h);
void sw_sha256_update(sw_sha256_t *h, const void *data, size_t n);
void sw_sha256_final(sw_sha256_t *h, uint8_t digest[32]);
/* One-shot: writes the 64 lowercase hex digits plus NUL into hex[65]. */
void sw_sha256_hex(const void *data, size_t n, char hex[65]);
/* Hex of an existing digest. */
void sw_digest_hex(const uint8_t digest[32], char hex[65]);

#endif
