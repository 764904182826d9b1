/*
 * Concurrency test for the softadastra-sync C API: one engine on a memory store, driven from
 * THREADS threads at once. Each thread submits OPS_PER_THREAD writes, takes batches, acks every
 * envelope of its batches, reads the engine's state and checks that its error messages are its
 * own. After the join, the remaining batches are drained and the final counters must be exact.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/test_threads.c \
 *      -Ltarget/debug -lsoftadastra_sync -lpthread -Wl,-rpath,$PWD/target/debug -o /tmp/test_threads
 *
 * Small enough (8 x 300 operations) to run under valgrind --tool=helgrind / --tool=drd.
 * The last line printed on stdout is "<passed> passed, <failed> failed"; the exit status is 0
 * only when nothing failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <softadastra/sync.h>

#define THREADS 8
#define OPS_PER_THREAD 300
#define TOTAL (THREADS * OPS_PER_THREAD)
#define NODE "node-a"

/* ---------------------------------------------------------------------------------------- */
/* Thread-safe assertion framework                                                           */
/* ---------------------------------------------------------------------------------------- */

static atomic_ulong g_passed;
static atomic_ulong g_failed;

static bool record(bool ok, const char *file, int line, const char *what)
{
    if (ok) {
        atomic_fetch_add(&g_passed, 1);
    } else {
        atomic_fetch_add(&g_failed, 1);
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK(cond) record((cond) ? true : false, __FILE__, __LINE__, #cond)

/* The call returns `want`; a success leaves the (per-thread) message empty. */
static bool expect_status(const char *file, int line, const char *expr, sa_status got,
                          sa_status want)
{
    const char *message = sa_last_error_message();
    bool ok = got == want && message != NULL && (want != SA_OK || message[0] == '\0');
    if (!record(ok, file, line, expr)) {
        fprintf(stderr, "    returned %s (%d), message \"%s\", expected %s\n", sa_status_str(got),
                (int)got, message != NULL ? message : "(NULL)", sa_status_str(want));
    }
    return ok;
}

#define EXPECT(call, want) expect_status(__FILE__, __LINE__, #call, (call), (want))
#define OK(call) EXPECT(call, SA_OK)

/* ---------------------------------------------------------------------------------------- */

static sa_sync *g_engine;
static sa_store *g_store;
static pthread_barrier_t g_start;

/* One flag per version: set when submit returned it, when a batch handed it out. */
static atomic_uchar g_submitted[TOTAL + 1];
static atomic_uchar g_sent[TOTAL + 1];
/* ACKs that returned SA_ACK_ACKNOWLEDGED. */
static atomic_ulong g_acked;

static bool state_is_consistent(const sa_sync_state_info *st)
{
    return st->outbox_size == st->pending_count + st->queued_count + st->in_flight_count +
                                  st->acknowledged_count + st->failed_count &&
           st->failed_count == 0 && st->pending_count == 0 && st->outbox_size <= TOTAL &&
           st->last_submitted_version <= TOTAL && st->outbox_size <= st->last_submitted_version &&
           st->remote_applied_count == 0 && st->conflict_count == 0 && st->total_retries == 0;
}

/* Takes one batch and acks every envelope in it; returns its length. */
static size_t send_and_ack(void)
{
    sa_batch *batch = NULL;
    if (!OK(sa_sync_next_batch(g_engine, &batch))) {
        return 0;
    }
    size_t len = sa_batch_len(batch);
    for (size_t i = 0; i < len; i++) {
        sa_envelope_view v = {.struct_size = sizeof v};
        if (!OK(sa_batch_get(batch, i, &v))) {
            continue;
        }
        bool in_range = v.version >= 1 && v.version <= TOTAL;
        CHECK(in_range);
        /* Each operation is handed out exactly once. */
        if (in_range) {
            CHECK(atomic_exchange(&g_sent[v.version], 1) == 0);
        }
        CHECK(v.status == SA_STATUS_IN_FLIGHT);
        CHECK(v.retry_count == 0);
        CHECK(v.origin.len == strlen(NODE) && strcmp(v.origin.ptr, NODE) == 0);
        int32_t outcome = 0;
        if (OK(sa_sync_ack(g_engine, v.sync_id.ptr, &outcome))) {
            if (CHECK(outcome == SA_ACK_ACKNOWLEDGED)) {
                atomic_fetch_add(&g_acked, 1);
            }
        }
    }
    sa_batch_free(batch);
    return len;
}

/* A failing call whose message is specific to this thread: other threads failing at the same
 * moment must not change it. */
static void check_own_error(int id, int round)
{
    char bogus[64];
    char expected[128];
    snprintf(bogus, sizeof bogus, "node-x%d-%d", id, round + 1);
    snprintf(expected, sizeof expected, "sync operation not found: %s", bogus);
    EXPECT(sa_sync_ack(g_engine, bogus, NULL), SA_ERR_NOT_FOUND);
    const char *message = sa_last_error_message();
    if (!CHECK(message != NULL && strcmp(message, expected) == 0)) {
        fprintf(stderr, "    thread %d: message \"%s\", expected \"%s\"\n", id,
                message != NULL ? message : "(NULL)", expected);
    }
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_barrier_wait(&g_start);
    for (int i = 0; i < OPS_PER_THREAD; i++) {
        char key[32];
        char value[32];
        snprintf(key, sizeof key, "t%d-k%d", id, i);
        snprintf(value, sizeof value, "v%d-%d", id, i);
        sa_submitted s = {.struct_size = sizeof s};
        if (OK(sa_sync_submit(g_engine, SA_OP_PUT, key, (const uint8_t *)value, strlen(value),
                              &s))) {
            bool in_range = s.version >= 1 && s.version <= TOTAL;
            CHECK(in_range);
            /* Versions are unique. */
            if (in_range) {
                CHECK(atomic_exchange(&g_submitted[s.version], 1) == 0);
            }
            char expected_id[64];
            snprintf(expected_id, sizeof expected_id, NODE "-%" PRIu64, s.version);
            CHECK(strcmp(s.sync_id, expected_id) == 0);
        }
        /* Batches of 3 every 4 submits: the threads leave a backlog for the drain. */
        if (i % 4 == 3) {
            send_and_ack();
        }
        if (i % 10 == 0) {
            sa_sync_state_info st = {.struct_size = sizeof st};
            if (OK(sa_sync_state(g_engine, &st))) {
                CHECK(state_is_consistent(&st));
            }
        }
        if (i % 25 == 0) {
            check_own_error(id, i);
        }
        if (i % 100 == 50) {
            /* Read a key this thread wrote; the listing is consistent too. */
            sa_entry *entry = NULL;
            snprintf(key, sizeof key, "t%d-k%d", id, i - 1);
            snprintf(value, sizeof value, "v%d-%d", id, i - 1);
            if (OK(sa_store_get(g_store, key, &entry)) && CHECK(entry != NULL)) {
                sa_bytes b = sa_entry_value(entry);
                CHECK(b.len == strlen(value) && memcmp(b.ptr, value, b.len) == 0);
            }
            sa_entry_free(entry);
            sa_batch *outbox = NULL;
            if (OK(sa_sync_outbox(g_engine, &outbox))) {
                size_t n = sa_batch_len(outbox);
                CHECK(n >= 1 && n <= TOTAL);
                uint64_t previous = 0;
                bool ordered = true;
                for (size_t j = 0; j < n; j++) {
                    sa_envelope_view v = {.struct_size = sizeof v};
                    if (sa_batch_get(outbox, j, &v) != SA_OK || v.version <= previous) {
                        ordered = false;
                        break;
                    }
                    previous = v.version;
                }
                CHECK(ordered);
            }
            sa_batch_free(outbox);
        }
    }
    check_own_error(id, OPS_PER_THREAD);
    return NULL;
}

int main(void)
{
    if (!OK(sa_store_open(NULL, SA_FAST, &g_store))) {
        printf("%lu passed, %lu failed\n", atomic_load(&g_passed), atomic_load(&g_failed));
        return 1;
    }
    sa_sync_config config = {.struct_size = sizeof config};
    OK(sa_sync_config_fast(NODE, &config));
    config.require_ack = true;
    config.ack_timeout_ms = 3600000; /* nothing expires, even under valgrind */
    config.batch_size = 3;
    if (!OK(sa_sync_new(g_store, &config, &g_engine))) {
        sa_store_free(g_store);
        printf("%lu passed, %lu failed\n", atomic_load(&g_passed), atomic_load(&g_failed));
        return 1;
    }

    pthread_t threads[THREADS];
    int started = 0;
    pthread_barrier_init(&g_start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        if (CHECK(pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) == 0)) {
            started++;
        }
    }
    CHECK(started == THREADS);
    if (started != THREADS) {
        /* The barrier would never open: give up before joining. */
        printf("%lu passed, %lu failed\n", atomic_load(&g_passed), atomic_load(&g_failed));
        return 1;
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    pthread_barrier_destroy(&g_start);

    /* Drain what is still queued. */
    size_t drained = 0;
    for (int guard = 0; guard < TOTAL + 1; guard++) {
        size_t n = send_and_ack();
        if (n == 0) {
            break;
        }
        drained += n;
    }
    printf("drained %zu operations after the join\n", drained);
    CHECK(drained > 0);

    /* Exact final counters. */
    sa_sync_state_info st = {.struct_size = sizeof st};
    if (OK(sa_sync_state(g_engine, &st))) {
        CHECK(st.outbox_size == TOTAL);
        CHECK(st.acknowledged_count == TOTAL);
        CHECK(st.outbox_size == st.acknowledged_count);
        CHECK(st.queued_count == 0);
        CHECK(st.in_flight_count == 0);
        CHECK(st.pending_count == 0);
        CHECK(st.failed_count == 0);
        CHECK(st.last_submitted_version == TOTAL);
        CHECK(st.unacknowledged_bytes == 0);
        CHECK(st.oldest_unacknowledged_age_ms == 0);
        CHECK(st.total_retries == 0);
        printf("outbox_size %" PRIu64 ", acknowledged %" PRIu64 ", queued %" PRIu64
               ", in_flight %" PRIu64 ", last_submitted_version %" PRIu64 "\n",
               st.outbox_size, st.acknowledged_count, st.queued_count, st.in_flight_count,
               st.last_submitted_version);
    }
    CHECK(atomic_load(&g_acked) == TOTAL);
    size_t missing_submit = 0;
    size_t missing_sent = 0;
    for (int v = 1; v <= TOTAL; v++) {
        missing_submit += atomic_load(&g_submitted[v]) == 0;
        missing_sent += atomic_load(&g_sent[v]) == 0;
    }
    CHECK(missing_submit == 0);
    CHECK(missing_sent == 0);

    size_t len = 0;
    if (OK(sa_store_len(g_store, &len))) {
        CHECK(len == TOTAL);
    }
    /* Every key holds its value. */
    size_t wrong = 0;
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < OPS_PER_THREAD; i++) {
            char key[32];
            char value[32];
            snprintf(key, sizeof key, "t%d-k%d", t, i);
            snprintf(value, sizeof value, "v%d-%d", t, i);
            sa_entry *entry = NULL;
            if (sa_store_get(g_store, key, &entry) != SA_OK || entry == NULL) {
                wrong++;
            } else {
                sa_bytes b = sa_entry_value(entry);
                wrong += !(b.len == strlen(value) && memcmp(b.ptr, value, b.len) == 0 &&
                           sa_entry_version(entry) >= 1 && sa_entry_version(entry) <= TOTAL);
            }
            sa_entry_free(entry);
        }
    }
    CHECK(wrong == 0);

    /* The outbox lists every operation once, oldest first, all acknowledged. */
    sa_batch *outbox = NULL;
    if (OK(sa_sync_outbox(g_engine, &outbox)) && CHECK(sa_batch_len(outbox) == TOTAL)) {
        size_t bad = 0;
        for (size_t j = 0; j < TOTAL; j++) {
            sa_envelope_view v = {.struct_size = sizeof v};
            if (sa_batch_get(outbox, j, &v) != SA_OK || v.version != j + 1 ||
                v.status != SA_STATUS_ACKNOWLEDGED) {
                bad++;
            }
        }
        CHECK(bad == 0);
    }
    sa_batch_free(outbox);

    size_t pruned = 0;
    if (OK(sa_sync_prune_completed(g_engine, &pruned))) {
        CHECK(pruned == TOTAL);
    }
    if (OK(sa_sync_state(g_engine, &st))) {
        CHECK(st.outbox_size == 0 && st.acknowledged_count == 0 && st.outbox_bytes == 0);
    }

    sa_sync_free(g_engine);
    sa_store_free(g_store);

    unsigned long failed = atomic_load(&g_failed);
    printf("%lu passed, %lu failed\n", atomic_load(&g_passed), failed);
    return failed == 0 ? 0 : 1;
}
