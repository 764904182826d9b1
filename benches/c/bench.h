/*
 * What the benchmark programs of benches/c share: CHECK(call), which ends the program on a
 * failed call (printing where, the status and the library's message), and the workload's keys
 * and remote operations. Include it after defining _POSIX_C_SOURCE (clock_gettime).
 */
#ifndef SA_BENCH_H
#define SA_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <softadastra/sync.h>

#define CHECK(call)                                                                    \
    do {                                                                               \
        sa_status check_status_ = (call);                                              \
        if (check_status_ != SA_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,    \
                    sa_status_str(check_status_), sa_last_error_message());            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)


/* Room for one key "key:<9 digits>", NUL included. */
#define KEY_BYTES 24

/* Keys "key:<9 digits>" for operations first..first+count-1, in `keys` (count * KEY_BYTES). */
static inline void make_keys(char *keys, long first, long count)
{
    for (long i = 0; i < count; i++) {
        snprintf(keys + i * KEY_BYTES, KEY_BYTES, "key:%09ld", first + i);
    }
}

static inline uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Puts of node "peer", versions first+1..first+count, keys made in `keys` (count *
 * KEY_BYTES), sync ids in `ids` (count * SA_SYNC_ID_MAX), stamped now. */
static inline void make_remote_ops(sa_remote_op *ops, char *ids, char *keys, long first,
                                   long count, const uint8_t *value, size_t value_len)
{
    make_keys(keys, first, count);
    uint64_t stamp = wall_ms() << 16;
    for (long i = 0; i < count; i++) {
        snprintf(ids + i * SA_SYNC_ID_MAX, SA_SYNC_ID_MAX, "peer-%ld", first + i + 1);
        ops[i] = (sa_remote_op){.struct_size = sizeof ops[i],
                                .sync_id = ids + i * SA_SYNC_ID_MAX,
                                .origin = "peer",
                                .version = (uint64_t)(first + i + 1),
                                .stamp = stamp + (uint64_t)(i % 60000),
                                .op_type = SA_OP_PUT,
                                .key = keys + i * KEY_BYTES,
                                .value = value,
                                .value_len = value_len,
                                .has_replaces = false,
                                .replaces_origin = NULL};
    }
}

#endif
