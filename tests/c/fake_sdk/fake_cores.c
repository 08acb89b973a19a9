/* Fake multicore, queue and time for running app/camera_task.c's two cores as two
 * threads (tests/c/test_camera_task.c). */
#define _DEFAULT_SOURCE  /* usleep */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pico/multicore.h"
#include "pico/time.h"
#include "pico/util/queue.h"

static void *core1_thread(void *arg) {
    void (*entry)(void) = (void (*)(void))arg;
    entry();
    return NULL;
}

void multicore_launch_core1(void (*entry)(void)) {
    pthread_t t;
    pthread_create(&t, NULL, core1_thread, (void *)entry);
    pthread_detach(t);
}

uint64_t time_us_64(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Time runs 20x faster than on the board: the retry delays are seconds there. */
void sleep_ms(uint32_t ms) { usleep(ms * 50u); }
void sleep_us(uint64_t us) { usleep((useconds_t)(us / 20u + 1)); }

void queue_init(queue_t *q, uint element_size, uint element_count) {
    pthread_mutex_init(&q->lock, NULL);
    q->data = calloc(element_count, element_size);
    q->element_size = element_size;
    q->element_count = element_count;
    q->head = q->count = 0;
}

bool queue_try_add(queue_t *q, const void *data) {
    pthread_mutex_lock(&q->lock);
    bool ok = q->count < q->element_count;
    if (ok) {
        uint slot = (q->head + q->count) % q->element_count;
        memcpy(q->data + slot * q->element_size, data, q->element_size);
        q->count++;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

bool queue_try_remove(queue_t *q, void *data) {
    pthread_mutex_lock(&q->lock);
    bool ok = q->count > 0;
    if (ok) {
        memcpy(data, q->data + q->head * q->element_size, q->element_size);
        q->head = (q->head + 1) % q->element_count;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

void queue_add_blocking(queue_t *q, const void *data) {
    while (!queue_try_add(q, data)) usleep(10);
}
