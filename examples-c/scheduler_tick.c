/*
 * Scheduler tick: one deterministic sync step (retry expired operations, optionally prune
 * acknowledged ones, take the next batch). The C version of the module doc's scheduler_tick
 * example.
 *
 *   cc -std=c11 -Iinclude examples-c/scheduler_tick.c -lsoftadastra_sync
 */
#include <stdbool.h>
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

int main(void)
{
    printf("== SYNC SCHEDULER TICK EXAMPLE ==\n");

    const char *wal_path = "scheduler_tick_store.wal";
    remove(wal_path);

    sa_store *store = NULL;
    CHECK(sa_store_open(wal_path, SA_DURABLE, &store));

    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_durable("node-a", &config));

    sa_sync *engine = NULL;
    CHECK(sa_sync_new(store, &config, &engine));

    /* Ticks read the clock (ACK deadlines, retry back-off): a manual clock makes them
     * reproducible. */
    sa_clock *clock = NULL;
    CHECK(sa_clock_new_manual(1700000000000ULL, &clock));
    CHECK(sa_sync_set_clock(engine, clock));

    const char *value = "sync-me";
    sa_submitted submitted = {.struct_size = sizeof submitted};
    CHECK(sa_sync_submit(engine, SA_OP_PUT, "task:1", (const uint8_t *)value, strlen(value),
                         &submitted));

    /* prune = false: keep acknowledged operations in the outbox for inspection. */
    sa_tick_result tick = {.struct_size = sizeof tick};
    CHECK(sa_sync_tick(engine, false, &tick));

    size_t batch_size = sa_batch_len(tick.batch);
    /* A tick "has work" when it produced operations to send. */
    bool has_work = batch_size > 0;

    printf("Tick batch size: %zu\n", batch_size);

    printf("Tick has work: %d\n", has_work);

    for (size_t i = 0; i < batch_size; i++) {
        sa_envelope_view envelope = {.struct_size = sizeof envelope};
        CHECK(sa_batch_get(tick.batch, i, &envelope));
        printf("Transport should send: %s\n", envelope.sync_id.ptr);
    }

    /* The tick's batch belongs to the caller. */
    sa_batch_free(tick.batch);
    sa_sync_free(engine);
    sa_store_free(store);
    sa_clock_free(clock);

    remove(wal_path);

    return 0;
}
