/* check.h: the assertion of the host C tests: report the failed condition, count it, keep going,
 * so one run lists every failure. main() returns failures != 0. */
#ifndef PICO4ML_TESTS_CHECK_H
#define PICO4ML_TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

#endif
