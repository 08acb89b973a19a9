/* The host twin's stand-in for USB CDC: a pseudo-terminal, a TCP socket on
 * 127.0.0.1, or stdin/stdout, behind an output queue that never blocks. */
#ifndef PICO4ML_HOST_TWIN_LINK_H
#define PICO4ML_HOST_TWIN_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LINK_PTY, LINK_TCP, LINK_STDIO } link_mode;

typedef struct {
    link_mode mode;
    int listen_fd;       /* TCP */
    int fd_in, fd_out;   /* -1 while no host is connected (TCP) */
    int pty_slave_fd;    /* kept open so the host may close and reopen the slave */
    char path[128];      /* pty slave path */
    int port;            /* TCP port actually bound */
    uint8_t *queue;      /* output ring */
    size_t cap, head, len;
    bool connected;      /* a host is there (always true for pty/stdio) */
    bool new_host;       /* set when a TCP client connected; the caller sends HELLO */
    bool input_closed;   /* stdin reached EOF */
    int watch_fd;        /* another input that ends link_service()'s wait (the camera feed), or -1 */
} twin_link;

/* port: TCP port for LINK_TCP (0: any free port). Returns 0 or -1 with err. */
int link_open(twin_link *l, link_mode mode, int port, size_t queue_bytes, char *err, size_t errlen);
void link_close(twin_link *l);
/* The device_sink callbacks: free queue space (0 with no host) and append. */
size_t link_space(void *l);
int link_write(void *l, const uint8_t *data, size_t len);
/* Write out what is queued, as far as the host's side takes it, without blocking. */
void link_flush(twin_link *l);
/* Wait up to timeout_ms for input (or for the queue to drain), move queued bytes
 * out without blocking, and hand received bytes to on_rx. */
void link_service(twin_link *l, int timeout_ms, void (*on_rx)(void *ctx, const uint8_t *data, size_t len),
                  void *ctx);

#endif
