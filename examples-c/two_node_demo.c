/*
 * Two nodes, no network. Node A writes while offline, node B writes the same key meanwhile;
 * then batches are carried by hand from one engine to the other (a transport would do this),
 * ACKs are returned, a lost ACK makes A send an operation again (B reports the duplicate),
 * and both nodes end with the same value for every key.
 *
 *   cc -std=c11 -Iinclude examples-c/two_node_demo.c -lsoftadastra_sync
 *
 * Exits 1 if any call fails or if the nodes do not converge.
 */
#include <inttypes.h>
#include <stdbool.h>
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

/* Both clocks start here; B's runs 5 ms ahead of A's, as real clocks are never equal. With
 * manual clocks every stamp, and so the winner of the conflict, is the same on every run. */
#define START_MS 1700000000000ULL
#define B_AHEAD_MS 5

/* One node: its own clock, durable store (WAL file) and sync engine. */
typedef struct node {
    const char *name;
    const char *wal_path;
    sa_clock *clock;
    sa_store *store;
    sa_sync *engine;
} node;

static void node_open(node *n, const char *name, const char *wal_path, uint64_t start_ms)
{
    n->name = name;
    n->wal_path = wal_path;
    /* Start from an empty log: a WAL left by an earlier run would be replayed. */
    remove(wal_path);
    CHECK(sa_store_open(wal_path, SA_DURABLE, &n->store));

    /* Durable preset: writes on disk before they return, sent operations wait for an ACK
     * (timeout 10 s, first re-send after at most 5 s), last-write-wins conflicts. */
    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_durable(name, &config));
    CHECK(sa_sync_new(n->store, &config, &n->engine));

    CHECK(sa_clock_new_manual(start_ms, &n->clock));
    CHECK(sa_sync_set_clock(n->engine, n->clock));
}

static void node_close(node *n)
{
    /* The engine keeps its store and clock alive, so the order does not matter. */
    sa_sync_free(n->engine);
    sa_store_free(n->store);
    sa_clock_free(n->clock);
    remove(n->wal_path);
}

/* A local write: applied to the node's store at once, and queued for propagation. */
static void write_value(const node *n, const char *key, const char *value,
                        sa_submitted *submitted)
{
    submitted->struct_size = sizeof *submitted;
    CHECK(sa_sync_submit(n->engine, SA_OP_PUT, key, (const uint8_t *)value, strlen(value),
                         submitted));
    printf("%s: put %s = \"%s\" -> %s\n", n->name, key, value, submitted->sync_id);
}

static const char *outcome_name(int32_t outcome)
{
    switch (outcome) {
    case SA_APPLIED:
        return "SA_APPLIED";
    case SA_IGNORED:
        return "SA_IGNORED";
    case SA_DUPLICATE:
        return "SA_DUPLICATE";
    default:
        return "unknown outcome";
    }
}

static const char *reason_text(int32_t reason)
{
    switch (reason) {
    case 0:
        return "already received";
    case SA_REASON_NO_LOCAL_ENTRY:
        return "new key here";
    case SA_REASON_SAME_WRITE:
        return "this very write is already here";
    case SA_REASON_CAUSAL_SUCCESSOR:
        return "it replaces the local write";
    case SA_REASON_SAME_ORIGIN_NEWER:
        return "newer write from the same origin";
    case SA_REASON_SAME_ORIGIN_OLDER:
        return "older write from the same origin";
    case SA_REASON_REMOTE_WINS:
        return "last write wins: the remote write is newer";
    case SA_REASON_LOCAL_WINS:
        return "last write wins: the local write is newer";
    case SA_REASON_POLICY_KEEP_LOCAL:
        return "policy keeps the local write";
    case SA_REASON_POLICY_KEEP_REMOTE:
        return "policy takes the remote write";
    default:
        return "unknown reason";
    }
}

/*
 * One sync step of `from` towards `to`: a scheduler tick on `from` (re-queue operations whose
 * ACK timed out, then take the next batch), each envelope handed to `to`, and `to`'s ACK
 * handed back to `from` -- except the ACK of `lost_ack` (may be NULL), which "gets lost".
 * Returns how many envelopes were sent.
 */
static size_t sync_step(const node *from, const node *to, const char *lost_ack)
{
    sa_tick_result tick = {.struct_size = sizeof tick};
    CHECK(sa_sync_tick(from->engine, false, &tick));

    size_t sent = sa_batch_len(tick.batch);
    printf("%s tick: ", from->name);
    if (tick.retried_count > 0) {
        printf("%" PRIu64 " re-queued (no ACK before the timeout), ", tick.retried_count);
    }
    printf("batch of %zu\n", sent);

    for (size_t i = 0; i < sent; i++) {
        sa_envelope_view envelope = {.struct_size = sizeof envelope};
        CHECK(sa_batch_get(tick.batch, i, &envelope));

        /* The envelope is what a transport would serialise; on the receiving side it becomes
         * an sa_remote_op. Its pointers borrow the batch, which is still alive here. */
        sa_remote_op op = {.struct_size = sizeof op};
        CHECK(sa_remote_op_from_view(&envelope, &op));

        sa_apply_result result = {.struct_size = sizeof result};
        CHECK(sa_sync_receive_remote(to->engine, &op, &result));

        printf("  %s -> %s: %s put %s = \"%.*s\"", from->name, to->name, envelope.sync_id.ptr,
               envelope.key.ptr, (int)envelope.value.len, (const char *)envelope.value.ptr);
        if (envelope.retry_count > 0) {
            printf(" (re-send %" PRIu32 ")", envelope.retry_count);
        }
        printf("\n    %s: %s%s (%s)\n", to->name, outcome_name(result.outcome),
               result.conflict_detected ? ", CONFLICT detected" : "",
               reason_text(result.reason));

        /* The receiver acknowledges every operation it handled -- applied, ignored or
         * duplicate alike: the ACK says "delivered", not "you won". */
        if (lost_ack != NULL && strcmp(envelope.sync_id.ptr, lost_ack) == 0) {
            printf("    ACK %s: lost on the way back\n", envelope.sync_id.ptr);
            continue;
        }
        int32_t ack;
        CHECK(sa_sync_ack(from->engine, envelope.sync_id.ptr, &ack));
        printf("    ACK %s -> %s: %s\n", envelope.sync_id.ptr, from->name,
               ack == SA_ACK_ACKNOWLEDGED ? "acknowledged" : "already acknowledged");
    }

    sa_batch_free(tick.batch);
    return sent;
}

/* Time passes on both nodes. */
static void advance_both(const node *a, const node *b, uint64_t ms)
{
    CHECK(sa_clock_advance(a->clock, ms));
    CHECK(sa_clock_advance(b->clock, ms));
}

/* True when `key` is absent on both nodes, or present on both with the same value, stamp and
 * origin (the very same write). Prints the key's value. */
static bool same_on_both(const node *a, const node *b, const char *key)
{
    sa_entry *ea = NULL;
    sa_entry *eb = NULL;
    CHECK(sa_store_get(a->store, key, &ea));
    CHECK(sa_store_get(b->store, key, &eb));

    bool same;
    if (ea == NULL || eb == NULL) {
        same = ea == NULL && eb == NULL;
        printf("%-7s %s\n", key, same ? "absent on both nodes" : "present on one node only");
    } else {
        sa_bytes va = sa_entry_value(ea);
        sa_bytes vb = sa_entry_value(eb);
        sa_str oa = sa_entry_origin(ea);
        sa_str ob = sa_entry_origin(eb);
        same = va.len == vb.len && memcmp(va.ptr, vb.ptr, va.len) == 0 &&
               sa_entry_stamp(ea) == sa_entry_stamp(eb) && oa.len == ob.len &&
               memcmp(oa.ptr, ob.ptr, oa.len) == 0;
        printf("%-7s %s: %s \"%.*s\" / %s \"%.*s\" (written by %s)\n", key,
               same ? "same" : "DIFFERENT", a->name, (int)va.len, (const char *)va.ptr, b->name,
               (int)vb.len, (const char *)vb.ptr, oa.ptr);
    }

    sa_entry_free(ea);
    sa_entry_free(eb);
    return same;
}

static void print_states(const node *a, const node *b)
{
    sa_sync_state_info sa = {.struct_size = sizeof sa};
    sa_sync_state_info sb = {.struct_size = sizeof sb};
    CHECK(sa_sync_state(a->engine, &sa));
    CHECK(sa_sync_state(b->engine, &sb));

    printf("%-28s %8s %8s\n", "", a->name, b->name);
#define ROW(label, field) printf("%-28s %8" PRIu64 " %8" PRIu64 "\n", label, sa.field, sb.field)
    ROW("outbox size", outbox_size);
    ROW("pending", pending_count);
    ROW("queued", queued_count);
    ROW("in flight", in_flight_count);
    ROW("acknowledged", acknowledged_count);
    ROW("failed", failed_count);
    ROW("outbox bytes", outbox_bytes);
    ROW("last submitted version", last_submitted_version);
    ROW("last applied remote version", last_applied_remote_version);
    ROW("total retries", total_retries);
    ROW("remote applied", remote_applied_count);
    ROW("remote ignored", remote_ignored_count);
    ROW("remote duplicates", remote_duplicate_count);
    ROW("conflicts", conflict_count);
#undef ROW
}

int main(void)
{
    printf("== TWO NODE DEMO ==\n");

    node a;
    node b;
    node_open(&a, "node-a", "two_node_demo_a.wal", START_MS);
    node_open(&b, "node-b", "two_node_demo_b.wal", START_MS + B_AHEAD_MS);

    printf("\n-- node-a is offline and writes locally --\n");
    sa_submitted submitted = {.struct_size = sizeof submitted};
    write_value(&a, "user:1", "Gaspard", &submitted);
    write_value(&a, "doc:1", "draft from A", &submitted);
    char a_doc_sync_id[SA_SYNC_ID_MAX];
    memcpy(a_doc_sync_id, submitted.sync_id, sizeof a_doc_sync_id);

    /* Nothing is lost while offline: the writes are in A's store and queued in its outbox. */
    sa_sync_state_info state = {.struct_size = sizeof state};
    CHECK(sa_sync_state(a.engine, &state));
    printf("%s: %" PRIu64 " operations queued, nothing sent yet\n", a.name, state.queued_count);

    printf("\n-- meanwhile node-b writes the same key --\n");
    write_value(&b, "doc:1", "draft from B", &submitted);
    write_value(&b, "task:1", "review doc:1", &submitted);

    printf("\n-- node-a is back online: node-a -> node-b --\n");
    sync_step(&a, &b, a_doc_sync_id);

    printf("\n-- node-b -> node-a --\n");
    sync_step(&b, &a, NULL);

    /* A never got the ACK of its doc:1 write: after the ACK timeout the next tick re-queues
     * it, and once the retry back-off has passed a tick sends it again. B has handled it
     * already, so the redelivery is reported as SA_DUPLICATE and changes nothing. */
    printf("\n-- 10 s later: node-a's ACK timeout has passed; the re-send waits for the "
           "retry back-off --\n");
    advance_both(&a, &b, 10000);
    sync_step(&a, &b, NULL);

    printf("\n-- 5 s later: the retry back-off has passed --\n");
    advance_both(&a, &b, 5000);
    sync_step(&a, &b, NULL);

    /* Nothing is left to send either way. */
    printf("\n-- nothing left to send --\n");
    size_t left = sync_step(&a, &b, NULL);
    left += sync_step(&b, &a, NULL);
    if (left != 0) {
        fprintf(stderr, "unexpected work left in an outbox\n");
        exit(1);
    }

    printf("\n-- both nodes hold the same data --\n");
    static const char *const keys[] = {"user:1", "doc:1", "task:1"};
    bool converged = true;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        converged = same_on_both(&a, &b, keys[i]) && converged;
    }
    size_t len_a = 0;
    size_t len_b = 0;
    CHECK(sa_store_len(a.store, &len_a));
    CHECK(sa_store_len(b.store, &len_b));
    converged = converged && len_a == len_b && len_a == sizeof keys / sizeof keys[0];
    printf("keys: %s %zu, %s %zu\n", a.name, len_a, b.name, len_b);

    printf("\n-- sync state --\n");
    print_states(&a, &b);

    /* Acknowledged operations have done their job: a pruning tick removes them. */
    printf("\n-- pruning acknowledged operations --\n");
    const node *nodes[] = {&a, &b};
    for (size_t i = 0; i < 2; i++) {
        sa_tick_result tick = {.struct_size = sizeof tick};
        CHECK(sa_sync_tick(nodes[i]->engine, true, &tick));
        CHECK(sa_sync_state(nodes[i]->engine, &state));
        printf("%s: pruned %" PRIu64 ", outbox size now %" PRIu64 "\n", nodes[i]->name,
               tick.pruned_count, state.outbox_size);
        sa_batch_free(tick.batch);
    }

    node_close(&a);
    node_close(&b);

    if (!converged) {
        printf("\nFAILED: the nodes did not converge\n");
        return 1;
    }
    printf("\nConverged: both nodes hold the same value for every key.\n");
    return 0;
}
