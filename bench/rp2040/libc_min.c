/* libc_min.c: the few C library functions the blob runtime and protocol.c call, for the
 * bare-metal benchmark images (linked -nostdlib; the firmware has newlib's). Plain loops,
 * kept from being turned back into calls to themselves by gcc's loop-idiom pass. */
#include <stddef.h>
#include <stdint.h>

#define NO_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_IDIOM void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

NO_IDIOM void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

NO_IDIOM int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) return *x - *y;
    }
    return 0;
}

NO_IDIOM void *memchr(const void *p, int c, size_t n) {
    const uint8_t *s = p;
    for (; n; n--, s++) {
        if (*s == (uint8_t)c) return (void *)s;
    }
    return NULL;
}

NO_IDIOM size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
