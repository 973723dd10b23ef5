/* sw_hash: SHA-256 (FIPS 180-4), used for trial config hashes, spec hashes and model checksums.
 * Incremental (init / update / final on a caller-owned context) or one-shot to lowercase hex. */
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

/* Starts a new hash in h (FIPS 180-4 §5.3.3 initial values). */
void sw_sha256_init(sw_sha256_t *h);
/* Absorbs n bytes of data; may be called any number of times. */
void sw_sha256_update(sw_sha256_t *h, const void *data, size_t n);
/* Pads, writes the 32-byte digest; h must be re-initialised before reuse. */
void sw_sha256_final(sw_sha256_t *h, uint8_t digest[32]);
/* One-shot: writes the 64 lowercase hex digits plus NUL into hex[65]. */
void sw_sha256_hex(const void *data, size_t n, char hex[65]);
/* Hex of an existing digest. */
void sw_digest_hex(const uint8_t digest[32], char hex[65]);

#endif
