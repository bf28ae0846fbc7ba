/* The reference client: libmodbus reading COUNT holding registers in a tight loop on one connection.
 *
 *   modbus_loop HOST PORT SECONDS [COUNT]   -> prints "requests=N seconds=S req_per_s=R cpu_us_per_req=C"
 *
 * cpu_us_per_req is this process's user + system CPU per request (getrusage): the loopback round
 * trip decides req/s on a busy or slow-waking machine, CPU per request does not.
 */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s HOST PORT SECONDS [COUNT]\n", argv[0]); return 2; }
    int count = argc > 4 ? atoi(argv[4]) : 60;
    modbus_t *ctx = modbus_new_tcp(argv[1], atoi(argv[2]));
    if (ctx == NULL || modbus_connect(ctx) == -1) { fprintf(stderr, "connect: %s\n", modbus_strerror(errno)); return 1; }
    modbus_set_slave(ctx, 1);
    uint16_t regs[125];
    double seconds = atof(argv[3]), cpu0 = cpu(), start = now(), end = start + seconds;
    long requests = 0;
    while (now() < end) {
        if (modbus_read_registers(ctx, 0, count, regs) != count) { fprintf(stderr, "read: %s\n", modbus_strerror(errno)); return 1; }
        requests++;
    }
    double took = now() - start, used = cpu() - cpu0;
    printf("requests=%ld seconds=%.3f req_per_s=%.1f cpu_us_per_req=%.2f\n", requests, took, requests / took,
           1e6 * used / requests);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
