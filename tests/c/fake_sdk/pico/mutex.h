/* Fake pico/mutex.h on a pthread mutex. */
#ifndef FAKE_MUTEX_H
#define FAKE_MUTEX_H
#include <pthread.h>
typedef struct { pthread_mutex_t m; } mutex_t;
#define auto_init_mutex(name) static mutex_t name = {PTHREAD_MUTEX_INITIALIZER}
static inline void mutex_enter_blocking(mutex_t *mtx) { pthread_mutex_lock(&mtx->m); }
static inline void mutex_exit(mutex_t *mtx) { pthread_mutex_unlock(&mtx->m); }
#endif
