/* A fast Modbus TCP server for the plant benchmark: answers FC3/FC4 from one fixed register image
 * (float32 values, high word first) for any unit id, on many connections, in one thread (poll()).
 * It exists so the SERVER costs almost nothing and the agent's own CPU is what the bench measures.
 *
 *   plant_server PORT          (prints "ready" on stdout once listening)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 1024
#define REGISTERS 65536
#define BUF 4096

static uint16_t image[REGISTERS];

struct conn { int fd; size_t used; unsigned char buf[BUF]; };

static void fill_image(void) {
    for (int i = 0; i + 1 < REGISTERS; i += 2) {
        float value = 100.0f + (float)(i / 2) * 0.5f;
        uint32_t bits;
        memcpy(&bits, &value, 4);
        image[i] = (uint16_t)(bits >> 16);
        image[i + 1] = (uint16_t)(bits & 0xFFFF);
    }
}

static size_t answer(const unsigned char *req, size_t pdu_len, unsigned char *out) {
    /* out gets MBAP + PDU; returns its length. */
    unsigned fc = req[7];
    size_t len;
    memcpy(out, req, 4);               /* transaction id, protocol id */
    out[6] = req[6];                   /* unit id */
    if ((fc == 3 || fc == 4) && pdu_len == 5) {
        unsigned addr = (req[8] << 8) | req[9], count = (req[10] << 8) | req[11];
        if (count < 1 || count > 125 || addr + count > REGISTERS) {
            out[7] = fc | 0x80; out[8] = 2; len = 9;
        } else {
            out[7] = fc; out[8] = (unsigned char)(2 * count);
            for (unsigned i = 0; i < count; i++) {
                out[9 + 2 * i] = image[addr + i] >> 8;
                out[10 + 2 * i] = image[addr + i] & 0xFF;
            }
            len = 9 + 2 * count;
        }
    } else {
        out[7] = fc | 0x80; out[8] = 1; len = 9;
    }
    out[4] = (unsigned char)((len - 6) >> 8);
    out[5] = (unsigned char)((len - 6) & 0xFF);
    return len;
}

/* Answer every whole request in the buffer; returns -1 when the connection must close. */
static int serve(struct conn *c) {
    unsigned char out[260 * 8];
    size_t pos = 0, outlen = 0;
    while (c->used - pos >= 7) {
        unsigned char *req = c->buf + pos;
        size_t length = (req[4] << 8) | req[5];
        if (length < 2 || length > 254) return -1;
        if (c->used - pos < 6 + length) break;
        if (outlen + 260 > sizeof out) {
            if (write(c->fd, out, outlen) != (ssize_t)outlen) return -1;
            outlen = 0;
        }
        outlen += answer(req, length - 1, out + outlen);
        pos += 6 + length;
    }
    if (outlen && write(c->fd, out, outlen) != (ssize_t)outlen) return -1;
    memmove(c->buf, c->buf + pos, c->used - pos);
    c->used -= pos;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    fill_image();
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 512)) { perror("bind/listen"); return 1; }
    static struct pollfd fds[MAX_CONN + 1];
    static struct conn *conns[MAX_CONN + 1];
    int n = 1;
    fds[0].fd = lfd; fds[0].events = POLLIN;
    printf("ready\n"); fflush(stdout);
    for (;;) {
        if (poll(fds, n, -1) < 0) { if (errno == EINTR) continue; perror("poll"); return 1; }
        if (fds[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && n <= MAX_CONN) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[n] = calloc(1, sizeof(struct conn));
                conns[n]->fd = fd;
                fds[n].fd = fd; fds[n].events = POLLIN; fds[n].revents = 0;
                n++;
            } else if (fd >= 0) close(fd);
        }
        for (int i = 1; i < n; i++) {
            if (!fds[i].revents) continue;
            struct conn *c = conns[i];
            ssize_t got = read(c->fd, c->buf + c->used, BUF - c->used);
            if (got <= 0 || (c->used += (size_t)got, serve(c) < 0)) {
                close(c->fd); free(c);
                fds[i] = fds[n - 1]; conns[i] = conns[n - 1]; n--; i--;
            }
        }
    }
}
