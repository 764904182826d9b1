/*
 * Retry: an operation sent without an ACK before its timeout is re-queued (while retries
 * remain) to be sent again; past max_retries it is marked failed, never dropped. The C version
 * of the module doc's retry example.
 *
 *   cc -std=c11 -Iinclude examples-c/retry.c -lsoftadastra_sync
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

int main(void)
{
    printf("== SYNC RETRY EXAMPLE ==\n");

    const char *wal_path = "retry_store.wal";
    remove(wal_path);

    sa_store *store = NULL;
    CHECK(sa_store_open(wal_path, SA_DURABLE, &store));

    /* The fast preset does not wait for ACKs; turn them on, with a tiny timeout so that the
     * example does not wait. */
    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_fast("node-a", &config));
    config.require_ack = true;
    config.max_retries = 3;
    config.ack_timeout_ms = 1;
    config.retry_interval_ms = 1;

    sa_sync *engine = NULL;
    CHECK(sa_sync_new(store, &config, &engine));

    /* Timeouts are measured on the engine's clock: a manual clock lets the example decide
     * exactly when the ACK timeout has passed, instead of sleeping. */
    sa_clock *clock = NULL;
    CHECK(sa_clock_new_manual(1700000000000ULL, &clock));
    CHECK(sa_sync_set_clock(engine, clock));

    const char *value = "retry-value";
    sa_submitted submitted = {.struct_size = sizeof submitted};
    CHECK(sa_sync_submit(engine, SA_OP_PUT, "retry:key", (const uint8_t *)value,
                         strlen(value), &submitted));

    /* Sending makes the operation in flight until its ACK, or until 1 ms passes. */
    sa_batch *batch = NULL;
    CHECK(sa_sync_next_batch(engine, &batch));

    printf("Initial batch size: %zu\n", sa_batch_len(batch));

    /* No ACK comes back: let the timeout pass. */
    CHECK(sa_clock_advance(clock, 1));

    size_t retried = 0;
    CHECK(sa_sync_retry_expired(engine, &retried));

    printf("Retried count: %zu\n", retried);

    /* Still tracked (queued again): failed delivery is never hidden. */
    sa_sync_state_info state = {.struct_size = sizeof state};
    CHECK(sa_sync_state(engine, &state));

    printf("Outbox size: %" PRIu64 "\n", state.outbox_size);

    sa_batch_free(batch);
    sa_sync_free(engine);
    sa_store_free(store);
    sa_clock_free(clock);

    remove(wal_path);

    return 0;
}
