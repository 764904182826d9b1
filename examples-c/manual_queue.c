/*
 * Manual queue: with auto_queue off, a submitted operation stays pending (tracked in the
 * outbox, not sent) until the application queues it. The C version of the module doc's
 * manual_queue example.
 *
 *   cc -std=c11 -Iinclude examples-c/manual_queue.c -lsoftadastra_sync
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <softadastra/sync.h>

/* Every fallible call returns an sa_status; on failure, name it and print the library's
 * message (read right away: the next sa_ call replaces it). */
#define CHECK(call)                                                                    \
    do {                                                                               \
        sa_status check_status_ = (call);                                              \
        if (check_status_ != SA_OK) {                                                  \
            const char *check_name_ = sa_status_str(check_status_);                    \
            fprintf(stderr, "%s failed: %s: %s\n", #call, check_name_,                 \
                    sa_last_error_message());                                          \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* The number of operations ready for the next batch. */
static uint64_t queued_count(const sa_sync *engine)
{
    sa_sync_state_info state = {.struct_size = sizeof state};
    CHECK(sa_sync_state(engine, &state));
    return state.queued_count;
}

int main(void)
{
    printf("== MANUAL QUEUE EXAMPLE ==\n");

    const char *wal_path = "manual_queue_store.wal";
    remove(wal_path);

    sa_store *store = NULL;
    CHECK(sa_store_open(wal_path, SA_DURABLE, &store));

    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_durable("node-a", &config));

    /* The application decides when an operation may leave (e.g. after a user confirms). */
    config.auto_queue = false;

    sa_sync *engine = NULL;
    CHECK(sa_sync_new(store, &config, &engine));

    /* A manual clock makes stamps (and so every run) reproducible. */
    sa_clock *clock = NULL;
    CHECK(sa_clock_new_manual(1700000000000ULL, &clock));
    CHECK(sa_sync_set_clock(engine, clock));

    const char *value = "manual-value";
    sa_submitted submitted = {.struct_size = sizeof submitted};
    CHECK(sa_sync_submit(engine, SA_OP_PUT, "manual:key", (const uint8_t *)value,
                         strlen(value), &submitted));

    /* The write is in the store and the outbox, but pending: not queued yet. */
    printf("Queued before manual queue: %" PRIu64 "\n", queued_count(engine));

    /* Queue it by its sync id (this is logged, so it survives a restart). */
    CHECK(sa_sync_queue(engine, submitted.sync_id));

    printf("Queued after manual queue: %" PRIu64 "\n", queued_count(engine));

    sa_batch *batch = NULL;
    CHECK(sa_sync_next_batch(engine, &batch));

    printf("Batch size: %zu\n", sa_batch_len(batch));

    sa_batch_free(batch);
    sa_sync_free(engine);
    sa_store_free(store);
    sa_clock_free(clock);

    remove(wal_path);

    return 0;
}
