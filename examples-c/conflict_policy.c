/*
 * Conflict policy: decide whether a remote write replaces the local one. The decision is a
 * pure function of the two writes and the policy, so every node decides alike. The C version
 * of the module doc's conflict_policy example.
 *
 *   cc -std=c11 -Iinclude examples-c/conflict_policy.c -lsoftadastra_sync
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
    printf("== CONFLICT POLICY EXAMPLE ==\n");

    /* A write is identified by its hybrid-clock stamp (wall ms << 16 | logical counter) and
     * its origin node. Here node-a holds doc:1 = "local" and node-b sends doc:1 = "remote",
     * both written in the same millisecond. */
    const uint64_t written_at_ms = 1700000000000ULL;
    const uint64_t local_stamp = written_at_ms << 16;
    const uint64_t remote_stamp = written_at_ms << 16;

    /* Last-write-wins orders writes by (stamp, origin): equal stamps are broken by node id,
     * so "node-b" > "node-a" and the remote write wins, on every node. */
    sa_resolution resolution = {.struct_size = sizeof resolution};
    CHECK(sa_conflict_resolve(SA_POLICY_LAST_WRITE_WINS, true, local_stamp, "node-a",
                              remote_stamp, "node-b", &resolution));

    printf("Conflict detected: %d\n", resolution.conflict_detected);

    printf("Apply remote: %d\n", resolution.apply_remote);

    printf("Keep local: %d\n", resolution.keep_local);

    /* A usable decision chooses exactly one outcome. */
    return resolution.apply_remote != resolution.keep_local ? 0 : 1;
}
