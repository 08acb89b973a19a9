/* Reading 8-bit grayscale PGM images (P5 binary and P2 ASCII) for the host twin. */
#ifndef PICO4ML_HOST_PGM_H
#define PICO4ML_HOST_PGM_H

#include <stddef.h>
#include <stdint.h>

#define PGM_MAX_DIM 4096

/* Loads path into a malloc'ed width*height buffer (values scaled to 0..255 when
 * maxval < 255). Returns 0, or -1 with a message in err. */
int pgm_read(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen);

/* The *.pgm files of a directory, sorted by name: a malloc'ed array of malloc'ed
 * paths (free with pgm_free_list). Returns the count, or -1 with a message in err. */
int pgm_list_dir(const char *dir, char ***paths, char *err, size_t errlen);
void pgm_free_list(char **paths, int count);

#endif
