/* sha256.h: SHA-256 (FIPS 180-4), incremental, no heap.
 *
 * Used to check a model blob's weights against the hash in its header (core/blob.c) and to
 * report which model runs. Portable C11; about 4 K cycles per 64-byte block on a Cortex-M0+.
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

typedef struct {
    uint32_t h[8];
    uint64_t bytes;      /* message length so far */
    uint8_t block[64];   /* pending partial block */
    size_t fill;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t digest[SHA256_DIGEST_SIZE]);
/* One call: digest of len bytes. */
void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE]);

#endif
