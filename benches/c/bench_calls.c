/*
 * Per-operation cost of the engine's calls through the C ABI, as a C program calls them.
 *
 * Workload, for each store (memory; WAL in fast mode, in a scratch directory), value size (32
 * bytes; 1 KiB) and number of pending operations P (10 000; 100 000; 1 000 000):
 *   - an engine (fast preset, ACKs required, batch_size CHUNK) is filled with P submits of keys
 *     "key:000000001"... (not timed); resident memory grown during the fill / P is the memory
 *     per pending operation;
 *   - then SAMPLES samples, each timing, per operation:
 *       submit       CHUNK sa_sync_submit calls (fresh keys), twice (2·CHUNK submits);
 *       submit_many  sa_sync_submit_many of CHUNK operations (results wanted);
 *       next_batch   sa_sync_next_batch of CHUNK operations, each read with sa_batch_get, and
 *                    sa_batch_free;
 *       ack          sa_sync_ack of each id of that batch;
 *       ack_many     next_batch of CHUNK more, their ids acknowledged by one sa_sync_ack_many
 *                    (the next_batch of this half is not timed);
 *     then (not timed) sa_sync_prune_completed, so that the outbox stays at about P;
 *   - remote apply: a second engine (node "recv") that already applied P operations of node
 *     "peer" (not timed), then per sample CHUNK sa_sync_receive_remote calls (fresh keys, so
 *     each one is applied: dedup check, conflict check, store write) and one
 *     sa_sync_receive_frame of a V2 frame of CHUNK operations of a third node (made
 *     beforehand).
 *   - submit scaling: one engine (memory store, 32-byte values) measured as "submit" above at
 *     10 k and then, a second later in the same process, at the largest P: the two medians
 *     (rows submit_at_10k_same_process and submit_at_max_same_process), whose ratio the
 *     machine's drift between separate processes does not enter.
 * Times are the calling thread's CPU time (see now_ns).
 * One line per (call, store, value, P): the median per-operation time over the samples and
 * their min and max, in ns, tab-separated (header line first), ready for scripts/bench_chart.py.
 *
 *   cc -O2 -std=c11 -Iinclude benches/c/bench_calls.c -Ltarget/release -lsoftadastra_sync \
 *      -Wl,-rpath,$PWD/target/release -o bench_calls
 *   ./bench_calls [--max P] [--samples S] [--chunk C] [--dir DIR] [--quick]
 *
 * --quick measures the memory store with 32-byte values only.
 *
 * scripts/bench-all.sh builds and runs it against the release library.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <softadastra/sync.h>

#include "bench.h"


#define MAX_SAMPLES 64

static long g_chunk = 1000;
static long g_samples = 7;

/* CPU time of the calling thread: the calls measured never wait (no fdatasync in these modes),
 * so on an idle machine it equals wall time, and on a shared one it leaves out the time the
 * thread was not scheduled. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Resident set size in bytes (Linux), 0 when unknown. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, resident = 0;
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%lu %lu", &pages, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-operation samples of one call. */
typedef struct {
    double ns[MAX_SAMPLES];
    long count;
} samples;

static void add(samples *s, double total_ns, long ops) { s->ns[s->count++] = total_ns / (double)ops; }

static void report(const char *call, const char *store, size_t value_len, long pending, samples *s)
{
    qsort(s->ns, (size_t)s->count, sizeof s->ns[0], compare_doubles);
    double median = s->count % 2 ? s->ns[s->count / 2]
                                 : (s->ns[s->count / 2 - 1] + s->ns[s->count / 2]) / 2.0;
    printf("%s\t%s\t%zu\t%ld\t%.1f\t%.1f\t%.1f\n", call, store, value_len, pending, median,
           s->ns[0], s->ns[s->count - 1]);
    fflush(stdout);
}

static sa_sync *new_engine(sa_store *store, const char *node)
{
    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_fast(node, &config));
    config.require_ack = true;
    config.batch_size = (uint32_t)g_chunk;
    config.max_outbox_operations = UINT64_MAX / 2;
    config.max_outbox_bytes = UINT64_MAX / 2;
    sa_sync *engine = NULL;
    CHECK(sa_sync_new(store, &config, &engine));
    return engine;
}

static sa_store *open_store(const char *dir, const char *name)
{
    sa_store *store = NULL;
    if (dir == NULL) {
        CHECK(sa_store_open(NULL, SA_FAST, &store));
        return store;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.wal", dir, name);
    CHECK(sa_store_open(path, SA_FAST, &store));
    return store;
}

/* Deletes every file in `dir` (the WAL and the files beside it). */
static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Runs `run(dir, store_name, value, value_len, pending)` in a child process, so that each
 * measurement starts from a fresh heap (resident memory growth is then the run's own). */
typedef void (*measurement)(const char *, const char *, const uint8_t *, size_t, long);
static void in_child(measurement run, const char *dir, const char *store_name,
                     const uint8_t *value, size_t value_len, long pending)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        run(dir, store_name, value, value_len, pending);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "measurement %s/%zu/%ld failed\n", store_name, value_len, pending);
        exit(1);
    }
    if (dir != NULL) {
        empty_dir(dir);
    }
}

/* Submits the `count` keys made in `keys`, one sa_sync_submit each. */
static void submit_each(sa_sync *engine, const char *keys, long count, const uint8_t *value,
                        size_t value_len)
{
    sa_submitted submitted = {.struct_size = sizeof submitted};
    for (long i = 0; i < count; i++) {
        CHECK(sa_sync_submit(engine, SA_OP_PUT, keys + i * KEY_BYTES, value, value_len,
                             &submitted));
    }
}

/* submit, submit_many, next_batch, ack, ack_many and memory, at `pending` operations. */
static void local_calls(const char *dir, const char *store_name, const uint8_t *value,
                        size_t value_len, long pending)
{
    sa_store *store = open_store(dir, "local");
    uint64_t rss_before = rss_bytes();
    sa_sync *engine = new_engine(store, "node-a");
    long chunk = g_chunk;
    char *keys = malloc((size_t)chunk * 2 * KEY_BYTES);
    sa_local_op *ops = malloc((size_t)chunk * sizeof *ops);
    sa_submitted *results = malloc((size_t)chunk * sizeof *results);
    const char **ids = malloc((size_t)chunk * sizeof *ids);
    char *id_text = malloc((size_t)chunk * SA_SYNC_ID_MAX);
    if (keys == NULL || ops == NULL || results == NULL || ids == NULL || id_text == NULL) {
        exit(1);
    }
    long next = 0;
    for (; next < pending; next += chunk) {
        make_keys(keys, next, chunk);
        submit_each(engine, keys, chunk, value, value_len);
    }
    uint64_t rss_after = rss_bytes();

    samples submit = {0}, submit_many = {0}, next_batch = {0}, ack = {0}, ack_many = {0};
    for (long sample = 0; sample < g_samples; sample++) {
        make_keys(keys, next, 2 * chunk);
        double start = now_ns();
        submit_each(engine, keys, 2 * chunk, value, value_len);
        add(&submit, now_ns() - start, 2 * chunk);
        next += 2 * chunk;

        make_keys(keys, next, chunk);
        for (long i = 0; i < chunk; i++) {
            ops[i] = (sa_local_op){.struct_size = sizeof ops[i], .op_type = SA_OP_PUT,
                                   .key = keys + i * KEY_BYTES, .value = value,
                                   .value_len = value_len};
            results[i].struct_size = sizeof results[i];
        }
        start = now_ns();
        CHECK(sa_sync_submit_many(engine, ops, (size_t)chunk, results));
        add(&submit_many, now_ns() - start, chunk);
        next += chunk;

        /* A batch handed out, read as a sender reads it, then acknowledged id by id. */
        sa_batch *batch = NULL;
        sa_envelope_view view = {.struct_size = sizeof view};
        start = now_ns();
        CHECK(sa_sync_next_batch(engine, &batch));
        size_t len = sa_batch_len(batch);
        for (size_t i = 0; i < len; i++) {
            CHECK(sa_batch_get(batch, i, &view));
            memcpy(id_text + i * SA_SYNC_ID_MAX, view.sync_id.ptr, view.sync_id.len + 1);
        }
        sa_batch_free(batch);
        add(&next_batch, now_ns() - start, (long)len);
        start = now_ns();
        for (size_t i = 0; i < len; i++) {
            int32_t outcome = 0;
            CHECK(sa_sync_ack(engine, id_text + i * SA_SYNC_ID_MAX, &outcome));
        }
        add(&ack, now_ns() - start, (long)len);

        /* The next batch acknowledged in one call. */
        CHECK(sa_sync_next_batch(engine, &batch));
        len = sa_batch_len(batch);
        for (size_t i = 0; i < len; i++) {
            CHECK(sa_batch_get(batch, i, &view));
            ids[i] = view.sync_id.ptr;
        }
        sa_ack_report acked = {.struct_size = sizeof acked};
        start = now_ns();
        CHECK(sa_sync_ack_many(engine, ids, len, &acked));
        add(&ack_many, now_ns() - start, (long)len);
        sa_batch_free(batch);

        size_t pruned = 0;
        CHECK(sa_sync_prune_completed(engine, &pruned));
    }
    report("submit", store_name, value_len, pending, &submit);
    report("submit_many", store_name, value_len, pending, &submit_many);
    report("next_batch", store_name, value_len, pending, &next_batch);
    report("ack", store_name, value_len, pending, &ack);
    report("ack_many", store_name, value_len, pending, &ack_many);
    printf("memory_bytes_per_pending_op\t%s\t%zu\t%ld\t%.1f\t%.1f\t%.1f\n", store_name, value_len,
           pending, (double)(rss_after - rss_before) / (double)pending,
           (double)(rss_after - rss_before) / (double)pending,
           (double)(rss_after - rss_before) / (double)pending);
    sa_sync_free(engine);
    sa_store_free(store);
    free(keys);
    free(ops);
    free(results);
    free(ids);
    free(id_text);
}

/* Submit at 10 k and at `pending` pending in ONE process, a second apart: the ratio of the two
 * medians, which measurements in separate processes minutes apart let the machine's drift
 * into. Each sample times 2·CHUNK submits, then (not timed) hands them out, acknowledges them
 * and prunes them, so that the outbox stays at the size measured. */
static void submit_scaling(const char *dir, const char *store_name, const uint8_t *value,
                           size_t value_len, long pending)
{
    (void)dir;
    sa_store *store = open_store(NULL, "scaling");
    sa_sync *engine = new_engine(store, "node-a");
    long chunk = g_chunk;
    char *keys = malloc((size_t)chunk * 2 * KEY_BYTES);
    const char **ids = malloc((size_t)chunk * 2 * sizeof *ids);
    if (keys == NULL || ids == NULL) {
        exit(1);
    }
    const long sizes[2] = {10000, pending};
    samples at[2];
    memset(at, 0, sizeof at);
    long next = 0;
    for (int size = 0; size < 2; size++) {
        for (; next < sizes[size]; next += chunk) {
            make_keys(keys, next, chunk);
            submit_each(engine, keys, chunk, value, value_len);
        }
        for (long sample = 0; sample < g_samples; sample++) {
            make_keys(keys, next, 2 * chunk);
            double start = now_ns();
            submit_each(engine, keys, 2 * chunk, value, value_len);
            add(&at[size], now_ns() - start, 2 * chunk);
            next += 2 * chunk;
            for (int half = 0; half < 2; half++) {
                sa_batch *batch = NULL;
                sa_envelope_view view = {.struct_size = sizeof view};
                CHECK(sa_sync_next_batch(engine, &batch));
                size_t len = sa_batch_len(batch);
                for (size_t i = 0; i < len; i++) {
                    CHECK(sa_batch_get(batch, i, &view));
                    ids[i] = view.sync_id.ptr;
                }
                sa_ack_report acked = {.struct_size = sizeof acked};
                CHECK(sa_sync_ack_many(engine, ids, len, &acked));
                sa_batch_free(batch);
            }
            size_t pruned = 0;
            CHECK(sa_sync_prune_completed(engine, &pruned));
        }
    }
    report("submit_at_10k_same_process", store_name, value_len, 10000, &at[0]);
    report("submit_at_max_same_process", store_name, value_len, pending, &at[1]);
    sa_sync_free(engine);
    sa_store_free(store);
    free(keys);
    free(ids);
}

/* A V2 frame of `count` fresh operations, made by the engine `peer`. */
static sa_buf frame_from_peer(sa_sync *peer, char *keys, long first, long count,
                              const uint8_t *value, size_t value_len)
{
    make_keys(keys, first, count);
    submit_each(peer, keys, count, value, value_len);
    sa_batch *batch = NULL;
    CHECK(sa_sync_next_batch(peer, &batch));
    sa_buf frame = {0};
    CHECK(sa_batch_encode(batch, &frame));
    sa_batch_free(batch);
    size_t pruned = 0;
    CHECK(sa_sync_prune_completed(peer, &pruned));
    return frame;
}

/* Remote apply, one call per operation and one frame per CHUNK, at `pending` applied. */
static void remote_calls(const char *dir, const char *store_name, const uint8_t *value,
                         size_t value_len, long pending)
{
    sa_store *store = open_store(dir, "recv");
    sa_sync *engine = new_engine(store, "recv");
    /* Frames come from another node: its versions are its own. */
    sa_store *peer_store = open_store(NULL, "framer");
    sa_sync *peer = new_engine(peer_store, "framer");
    long chunk = g_chunk;
    sa_remote_op *ops = malloc((size_t)chunk * sizeof *ops);
    char *ids = malloc((size_t)chunk * SA_SYNC_ID_MAX);
    char *keys = malloc((size_t)chunk * KEY_BYTES);
    if (ops == NULL || ids == NULL || keys == NULL) {
        exit(1);
    }
    sa_apply_result result = {.struct_size = sizeof result};
    long next = 0;
    for (; next < pending; next += chunk) {
        make_remote_ops(ops, ids, keys, next, chunk, value, value_len);
        for (long i = 0; i < chunk; i++) {
            CHECK(sa_sync_receive_remote(engine, &ops[i], &result));
        }
    }
    /* The framing node's keys are after every direct one. */
    long frame_next = 500000000;
    samples single = {0}, frame = {0};
    for (long sample = 0; sample < g_samples; sample++) {
        make_remote_ops(ops, ids, keys, next, chunk, value, value_len);
        double start = now_ns();
        for (long i = 0; i < chunk; i++) {
            CHECK(sa_sync_receive_remote(engine, &ops[i], &result));
            if (result.outcome != SA_APPLIED) {
                fprintf(stderr, "remote operation %ld was not applied\n", next + i);
                exit(1);
            }
        }
        add(&single, now_ns() - start, chunk);
        next += chunk;

        sa_buf bytes = frame_from_peer(peer, keys, frame_next, chunk, value, value_len);
        frame_next += chunk;
        sa_receive_report received = {.struct_size = sizeof received};
        sa_buf ack_frame = {0};
        start = now_ns();
        CHECK(sa_sync_receive_frame(engine, bytes.ptr, bytes.len, &received, &ack_frame));
        add(&frame, now_ns() - start, chunk);
        if (received.applied != (size_t)chunk) {
            fprintf(stderr, "frame: %zu of %ld applied\n", received.applied, chunk);
            exit(1);
        }
        sa_buf_free(&ack_frame);
        sa_buf_free(&bytes);
    }
    report("remote_apply", store_name, value_len, pending, &single);
    report("remote_apply_frame", store_name, value_len, pending, &frame);
    sa_sync_free(engine);
    sa_store_free(store);
    sa_sync_free(peer);
    sa_store_free(peer_store);
    free(ops);
    free(ids);
    free(keys);
}

int main(int argc, char **argv)
{
    long max = 1000000;
    const char *dir = NULL;
    /* --quick: the memory store with 32-byte values only (the figures the targets name). */
    bool quick = false;
    if (argc > 1 && strcmp(argv[argc - 1], "--quick") == 0) {
        quick = true;
        argc--;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--max") == 0) {
            max = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--samples") == 0) {
            g_samples = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--chunk") == 0) {
            g_chunk = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        } else {
            break;
        }
    }
    if (argc % 2 == 0 || max <= 0 || g_chunk <= 0 || g_samples <= 0 || g_samples > MAX_SAMPLES) {
        fprintf(stderr,
                "usage: %s [--max P] [--samples S (1..%d)] [--chunk C] [--dir DIR] [--quick]\n",
                argv[0], MAX_SAMPLES);
        return 2;
    }
    char scratch[] = "/tmp/sa-bench-XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(scratch);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    static uint8_t value[1024];
    memset(value, 'v', sizeof value);
    const size_t value_sizes[] = {32, 1024};
    const long sizes[] = {10000, 100000, 1000000};

    printf("call\tstore\tvalue_bytes\tpending\tmedian_ns\tmin_ns\tmax_ns\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        if (sizes[s] > max) {
            continue;
        }
        for (size_t v = 0; v < (quick ? 1 : sizeof value_sizes / sizeof value_sizes[0]); v++) {
            in_child(local_calls, NULL, "memory", value, value_sizes[v], sizes[s]);
            if (!quick) {
                in_child(local_calls, dir, "fast_wal", value, value_sizes[v], sizes[s]);
            }
            in_child(remote_calls, NULL, "memory", value, value_sizes[v], sizes[s]);
            if (!quick) {
                in_child(remote_calls, dir, "fast_wal", value, value_sizes[v], sizes[s]);
            }
        }
    }
    if (max > 10000) {
        in_child(submit_scaling, NULL, "memory", value, 32, max >= 1000000 ? 1000000 : max);
    }
    if (dir == scratch) {
        rmdir(scratch);
    }
    return 0;
}
