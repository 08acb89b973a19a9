/* Fake pico/util/queue.h: the SDK's copying queue_t semantics on a pthread mutex. */
#ifndef FAKE_QUEUE_H
#define FAKE_QUEUE_H
#include <pthread.h>
#include "fake_sdk.h"
typedef struct {
    pthread_mutex_t lock;
    uint8_t *data;
    uint element_size, element_count;
    uint head, count;
} queue_t;
void queue_init(queue_t *q, uint element_size, uint element_count);
bool queue_try_add(queue_t *q, const void *data);
bool queue_try_remove(queue_t *q, void *data);
void queue_add_blocking(queue_t *q, const void *data);
#endif
