/*
 * Remote apply: an operation received from another node is validated, checked for conflicts
 * with the configured policy, and applied to the local store when accepted. The C version of
 * the module doc's remote_apply example.
 *
 *   cc -std=c11 -Iinclude examples-c/remote_apply.c -lsoftadastra_sync
 */
#include <stdint.h>
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
    printf("== REMOTE APPLY EXAMPLE ==\n");

    const char *wal_path = "remote_apply_store.wal";
    remove(wal_path);

    sa_store *store = NULL;
    CHECK(sa_store_open(wal_path, SA_DURABLE, &store));

    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_durable("node-local", &config));

    sa_sync *engine = NULL;
    CHECK(sa_sync_new(store, &config, &engine));

    /* Remote stamps are checked against the local clock (max_clock_skew_ms): a manual clock
     * keeps the example reproducible. */
    const uint64_t now_ms = 1700000000000ULL;
    sa_clock *clock = NULL;
    CHECK(sa_clock_new_manual(now_ms, &clock));
    CHECK(sa_sync_set_clock(engine, clock));

    /* What a transport would deliver: version 1 of node-remote, a put of remote:user:1.
     * In a real exchange sa_remote_op_from_view fills this from the sender's batch. */
    const char *value = "Remote value";
    sa_remote_op remote_operation = {
        .struct_size = sizeof remote_operation,
        .sync_id = "node-remote-1",
        .origin = "node-remote",
        .version = 1,
        .stamp = now_ms << 16, /* written on node-remote "now" (wall ms << 16 | logical) */
        .op_type = SA_OP_PUT,
        .key = "remote:user:1",
        .value = (const uint8_t *)value,
        .value_len = strlen(value),
        .has_replaces = false, /* it did not overwrite an earlier write at its origin */
        .replaces_stamp = 0,
        .replaces_origin = NULL,
    };

    /* An invalid operation would be an error here, and leave the store untouched. */
    sa_apply_result result = {.struct_size = sizeof result};
    CHECK(sa_sync_receive_remote(engine, &remote_operation, &result));

    if (result.outcome == SA_APPLIED) {
        printf("Remote operation applied\n");
    }

    /* The store now holds the remote value; an absent key would give a NULL entry. */
    sa_entry *entry = NULL;
    CHECK(sa_store_get(store, "remote:user:1", &entry));

    if (entry != NULL) {
        sa_bytes stored = sa_entry_value(entry);
        /* Values are bytes, not C strings: print them with their length. */
        printf("Stored value: %.*s\n", (int)stored.len, (const char *)stored.ptr);
    }

    sa_entry_free(entry);
    sa_sync_free(engine);
    sa_store_free(store);
    sa_clock_free(clock);

    remove(wal_path);

    return 0;
}
