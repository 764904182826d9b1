/*
 * A program built against the frozen 1.0 header (tests/abi/1.0/softadastra/sync.h), never
 * edited after 1.0: it must keep building and passing against every later 1.x library. If it
 * fails, the library broke the ABI rules stated at the top of the header.
 */
#include <softadastra/sync.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned long g_passed, g_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            g_passed++;                                                    \
        } else {                                                           \
            g_failed++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s (%s)\n", __FILE__,    \
                    __LINE__, #cond, sa_last_error_message());             \
        }                                                                  \
    } while (0)

static const uint64_t T0 = UINT64_C(1700000000000);

/* Codes and enum values keep their 1.0 numbers and names. */
static void codes(void)
{
    static const struct {
        int32_t code;
        const char *name;
    } statuses[] = {
        {SA_OK, "SA_OK"},
        {SA_ERR_INVALID_ARGUMENT, "SA_ERR_INVALID_ARGUMENT"},
        {SA_ERR_INVALID_CONTEXT, "SA_ERR_INVALID_CONTEXT"},
        {SA_ERR_INVALID_NODE_ID, "SA_ERR_INVALID_NODE_ID"},
        {SA_ERR_INVALID_OPERATION, "SA_ERR_INVALID_OPERATION"},
        {SA_ERR_INVALID_REMOTE_OPERATION, "SA_ERR_INVALID_REMOTE_OPERATION"},
        {SA_ERR_NOT_FOUND, "SA_ERR_NOT_FOUND"},
        {SA_ERR_QUEUE_FAILED, "SA_ERR_QUEUE_FAILED"},
        {SA_ERR_RETRY_FAILED, "SA_ERR_RETRY_FAILED"},
        {SA_ERR_CONFLICT, "SA_ERR_CONFLICT"},
        {SA_ERR_STORE_APPLY, "SA_ERR_STORE_APPLY"},
        {SA_ERR_ACK_TRACKING, "SA_ERR_ACK_TRACKING"},
        {SA_ERR_CAPACITY_EXCEEDED, "SA_ERR_CAPACITY_EXCEEDED"},
        {SA_ERR_IO, "SA_ERR_IO"},
        {SA_ERR_CORRUPT, "SA_ERR_CORRUPT"},
        {SA_ERR_INTERNAL, "SA_ERR_INTERNAL"},
        {SA_ERR_IN_USE, "SA_ERR_IN_USE"},
        {SA_ERR_MALFORMED_FRAME, "SA_ERR_MALFORMED_FRAME"},
    };
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        CHECK(statuses[i].code == (int32_t)i);
        CHECK(strcmp(sa_status_str(statuses[i].code), statuses[i].name) == 0);
    }
    CHECK(SA_OP_PUT == 1 && SA_OP_DELETE == 2 && SA_DURABLE == 1 && SA_FAST == 2);
    CHECK(SA_POLICY_LAST_WRITE_WINS == 1 && SA_POLICY_KEEP_REMOTE == 3);
    CHECK(SA_STATUS_PENDING == 1 && SA_STATUS_FAILED == 5);
    CHECK(SA_APPLIED == 1 && SA_DUPLICATE == 3 && SA_ACK_ALREADY_ACKNOWLEDGED == 2);
    CHECK(SA_REASON_NO_LOCAL_ENTRY == 1 && SA_REASON_POLICY_KEEP_REMOTE == 9);
    CHECK(SA_SYNC_VERSION_MAJOR == 0);
}

/* Two nodes exchange a write with the 1.0 structs, every one carrying its 1.0 size. */
static void exchange(void)
{
    sa_store *store_a = NULL, *store_b = NULL;
    sa_sync *a = NULL, *b = NULL;
    sa_clock *clock = NULL;
    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_store_open(NULL, SA_DURABLE, &store_a) == SA_OK);
    CHECK(sa_store_open(NULL, SA_DURABLE, &store_b) == SA_OK);
    CHECK(sa_clock_new_manual(T0, &clock) == SA_OK);
    CHECK(sa_sync_config_durable("node-a", &config) == SA_OK);
    CHECK(config.struct_size == sizeof config);
    CHECK(sa_sync_config_validate(&config) == SA_OK);
    CHECK(sa_sync_new(store_a, &config, &a) == SA_OK);
    CHECK(sa_sync_config_fast("node-b", &config) == SA_OK);
    CHECK(sa_sync_new(store_b, &config, &b) == SA_OK);
    if (a == NULL || b == NULL || clock == NULL) {
        goto done;
    }
    CHECK(sa_sync_set_clock(a, clock) == SA_OK && sa_sync_set_clock(b, clock) == SA_OK);

    sa_submitted submitted = {.struct_size = sizeof submitted};
    CHECK(sa_sync_submit(a, SA_OP_PUT, "user:1", (const uint8_t *)"Ada", 3, &submitted) == SA_OK);
    CHECK(submitted.version == 1 && strcmp(submitted.sync_id, "node-a-1") == 0);

    sa_batch *batch = NULL;
    CHECK(sa_sync_next_batch(a, &batch) == SA_OK && sa_batch_len(batch) == 1);
    sa_envelope_view view = {.struct_size = sizeof view};
    sa_remote_op op = {.struct_size = sizeof op};
    sa_apply_result applied = {.struct_size = sizeof applied};
    CHECK(sa_batch_get(batch, 0, &view) == SA_OK && view.op_type == SA_OP_PUT);
    CHECK(view.status == SA_STATUS_IN_FLIGHT && view.version == 1);
    CHECK(sa_remote_op_from_view(&view, &op) == SA_OK);
    CHECK(sa_sync_receive_remote(b, &op, &applied) == SA_OK && applied.outcome == SA_APPLIED);
    sa_buf frame = {NULL, 0};
    CHECK(sa_batch_encode(batch, &frame) == SA_OK);
    sa_receive_report report = {.struct_size = sizeof report};
    sa_buf ack = {NULL, 0};
    CHECK(sa_sync_receive_frame(b, frame.ptr, frame.len, &report, &ack) == SA_OK);
    CHECK(report.duplicate == 1 && report.invalid == 0); /* already applied above */
    size_t acknowledged = 0;
    CHECK(sa_sync_ack_frame(a, ack.ptr, ack.len, &acknowledged) == SA_OK && acknowledged == 1);
    sa_buf_free(&frame);
    sa_buf_free(&ack);
    sa_batch_free(batch);

    sa_sync_state_info state = {.struct_size = sizeof state};
    CHECK(sa_sync_state(a, &state) == SA_OK);
    CHECK(state.acknowledged_count == 1 && state.last_submitted_version == 1);
    CHECK(sa_sync_state(b, &state) == SA_OK && state.remote_applied_count == 1);
    CHECK(state.remote_duplicate_count == 1);

    sa_tick_result tick = {.struct_size = sizeof tick};
    CHECK(sa_sync_tick(a, true, &tick) == SA_OK && tick.pruned_count == 1);
    sa_batch_free(tick.batch);

    sa_resolution resolution = {.struct_size = sizeof resolution};
    CHECK(sa_conflict_resolve(SA_POLICY_LAST_WRITE_WINS, false, 0, NULL, T0 << 16, "node-b",
                              &resolution) == SA_OK);
    CHECK(resolution.apply_remote && resolution.reason == SA_REASON_NO_LOCAL_ENTRY);

    sa_replay_report replay = {.struct_size = sizeof replay};
    CHECK(sa_store_replay_report(store_a, &replay) == SA_OK && replay.records == 0);

    /* A size the library cannot honour is refused, not overrun. */
    state.struct_size = 2;
    CHECK(sa_sync_state(a, &state) == SA_ERR_INVALID_ARGUMENT);
done:
    sa_sync_free(a);
    sa_sync_free(b);
    sa_store_free(store_a);
    sa_store_free(store_b);
    sa_clock_free(clock);
}

int main(void)
{
    codes();
    exchange();
    printf("%lu passed, %lu failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
