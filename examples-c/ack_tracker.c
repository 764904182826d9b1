/*
 * ACK tracker: the standalone tracker of sync ids waiting for an acknowledgement, each with a
 * deadline. (The engine tracks its own in-flight operations; this is for applications that
 * track deliveries themselves.) The C version of the module doc's ack_tracker example.
 *
 *   cc -std=c11 -Iinclude examples-c/ack_tracker.c -lsoftadastra_sync
 */
#include <stdbool.h>
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
    printf("== ACK TRACKER EXAMPLE ==\n");

    /* Deadlines are measured on this clock; a manual one never lets the 10 s timeout pass
     * by accident, so the run is reproducible. (NULL would mean the system clock.) */
    sa_clock *clock = NULL;
    CHECK(sa_clock_new_manual(1700000000000ULL, &clock));

    sa_ack_tracker *tracker = NULL;
    CHECK(sa_ack_tracker_new(clock, &tracker));

    /* Waiting for an ACK of node-a-1 for at most 10 seconds. */
    CHECK(sa_ack_tracker_track(tracker, "node-a-1", 10000));

    printf("Tracked count: %zu\n", sa_ack_tracker_size(tracker));

    bool waiting = false;
    CHECK(sa_ack_tracker_is_waiting(tracker, "node-a-1", &waiting));

    printf("Waiting: %d\n", waiting);

    /* The ACK arrives. `known` tells whether the id was tracked at all. */
    bool known = false;
    CHECK(sa_ack_tracker_ack(tracker, "node-a-1", &known));

    bool acknowledged = false;
    CHECK(sa_ack_tracker_acknowledged(tracker, "node-a-1", &acknowledged));

    printf("Acknowledged: %d\n", acknowledged);

    /* Acknowledged ids are kept until pruned, so a late duplicate ACK is still recognised. */
    size_t removed = 0;
    CHECK(sa_ack_tracker_prune_received(tracker, &removed));

    printf("Removed: %zu\n", removed);

    bool empty = sa_ack_tracker_size(tracker) == 0;

    sa_ack_tracker_free(tracker);
    sa_clock_free(clock);

    return known && empty ? 0 : 1;
}
