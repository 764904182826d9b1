/*
 * Basic sync: a local write becomes a sync operation, which is queued and handed out in a
 * batch for a transport to send. The C version of the module doc's basic_sync example.
 *
 *   cc -std=c11 -Iinclude examples-c/basic_sync.c -lsoftadastra_sync
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
    printf("== BASIC SYNC EXAMPLE ==\n");

    /* Start from an empty log: a WAL left by an earlier run would be replayed. */
    const char *wal_path = "basic_sync_store.wal";
    remove(wal_path);

    sa_store *store = NULL;
    CHECK(sa_store_open(wal_path, SA_DURABLE, &store));

    /* The durable preset: writes are on disk before they return, and sent operations wait
     * for an ACK. The node id is the origin of every operation and the prefix of its ids. */
    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_durable("node-a", &config));

    /* Building the engine validates the store and config (the C++ SyncContext step). */
    sa_sync *engine = NULL;
    CHECK(sa_sync_new(store, &config, &engine));

    /* A manual clock makes stamps (and so every run) reproducible. */
    sa_clock *clock = NULL;
    CHECK(sa_clock_new_manual(1700000000000ULL, &clock));
    CHECK(sa_sync_set_clock(engine, clock));

    /* The local write is applied to the store first, then tracked for propagation. */
    const char *value = "Gaspard";
    sa_submitted submitted = {.struct_size = sizeof submitted};
    CHECK(sa_sync_submit(engine, SA_OP_PUT, "user:1", (const uint8_t *)value, strlen(value),
                         &submitted));

    printf("Submitted sync id: %s\n", submitted.sync_id);

    /* auto_queue is on, so the operation is already queued: the batch holds it. */
    sa_batch *batch = NULL;
    CHECK(sa_sync_next_batch(engine, &batch));

    printf("Batch size: %zu\n", sa_batch_len(batch));

    for (size_t i = 0; i < sa_batch_len(batch); i++) {
        sa_envelope_view envelope = {.struct_size = sizeof envelope};
        CHECK(sa_batch_get(batch, i, &envelope));
        /* A transport would send the envelope here. */
        printf("Ready to send: %s version=%" PRIu64 "\n", envelope.sync_id.ptr,
               envelope.version);
    }

    /* The batch owns the views read above, so it goes first. Then the engine, the store and
     * the clock, in any order (the engine keeps its own references). */
    sa_batch_free(batch);
    sa_sync_free(engine);
    sa_store_free(store);
    sa_clock_free(clock);

    remove(wal_path);

    return 0;
}
