/* Pseudo-terminal / TCP / stdio transport for the host twin.
 *
 * Writes go into a ring buffer that is flushed with non-blocking writes, so a
 * host that stops reading fills the ring and the device logic starts dropping
 * whole messages, exactly as the firmware does when the CDC buffer is full.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "twin_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_pty(twin_link *l, char *err, size_t errlen) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || set_nonblock(m) < 0) {
        snprintf(err, errlen, "cannot create a pseudo-terminal: %s", strerror(errno));
        if (m >= 0) close(m);
        return -1;
    }
    const char *name = ptsname(m);
    if (!name) {
        snprintf(err, errlen, "ptsname: %s", strerror(errno));
        close(m);
        return -1;
    }
    snprintf(l->path, sizeof l->path, "%s", name);
    /* Our own slave fd keeps the pty alive across host close/reopen; raw mode so
     * binary data passes untouched (no echo, no newline translation). */
    int s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (s < 0) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        close(m);
        return -1;
    }
    struct termios t;
    if (tcgetattr(s, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
    }
    l->pty_slave_fd = s;
    l->fd_in = l->fd_out = m;
    l->connected = true;
    return 0;
}

static int open_tcp(twin_link *l, int port, char *err, size_t errlen) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never listen beyond this machine */
    socklen_t alen = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) < 0 || set_nonblock(s) < 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        close(s);
        return -1;
    }
    l->listen_fd = s;
    l->port = ntohs(a.sin_port);
    return 0;
}

int link_open(twin_link *l, link_mode mode, int port, size_t queue_bytes, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    l->mode = mode;
    l->listen_fd = l->fd_in = l->fd_out = l->pty_slave_fd = l->watch_fd = -1;
    l->queue = malloc(queue_bytes);
    if (!l->queue) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->cap = queue_bytes;
    if (mode == LINK_PTY) return open_pty(l, err, errlen);
    if (mode == LINK_TCP) return open_tcp(l, port, err, errlen);
    l->fd_in = STDIN_FILENO;
    l->fd_out = STDOUT_FILENO;
    set_nonblock(STDOUT_FILENO);
    l->connected = true;
    return 0;
}

static void drop_client(twin_link *l) {
    if (l->fd_in >= 0) close(l->fd_in);
    l->fd_in = l->fd_out = -1;
    l->connected = false;
    l->head = l->len = 0; /* what was queued for this host is stale for the next one */
}

void link_close(twin_link *l) {
    if (l->mode == LINK_TCP) {
        drop_client(l);
        if (l->listen_fd >= 0) close(l->listen_fd);
    } else if (l->mode == LINK_PTY) {
        close(l->fd_in);
        close(l->pty_slave_fd);
    }
    free(l->queue);
    l->queue = NULL;
}

size_t link_space(void *ctx) {
    twin_link *l = ctx;
    return l->connected ? l->cap - l->len : 0;
}

int link_write(void *ctx, const uint8_t *data, size_t len) {
    twin_link *l = ctx;
    if (len > l->cap - l->len) return -1;
    size_t tail = (l->head + l->len) % l->cap;
    size_t first = len < l->cap - tail ? len : l->cap - tail;
    memcpy(l->queue + tail, data, first);
    memcpy(l->queue, data + first, len - first);
    l->len += len;
    return 0;
}

static void flush(twin_link *l) {
    while (l->len > 0 && l->fd_out >= 0) {
        size_t chunk = l->len < l->cap - l->head ? l->len : l->cap - l->head;
        ssize_t n = write(l->fd_out, l->queue + l->head, chunk);
        if (n <= 0) {
            if (n < 0 && l->mode == LINK_TCP && errno != EAGAIN && errno != EINTR) drop_client(l);
            return; /* EAGAIN: the host is not reading; keep the rest for later */
        }
        l->head = (l->head + (size_t)n) % l->cap;
        l->len -= (size_t)n;
    }
}

void link_flush(twin_link *l) { flush(l); }

static void accept_client(twin_link *l) {
    int c = accept(l->listen_fd, NULL, NULL);
    if (c < 0) return;
    if (l->fd_in >= 0) drop_client(l); /* the newest host wins: a crashed GUI can reconnect */
    set_nonblock(c);
    l->fd_in = l->fd_out = c;
    l->connected = true;
    l->new_host = true;
}

void link_service(twin_link *l, int timeout_ms, void (*on_rx)(void *ctx, const uint8_t *data, size_t len),
                  void *ctx) {
    flush(l);
    struct pollfd p[3];
    int np = 0, in_at = -1, listen_at = -1;
    if (l->fd_in >= 0 && !l->input_closed) {
        in_at = np;
        p[np++] = (struct pollfd){l->fd_in, (short)(POLLIN | (l->len && l->fd_out == l->fd_in ? POLLOUT : 0)), 0};
    }
    if (l->listen_fd >= 0) {
        listen_at = np;
        p[np++] = (struct pollfd){l->listen_fd, POLLIN, 0};
    }
    if (l->watch_fd >= 0) p[np++] = (struct pollfd){l->watch_fd, POLLIN, 0}; /* only wakes us: the caller reads */
    if (poll(p, (nfds_t)np, timeout_ms) <= 0) return;
    if (listen_at >= 0 && (p[listen_at].revents & POLLIN)) accept_client(l);
    if (in_at >= 0 && (p[in_at].revents & (POLLIN | POLLHUP | POLLERR))) {
        uint8_t buf[4096];
        ssize_t n = read(l->fd_in, buf, sizeof buf);
        if (n > 0) {
            on_rx(ctx, buf, (size_t)n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            if (l->mode == LINK_TCP) drop_client(l);
            else if (l->mode == LINK_STDIO) l->input_closed = true;
            /* pty: cannot happen while we hold the slave open */
        }
    }
    flush(l);
}
