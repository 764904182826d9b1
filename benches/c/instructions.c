/*
 * Instructions per operation of the engine's calls through the C ABI, counted by callgrind:
 * a figure a noisy machine cannot change (scripts/check-instructions.py runs it and compares
 * with benches/instructions.baseline).
 *
 * Run under `valgrind --tool=callgrind --collect-atstart=no`: only the measured calls are
 * counted (CALLGRIND_TOGGLE_COLLECT around them) and each phase is dumped under its name
 * (CALLGRIND_DUMP_STATS_AT), OPS operations each:
 *   submit          OPS sa_sync_submit (fresh keys) at PENDING pending operations;
 *   submit_many     one sa_sync_submit_many of OPS operations (results wanted);
 *   next_batch_ack  sa_sync_next_batch of OPS operations, sa_batch_get of each,
 *                   sa_sync_ack_many of their ids, sa_batch_free;
 *   remote_apply    OPS sa_sync_receive_remote (fresh keys, all applied) on an engine that
 *                   applied PENDING before;
 *   remote_frame    one sa_sync_receive_frame of a V2 frame of OPS operations.
 * Memory store, fast preset with ACKs required, 32-byte values, keys "key:000000000"...
 * Outside valgrind the client requests do nothing and the program just runs.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <softadastra/sync.h>

#include "bench.h"
#include <valgrind/callgrind.h>

#define PENDING 10000
#define OPS 1000


static char g_keys[OPS * KEY_BYTES];
static char g_ids[OPS * SA_SYNC_ID_MAX];
static uint8_t g_value[32];

static const char *key(long i) { return g_keys + i * KEY_BYTES; }

static sa_sync *new_engine(sa_store **store, const char *node)
{
    CHECK(sa_store_open(NULL, SA_FAST, store));
    sa_sync_config config = {.struct_size = sizeof config};
    CHECK(sa_sync_config_fast(node, &config));
    config.require_ack = true;
    config.batch_size = OPS;
    sa_sync *engine = NULL;
    CHECK(sa_sync_new(*store, &config, &engine));
    return engine;
}

static void submit_chunk(sa_sync *engine, long first)
{
    sa_submitted submitted = {.struct_size = sizeof submitted};
    make_keys(g_keys, first, OPS);
    for (long i = 0; i < OPS; i++) {
        CHECK(sa_sync_submit(engine, SA_OP_PUT, key(i), g_value, sizeof g_value, &submitted));
    }
}

int main(void)
{
    memset(g_value, 'v', sizeof g_value);
    static sa_local_op local[OPS];
    static sa_submitted results[OPS];
    static sa_remote_op remote[OPS];
    static const char *ack_ids[OPS];

    sa_store *store = NULL;
    sa_sync *engine = new_engine(&store, "node-a");
    for (long first = 0; first < PENDING; first += OPS) {
        submit_chunk(engine, first);
    }

    sa_submitted submitted = {.struct_size = sizeof submitted};
    make_keys(g_keys, PENDING, OPS);
    CALLGRIND_TOGGLE_COLLECT;
    for (long i = 0; i < OPS; i++) {
        CHECK(sa_sync_submit(engine, SA_OP_PUT, key(i), g_value, sizeof g_value, &submitted));
    }
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("submit");

    make_keys(g_keys, PENDING + OPS, OPS);
    for (long i = 0; i < OPS; i++) {
        local[i] = (sa_local_op){.struct_size = sizeof local[i], .op_type = SA_OP_PUT,
                                 .key = key(i), .value = g_value, .value_len = sizeof g_value};
        results[i].struct_size = sizeof results[i];
    }
    CALLGRIND_TOGGLE_COLLECT;
    CHECK(sa_sync_submit_many(engine, local, OPS, results));
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("submit_many");

    sa_batch *batch = NULL;
    sa_envelope_view view = {.struct_size = sizeof view};
    sa_ack_report report = {.struct_size = sizeof report};
    CALLGRIND_TOGGLE_COLLECT;
    CHECK(sa_sync_next_batch(engine, &batch));
    size_t len = sa_batch_len(batch);
    for (size_t i = 0; i < len; i++) {
        CHECK(sa_batch_get(batch, i, &view));
        ack_ids[i] = view.sync_id.ptr;
    }
    CHECK(sa_sync_ack_many(engine, ack_ids, len, &report));
    sa_batch_free(batch);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("next_batch_ack");
    if (len != OPS || report.acknowledged != OPS) {
        fprintf(stderr, "next_batch_ack: %zu handed out, %zu acknowledged\n", len,
                report.acknowledged);
        return 1;
    }

    /* Frames come from a third node, made before the receiver's measured calls. */
    sa_store *framer_store = NULL;
    sa_sync *framer = new_engine(&framer_store, "framer");
    submit_chunk(framer, 900000000);
    CHECK(sa_sync_next_batch(framer, &batch));
    sa_buf frame = {0};
    CHECK(sa_batch_encode(batch, &frame));
    sa_batch_free(batch);

    sa_store *recv_store = NULL;
    sa_sync *recv = new_engine(&recv_store, "recv");
    sa_apply_result applied = {.struct_size = sizeof applied};
    for (long first = 0; first < PENDING; first += OPS) {
        make_remote_ops(remote, g_ids, g_keys, first, OPS, g_value, sizeof g_value);
        for (long i = 0; i < OPS; i++) {
            CHECK(sa_sync_receive_remote(recv, &remote[i], &applied));
        }
    }
    make_remote_ops(remote, g_ids, g_keys, PENDING, OPS, g_value, sizeof g_value);
    CALLGRIND_TOGGLE_COLLECT;
    for (long i = 0; i < OPS; i++) {
        CHECK(sa_sync_receive_remote(recv, &remote[i], &applied));
    }
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("remote_apply");
    if (applied.outcome != SA_APPLIED) {
        fprintf(stderr, "remote_apply: the last operation was not applied\n");
        return 1;
    }

    sa_receive_report received = {.struct_size = sizeof received};
    sa_buf ack_frame = {0};
    CALLGRIND_TOGGLE_COLLECT;
    CHECK(sa_sync_receive_frame(recv, frame.ptr, frame.len, &received, &ack_frame));
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("remote_frame");
    if (received.applied != OPS) {
        fprintf(stderr, "remote_frame: %zu of %d applied\n", received.applied, OPS);
        return 1;
    }

    sa_buf_free(&ack_frame);
    sa_buf_free(&frame);
    sa_sync_free(recv);
    sa_store_free(recv_store);
    sa_sync_free(framer);
    sa_store_free(framer_store);
    sa_sync_free(engine);
    sa_store_free(store);
    printf("ok\n");
    return 0;
}
