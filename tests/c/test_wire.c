/*
 * C tests of the wire functions: V2 frames (sa_batch_encode, sa_sync_receive_frame,
 * sa_last_receive_error, sa_sync_ack_frame), V1 frames (sa_v1_hello_frame,
 * sa_v1_frame_for_envelope, sa_sync_handle_v1_frame) and sa_buf ownership, against the shared
 * vectors in tests/vectors/wire.txt. Plain C11. The last line printed on stdout is
 * "<passed> passed, <failed> failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <softadastra/sync.h>

static unsigned long g_passed;
static unsigned long g_failed;

static bool record(bool ok, const char *file, int line, const char *what)
{
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", file, line, what,
                sa_last_error_message());
    }
    return ok;
}
#define CHECK(cond) record((cond) ? true : false, __FILE__, __LINE__, #cond)
#define OK(call) CHECK((call) == SA_OK)
/* The call fails with `want` and a message containing `needle`. */
#define EXPECT(call, want, needle)                                                           \
    CHECK((call) == (want) && strstr(sa_last_error_message(), (needle)) != NULL)

#define T0 UINT64_C(1700000000000)

/* ---------------------------------------------------------------------------------------- */
/* Vectors: "[name]" then "field = value" lines                                             */
/* ---------------------------------------------------------------------------------------- */

#define MAX_VECTORS 16
#define MAX_FIELDS 16
typedef struct {
    char name[64];
    int nfields;
    char field[MAX_FIELDS][32];
    char value[MAX_FIELDS][512];
} vector;
static vector g_vectors[MAX_VECTORS];
static int g_nvectors;

static bool load_vectors(void)
{
    /* __FILE__ is this source's path: the vectors are in ../vectors/. */
    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return false;
    }
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../vectors/wire.txt");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return false;
    }
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '[' && g_nvectors < MAX_VECTORS) {
            vector *v = &g_vectors[g_nvectors++];
            snprintf(v->name, sizeof v->name, "%.*s", (int)(strcspn(line + 1, "]") & 63), line + 1);
            v->nfields = 0;
        } else if (line[0] != '#' && g_nvectors > 0 && strstr(line, " = ") != NULL) {
            vector *v = &g_vectors[g_nvectors - 1];
            if (v->nfields < MAX_FIELDS) {
                char *eq = strstr(line, " = ");
                *eq = '\0';
                snprintf(v->field[v->nfields], sizeof v->field[0], "%.31s", line);
                snprintf(v->value[v->nfields], sizeof v->value[0], "%.511s", eq + 3);
                v->nfields++;
            }
        }
    }
    fclose(f);
    return g_nvectors > 0;
}

static const char *field(const char *name, const char *key)
{
    for (int i = 0; i < g_nvectors; i++) {
        if (strcmp(g_vectors[i].name, name) == 0) {
            for (int j = 0; j < g_vectors[i].nfields; j++) {
                if (strcmp(g_vectors[i].field[j], key) == 0) {
                    return g_vectors[i].value[j];
                }
            }
        }
    }
    fprintf(stderr, "vector %s has no field %s\n", name, key);
    return "";
}

/* Decodes the vector's hex into `out` (at most `cap` bytes); returns the length. */
static size_t vector_bytes(const char *name, uint8_t *out, size_t cap)
{
    const char *hex = field(name, "hex");
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n && i < cap; i++) {
        unsigned byte = 0;
        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
    return n < cap ? n : cap;
}

static bool buf_is_vector(sa_buf buf, const char *name)
{
    uint8_t expected[512];
    size_t n = vector_bytes(name, expected, sizeof expected);
    return buf.ptr != NULL && buf.len == n && memcmp(buf.ptr, expected, n) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Nodes: a memory store and an engine on a manual clock at T0                              */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    sa_store *store;
    sa_sync *sync;
    sa_clock *clock;
} node;

static node node_new(const char *id)
{
    node n = {NULL, NULL, NULL};
    sa_sync_config config = {.struct_size = sizeof config};
    OK(sa_sync_config_durable(id, &config));
    OK(sa_store_open(NULL, SA_DURABLE, &n.store));
    OK(sa_sync_new(n.store, &config, &n.sync));
    OK(sa_clock_new_manual(T0, &n.clock));
    OK(sa_sync_set_clock(n.sync, n.clock));
    return n;
}

static void node_free(node n)
{
    sa_sync_free(n.sync);
    sa_store_free(n.store);
    sa_clock_free(n.clock);
}

static bool put(const node *n, const char *key, const char *value)
{
    sa_submitted s = {.struct_size = sizeof s};
    return sa_sync_submit(n->sync, SA_OP_PUT, key, (const uint8_t *)value, strlen(value), &s) ==
           SA_OK;
}

static bool holds(const node *n, const char *key, const char *value)
{
    sa_entry *entry = NULL;
    if (sa_store_get(n->store, key, &entry) != SA_OK || entry == NULL) {
        return false;
    }
    sa_bytes v = sa_entry_value(entry);
    bool ok = v.len == strlen(value) && memcmp(v.ptr, value, v.len) == 0;
    sa_entry_free(entry);
    return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_buf(void)
{
    sa_buf_free(NULL);
    sa_buf empty = {NULL, 0};
    sa_buf_free(&empty);
    sa_buf hello = {NULL, 0};
    OK(sa_v1_hello_frame("node-a", &hello));
    CHECK(buf_is_vector(hello, "v1_hello"));
    sa_buf_free(&hello);
    CHECK(hello.ptr == NULL && hello.len == 0);
    sa_buf_free(&hello); /* reset: a second free is a no-op */
    EXPECT(sa_v1_hello_frame(NULL, &hello), SA_ERR_INVALID_ARGUMENT, "node_id is NULL");
    EXPECT(sa_v1_hello_frame("node-a", NULL), SA_ERR_INVALID_ARGUMENT, "out_frame is NULL");
    EXPECT(sa_v1_hello_frame("bad id", &hello), SA_ERR_INVALID_NODE_ID, "whitespace");
    CHECK(strcmp(sa_status_str(SA_ERR_MALFORMED_FRAME), "SA_ERR_MALFORMED_FRAME") == 0);
}

static void test_v1_spec_example(void)
{
    node a = node_new("node-a");
    node b = node_new("node-b");
    CHECK(put(&a, field("v1_sync_batch", "key"), field("v1_sync_batch", "value")));
    sa_batch *batch = NULL;
    OK(sa_sync_next_batch(a.sync, &batch));
    sa_envelope_view view = {.struct_size = sizeof view};
    OK(sa_batch_get(batch, 0, &view));
    sa_buf frame = {NULL, 0};
    OK(sa_v1_frame_for_envelope(&view, field("v1_sync_batch", "to"), &frame));
    CHECK(frame.len == 87);
    CHECK(buf_is_vector(frame, "v1_sync_batch"));
    EXPECT(sa_v1_frame_for_envelope(NULL, "node-b", &frame), SA_ERR_INVALID_ARGUMENT,
           "envelope is NULL");
    EXPECT(sa_v1_frame_for_envelope(&view, NULL, &frame), SA_ERR_INVALID_ARGUMENT,
           "to_node_id is NULL");

    sa_buf reply = {NULL, 0};
    OK(sa_sync_handle_v1_frame(b.sync, frame.ptr, frame.len, &reply));
    CHECK(buf_is_vector(reply, "v1_ack"));
    CHECK(holds(&b, "user:1", "Gaspard"));

    sa_buf none = {NULL, 0};
    OK(sa_sync_handle_v1_frame(a.sync, reply.ptr, reply.len, &none));
    CHECK(none.ptr == NULL && none.len == 0);
    sa_sync_state_info st = {.struct_size = sizeof st};
    OK(sa_sync_state(a.sync, &st));
    CHECK(st.acknowledged_count == 1);

    /* A truncated frame is malformed and changes nothing. */
    EXPECT(sa_sync_handle_v1_frame(b.sync, frame.ptr, frame.len - 1, &none),
           SA_ERR_MALFORMED_FRAME, "declares 83 bytes but 82 follow");
    EXPECT(sa_sync_handle_v1_frame(b.sync, NULL, 3, &none), SA_ERR_INVALID_ARGUMENT,
           "frame is NULL");
    EXPECT(sa_sync_handle_v1_frame(NULL, frame.ptr, frame.len, &none), SA_ERR_INVALID_ARGUMENT,
           "sync is NULL");

    sa_buf_free(&frame);
    sa_buf_free(&reply);
    sa_batch_free(batch);
    node_free(a);
    node_free(b);
}

static void test_v2_round_trip(void)
{
    node a = node_new("node-a");
    node b = node_new("node-b");
    CHECK(put(&a, "user:1", "Gaspard"));
    CHECK(put(&a, "user:2", "Ada"));
    sa_batch *batch = NULL;
    OK(sa_sync_next_batch(a.sync, &batch));
    sa_buf frame = {NULL, 0};
    OK(sa_batch_encode(batch, &frame));
    CHECK(frame.len > SA_WIRE_HEADER_BYTES && memcmp(frame.ptr, "SASY", 4) == 0);
    CHECK(frame.ptr[4] == SA_WIRE_FORMAT_VERSION);

    sa_receive_report report = {.struct_size = sizeof report};
    sa_buf ack = {NULL, 0};
    OK(sa_sync_receive_frame(b.sync, frame.ptr, frame.len, &report, &ack));
    CHECK(report.applied == 2 && report.ignored == 0 && report.duplicate == 0 &&
          report.invalid == 0);
    CHECK(holds(&b, "user:2", "Ada"));
    size_t acknowledged = 0;
    OK(sa_sync_ack_frame(a.sync, ack.ptr, ack.len, &acknowledged));
    CHECK(acknowledged == 2);
    OK(sa_sync_ack_frame(a.sync, ack.ptr, ack.len, NULL));
    OK(sa_sync_ack_frame(a.sync, ack.ptr, ack.len, &acknowledged));
    CHECK(acknowledged == 0); /* already acknowledged */
    sa_buf_free(&ack);

    /* Redelivery: duplicates, acknowledged again. */
    OK(sa_sync_receive_frame(b.sync, frame.ptr, frame.len, &report, &ack));
    CHECK(report.applied == 0 && report.duplicate == 2);
    CHECK(ack.len > 0);
    sa_buf_free(&ack);

    /* Malformed frames: a clear error, nothing applied, out-pointers untouched. */
    uint8_t copy[256];
    CHECK(frame.len < sizeof copy);
    memcpy(copy, frame.ptr, frame.len);
    copy[4] = 9;
    EXPECT(sa_sync_receive_frame(b.sync, copy, frame.len, &report, &ack), SA_ERR_MALFORMED_FRAME,
           "unsupported wire format version 9");
    CHECK(ack.ptr == NULL);
    EXPECT(sa_sync_receive_frame(b.sync, frame.ptr, frame.len - 1, &report, &ack),
           SA_ERR_MALFORMED_FRAME, "truncated");
    EXPECT(sa_sync_receive_frame(b.sync, frame.ptr, frame.len, NULL, &ack),
           SA_ERR_INVALID_ARGUMENT, "out_report is NULL");
    EXPECT(sa_sync_receive_frame(b.sync, frame.ptr, frame.len, &report, NULL),
           SA_ERR_INVALID_ARGUMENT, "out_ack_frame is NULL");
    EXPECT(sa_sync_ack_frame(a.sync, frame.ptr, frame.len, &acknowledged),
           SA_ERR_MALFORMED_FRAME, "frame kind 1 where an ack frame");
    EXPECT(sa_batch_encode(NULL, &frame), SA_ERR_INVALID_ARGUMENT, "batch is NULL");

    sa_buf_free(&frame);
    sa_batch_free(batch);
    node_free(a);
    node_free(b);
}

static void test_v2_vectors_and_per_operation_errors(void)
{
    node b = node_new("node-b");
    uint8_t bytes[512];
    size_t n = vector_bytes("v2_put", bytes, sizeof bytes);
    sa_receive_report report = {.struct_size = sizeof report};
    sa_buf ack = {NULL, 0};
    OK(sa_sync_receive_frame(b.sync, bytes, n, &report, &ack));
    CHECK(report.applied == 1);
    CHECK(holds(&b, field("v2_put", "key"), field("v2_put", "value")));
    sa_buf_free(&ack);

    /* The same operation with version 0: refused on its own, readable after the call. The
     * version is the u64 after the header, count, sync id and origin. */
    size_t at = SA_WIRE_HEADER_BYTES + 4 + (4 + 8) + (4 + 6);
    CHECK(bytes[at] == 1);
    bytes[at] = 0;
    bytes[SA_WIRE_HEADER_BYTES + 4 + 4 + 7] = '9'; /* sync id node-a-9 */
    OK(sa_sync_receive_frame(b.sync, bytes, n, &report, &ack));
    CHECK(report.applied == 0 && report.invalid == 1);
    sa_operation_error e = {.struct_size = sizeof e};
    OK(sa_last_receive_error(0, &e));
    CHECK(e.index == 0 && e.sync_id.len == 8 && memcmp(e.sync_id.ptr, "node-a-9", 8) == 0);
    CHECK(strstr(e.message.ptr, "version 0") != NULL);
    EXPECT(sa_last_receive_error(1, &e), SA_ERR_INVALID_ARGUMENT, "out of range");
    /* Nothing handled: the ACK frame lists no id (header and a zero count). */
    CHECK(ack.len == SA_WIRE_HEADER_BYTES + 4);
    sa_buf_free(&ack);

    node a = node_new("node-a");
    CHECK(put(&a, "user:1", "Gaspard"));
    n = vector_bytes("v2_ack", bytes, sizeof bytes);
    size_t acknowledged = 9;
    OK(sa_sync_ack_frame(a.sync, bytes, n, &acknowledged));
    CHECK(acknowledged == 1); /* node-a-1; node-c-7 is not ours */
    node_free(a);
    node_free(b);
}

/* True when the buffer (JSON text, not NUL-terminated) contains `needle`. */
static bool buf_contains(sa_buf buf, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; buf.ptr != NULL && i + n <= buf.len; i++) {
        if (memcmp(buf.ptr + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static void test_json_views(void)
{
    node a = node_new("node-a");
    CHECK(put(&a, "user:1", "Gaspard"));
    CHECK(put(&a, "user:1", "Ada"));
    sa_buf json = {NULL, 0};
    OK(sa_sync_state_json(a.sync, &json));
    CHECK(buf_contains(json, "\"outbox_size\":2"));
    CHECK(buf_contains(json, "\"queued_count\":2"));
    sa_buf_free(&json);
    OK(sa_sync_outbox_json(a.sync, &json));
    CHECK(buf_contains(json, "\"sync_id\":\"node-a-1\""));
    CHECK(buf_contains(json, "\"value_hex\":\"476173706172640\"") == false);
    CHECK(buf_contains(json, "\"value_hex\":\"47617370617264\""));
    CHECK(buf_contains(json, "\"status\":\"queued\""));
    CHECK(buf_contains(json, "\"replaces\":{\"stamp\":"));
    sa_buf_free(&json);
    sa_batch *batch = NULL;
    OK(sa_sync_next_batch(a.sync, &batch));
    OK(sa_batch_json(batch, &json));
    CHECK(json.len > 0 && json.ptr[0] == '[' && json.ptr[json.len - 1] == ']');
    CHECK(buf_contains(json, "\"status\":\"in_flight\""));
    sa_buf_free(&json);
    EXPECT(sa_batch_json(NULL, &json), SA_ERR_INVALID_ARGUMENT, "batch is NULL");
    EXPECT(sa_sync_state_json(a.sync, NULL), SA_ERR_INVALID_ARGUMENT, "out_json is NULL");
    sa_batch_free(batch);
    node_free(a);
}

/* A node given the same id as the sender must refuse its operations, in V2 and in V1. */
static void test_own_node_id_is_refused(void)
{
    node twin = node_new("node-a"); /* the vectors' sender is node-a */
    uint8_t bytes[512];
    size_t n = vector_bytes("v2_put", bytes, sizeof bytes);
    sa_receive_report report = {.struct_size = sizeof report};
    sa_buf ack = {NULL, 0};
    OK(sa_sync_receive_frame(twin.sync, bytes, n, &report, &ack));
    CHECK(report.applied == 0 && report.duplicate == 0 && report.invalid == 1);
    sa_operation_error e = {.struct_size = sizeof e};
    if (OK(sa_last_receive_error(0, &e))) {
        CHECK(strstr(e.message.ptr, "origin node-a is this node's own id") != NULL);
    }
    CHECK(ack.len == SA_WIRE_HEADER_BYTES + 4); /* nothing acknowledged */
    sa_buf_free(&ack);

    n = vector_bytes("v1_sync_batch", bytes, sizeof bytes);
    sa_buf reply = {NULL, 0};
    EXPECT(sa_sync_handle_v1_frame(twin.sync, bytes, n, &reply),
           SA_ERR_INVALID_REMOTE_OPERATION, "origin node-a is this node's own id");
    CHECK(reply.ptr == NULL && reply.len == 0);
    sa_sync_state_info st = {.struct_size = sizeof st};
    if (OK(sa_sync_state(twin.sync, &st))) {
        CHECK(st.remote_applied_count == 0 && st.remote_duplicate_count == 0);
    }
    node_free(twin);
}

int main(void)
{
    if (!load_vectors()) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    test_buf();
    test_v1_spec_example();
    test_v2_round_trip();
    test_v2_vectors_and_per_operation_errors();
    test_json_views();
    test_own_node_id_is_refused();
    printf("%lu passed, %lu failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
