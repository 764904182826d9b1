/*
 * The C side of bench_overhead.py: the cost of sa_sync_submit called straight from C.
 *
 * Workload (the same as the Python side): a memory-only store, an engine with the fast preset,
 * OPS puts of keys "k0".."k<OPS-1>" (made before timing) with a 32-byte value, all left in the
 * outbox. Each run uses a fresh store and engine; the median of RUNS runs is printed as
 *
 *   c_submit_us_per_op <median>
 *
 * With BATCH > 0 the same operations are also submitted BATCH at a time with
 * sa_sync_submit_many (results into an sa_submitted array), printed as
 *
 *   c_submit_many_us_per_op <median>
 *
 *   cc -O2 -std=c11 -Iinclude bindings/python/bench_submit.c -lsoftadastra_sync -o bench_submit
 *   ./bench_submit [OPS [RUNS [BATCH]]]
 */
#define _POSIX_C_SOURCE 199309L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <softadastra/sync.h>

#define CHECK(call)                                                                    \
    do {                                                                               \
        sa_status check_status_ = (call);                                              \
        if (check_status_ != SA_OK) {                                                  \
            fprintf(stderr, "%s failed: %s: %s\n", #call, sa_status_str(check_status_), \
                    sa_last_error_message());                                          \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* The thread's CPU time, as bench_overhead.py measures (time.thread_time): on a shared
 * machine it leaves out the time the thread was not scheduled. */
static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts `samples` and returns their median. */
static double median_of(double *samples, long runs)
{
    qsort(samples, (size_t)runs, sizeof *samples, compare_doubles);
    return runs % 2 ? samples[runs / 2] : (samples[runs / 2 - 1] + samples[runs / 2]) / 2.0;
}

int main(int argc, char **argv)
{
    long ops = argc > 1 ? atol(argv[1]) : 20000;
    long runs = argc > 2 ? atol(argv[2]) : 7;
    long batch = argc > 3 ? atol(argv[3]) : 0;
    if (ops <= 0 || runs <= 0 || batch < 0) {
        fprintf(stderr, "usage: %s [OPS [RUNS [BATCH]]]\n", argv[0]);
        return 2;
    }

    char **keys = malloc((size_t)ops * sizeof *keys);
    double *samples = malloc((size_t)runs * sizeof *samples);
    if (keys == NULL || samples == NULL) {
        return 1;
    }
    for (long i = 0; i < ops; i++) {
        keys[i] = malloc(24);
        if (keys[i] == NULL) {
            return 1;
        }
        snprintf(keys[i], 24, "k%ld", i);
    }
    uint8_t value[32];
    memset(value, 'v', sizeof value);

    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_fast("bench", &config));

    for (long run = 0; run < runs; run++) {
        sa_store *store = NULL;
        sa_sync *engine = NULL;
        CHECK(sa_store_open(NULL, SA_FAST, &store));
        CHECK(sa_sync_new(store, &config, &engine));
        sa_submitted submitted = {.struct_size = sizeof submitted};
        double start = now_seconds();
        for (long i = 0; i < ops; i++) {
            CHECK(sa_sync_submit(engine, SA_OP_PUT, keys[i], value, sizeof value, &submitted));
        }
        double elapsed = now_seconds() - start;
        samples[run] = elapsed * 1e6 / (double)ops;
        sa_sync_free(engine);
        sa_store_free(store);
    }

    printf("c_submit_us_per_op %.3f\n", median_of(samples, runs));

    if (batch > 0) {
        sa_local_op *many = malloc((size_t)batch * sizeof *many);
        sa_submitted *results = malloc((size_t)batch * sizeof *results);
        if (many == NULL || results == NULL) {
            return 1;
        }
        for (long run = 0; run < runs; run++) {
            sa_store *store = NULL;
            sa_sync *engine = NULL;
            CHECK(sa_store_open(NULL, SA_FAST, &store));
            CHECK(sa_sync_new(store, &config, &engine));
            double start = now_seconds();
            for (long first = 0; first < ops; first += batch) {
                long count = ops - first < batch ? ops - first : batch;
                for (long i = 0; i < count; i++) {
                    many[i] = (sa_local_op){.struct_size = sizeof many[i],
                                            .op_type = SA_OP_PUT,
                                            .key = keys[first + i],
                                            .value = value,
                                            .value_len = sizeof value};
                    results[i].struct_size = sizeof results[i];
                }
                CHECK(sa_sync_submit_many(engine, many, (size_t)count, results));
            }
            double elapsed = now_seconds() - start;
            samples[run] = elapsed * 1e6 / (double)ops;
            sa_sync_free(engine);
            sa_store_free(store);
        }
        printf("c_submit_many_us_per_op %.3f\n", median_of(samples, runs));
        free(many);
        free(results);
    }

    for (long i = 0; i < ops; i++) {
        free(keys[i]);
    }
    free(keys);
    free(samples);
    return 0;
}
