/* USB CDC link: see usb_link.h.
 *
 * Ownership: the TX ring is written by the main loop (head) and read by the
 * USB worker interrupt (tail); the RX ring the other way round. Both run on
 * core 0, so a compiler barrier between data and index updates is enough.
 * Indices are free-running; sizes are powers of two. */
#include "usb_link.h"

#include "hardware/irq.h"
#include "hardware/sync.h"
#include "pico/time.h"
#include "tusb.h"

#define TX_RING_SIZE 16384u  /* > one FRAME band (8 KB) + RESULT + STATS + LOG */
#define RX_RING_SIZE 2048u
#define WORKER_PERIOD_US 1000

typedef struct {
    uint8_t *buf;
    uint32_t size;
    volatile uint32_t head;  /* written by the producer only */
    volatile uint32_t tail;  /* written by the consumer only */
} ring;

static uint8_t tx_mem[TX_RING_SIZE];
static uint8_t rx_mem[RX_RING_SIZE];
static ring tx = {tx_mem, TX_RING_SIZE, 0, 0};
static ring rx = {rx_mem, RX_RING_SIZE, 0, 0};

static uint worker_irq;
static repeating_timer_t worker_timer;
static volatile bool host_connected;
static volatile usb_link_stats stats;

static uint32_t ring_count(const ring *r) { return r->head - r->tail; }
static uint32_t ring_free(const ring *r) { return r->size - ring_count(r); }

static void ring_put(ring *r, const uint8_t *data, uint32_t n) {
    uint32_t h = r->head;
    for (uint32_t i = 0; i < n; i++)
        r->buf[(h + i) & (r->size - 1)] = data[i];
    __compiler_memory_barrier();  /* data before the index that publishes it */
    r->head = h + n;
}

/* Longest contiguous run of queued bytes starting at tail. */
static uint32_t ring_peek(const ring *r, const uint8_t **p) {
    uint32_t t = r->tail, n = ring_count(r);
    __compiler_memory_barrier();  /* index before the data it publishes */
    uint32_t off = t & (r->size - 1);
    *p = &r->buf[off];
    return n < r->size - off ? n : r->size - off;
}

static void ring_drop(ring *r, uint32_t n) {
    __compiler_memory_barrier();
    r->tail = r->tail + n;
}

/* ---- the USB worker: runs in a low-priority IRQ, owns every TinyUSB call ---- */

static void pump_tx(void) {
    uint32_t room = tud_cdc_write_available();
    bool wrote = false;
    while (room) {
        const uint8_t *p;
        uint32_t n = ring_peek(&tx, &p);
        if (!n)
            break;
        if (n > room)
            n = room;
        n = tud_cdc_write(p, n);
        if (!n)
            break;
        ring_drop(&tx, n);
        stats.bytes_sent += n;
        room -= n;
        wrote = true;
    }
    if (wrote)
        tud_cdc_write_flush();
}

static void pump_rx(void) {
    uint8_t tmp[64];
    while (tud_cdc_available()) {
        uint32_t room = ring_free(&rx);
        if (room == 0)
            return;  /* leave it in the CDC FIFO: the host gets NAKed, nothing is lost */
        uint32_t n = tud_cdc_read(tmp, room < sizeof tmp ? room : sizeof tmp);
        if (!n)
            return;
        ring_put(&rx, tmp, n);
        stats.bytes_received += n;
    }
}

static void usb_worker(void) {
    tud_task();
    bool up = tud_mounted() && tud_cdc_connected();
    if (up && !host_connected) {
        /* A host just opened the port: start it on a fresh byte stream. */
        tud_cdc_write_clear();
        stats.connects++;
    }
    host_connected = up;
    if (up) {
        pump_tx();
    } else {
        /* Nobody listens: whatever was queued is stale. */
        uint32_t n = ring_count(&tx);
        if (n) {
            ring_drop(&tx, n);
            stats.bytes_discarded += n;
        }
    }
    if (tud_mounted())
        pump_rx();
}

static bool worker_tick(repeating_timer_t *t) {
    (void)t;
    irq_set_pending(worker_irq);
    return true;
}

static void usb_irq_kick(void) {
    irq_set_pending(worker_irq);  /* runs after TinyUSB's own USBCTRL handler */
}

bool usb_link_init(void) {
    if (!tusb_init())
        return false;
    worker_irq = (uint)user_irq_claim_unused(true);
    irq_set_exclusive_handler(worker_irq, usb_worker);
    irq_set_priority(worker_irq, PICO_LOWEST_IRQ_PRIORITY);
    irq_set_enabled(worker_irq, true);
    irq_add_shared_handler(USBCTRL_IRQ, usb_irq_kick, PICO_SHARED_IRQ_HANDLER_LOWEST_ORDER_PRIORITY);
    return add_repeating_timer_us(-WORKER_PERIOD_US, worker_tick, NULL, &worker_timer);
}

/* ---- main-loop side ---- */

static size_t sink_space(void *ctx) {
    (void)ctx;
    return host_connected ? ring_free(&tx) : 0;
}

static int sink_write(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    if (len > ring_free(&tx))
        return -1;  /* cannot happen after space() said yes; never block */
    ring_put(&tx, data, (uint32_t)len);
    return 0;
}

device_sink usb_link_sink(void) {
    device_sink s = {.write = sink_write, .space = sink_space, .ctx = NULL};
    return s;
}

size_t usb_link_read(uint8_t *buf, size_t cap) {
    size_t got = 0;
    while (got < cap) {
        const uint8_t *p;
        uint32_t n = ring_peek(&rx, &p);
        if (!n)
            break;
        if (n > cap - got)
            n = (uint32_t)(cap - got);
        for (uint32_t i = 0; i < n; i++)
            buf[got + i] = p[i];
        ring_drop(&rx, n);
        got += n;
    }
    return got;
}

bool usb_link_connected(void) {
    return host_connected;
}

usb_link_stats usb_link_get_stats(void) {
    uint32_t save = save_and_disable_interrupts();
    usb_link_stats s = {stats.bytes_sent, stats.bytes_received, stats.bytes_discarded, stats.connects};
    restore_interrupts(save);
    return s;
}
