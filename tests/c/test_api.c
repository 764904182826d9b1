/*
 * C test suite for the softadastra-sync C API (include/softadastra/sync.h).
 *
 * Covers every exported function: NULL for each pointer argument, every documented error
 * path, out-pointers left untouched on failure, and the main flows (submit, queue, batches,
 * ACKs, retries, pruning, ticks, remote operations and conflicts, WAL reopen and repair, ACK
 * tracker, standalone conflict resolution). Plain C11; a tiny assertion framework below.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/test_api.c \
 *      -Ltarget/debug -lsoftadastra_sync -lpthread -Wl,-rpath,$PWD/target/debug -o /tmp/test_api
 *
 * The last line printed on stdout is "<passed> passed, <failed> failed"; the exit status is 0
 * only when nothing failed. Failures are described on stderr with file:line.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <softadastra/sync.h>

/* ---------------------------------------------------------------------------------------- */
/* Assertion framework                                                                       */
/* ---------------------------------------------------------------------------------------- */

static unsigned long g_passed;
static unsigned long g_failed;

/* The message of the last checked call, copied right away (the library's pointer is only
 * valid until the next sa_ call on this thread). */
static char g_msg[8192];

static bool record(bool ok, const char *file, int line, const char *what)
{
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
    }
    return ok;
}

/* CHECK(cond): records a pass or a failure (with file:line and the expression) and goes on.
 * Evaluates to the condition, so setup steps can bail out: if (!CHECK(x)) return; */
#define CHECK(cond) record((cond) ? true : false, __FILE__, __LINE__, #cond)

/* Checks that a call returned `want` and, when `needle` is not NULL, that the error message
 * contains it. A successful call must leave the message empty. */
static bool expect_status(const char *file, int line, const char *expr, sa_status got,
                          sa_status want, const char *needle)
{
    const char *message = sa_last_error_message();
    snprintf(g_msg, sizeof g_msg, "%s", message != NULL ? message : "(NULL message)");
    bool ok = got == want && message != NULL;
    if (ok && want == SA_OK) {
        ok = g_msg[0] == '\0';
    }
    if (ok && want != SA_OK) {
        ok = g_msg[0] != '\0';
    }
    if (ok && needle != NULL) {
        ok = strstr(g_msg, needle) != NULL;
    }
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n    returned %s (%d), message \"%s\"\n"
                        "    expected %s (%d)%s%s%s\n",
                file, line, expr, sa_status_str(got), (int)got, g_msg, sa_status_str(want),
                (int)want, needle != NULL ? " with a message containing \"" : "",
                needle != NULL ? needle : "", needle != NULL ? "\"" : "");
    }
    return ok;
}

#define EXPECT(call, want, needle) \
    expect_status(__FILE__, __LINE__, #call, (call), (want), (needle))
/* The call succeeds (and leaves sa_last_error_message() empty). */
#define OK(call) EXPECT(call, SA_OK, NULL)
/* The call fails with SA_ERR_INVALID_ARGUMENT naming the NULL argument. */
#define EXPECT_NULL_ARG(call, name) EXPECT(call, SA_ERR_INVALID_ARGUMENT, name " is NULL")

/* Out-pointer sentinels: fill before a call that must fail, check it is untouched after. */
#define SENTINEL 0xA5
static void poison(void *p, size_t n) { memset(p, SENTINEL, n); }
static bool poisoned(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != SENTINEL) {
            return false;
        }
    }
    return true;
}
#define POISON(x) poison(&(x), sizeof(x))
#define UNTOUCHED(x) poisoned(&(x), sizeof(x))
/* The same for an output struct with struct_size: poisoned after a correct struct_size. */
#define POISON_OUT(x) (POISON(x), (x).struct_size = sizeof(x))
#define UNTOUCHED_OUT(x) \
    ((x).struct_size == sizeof(x) && poisoned((const char *)&(x) + 4, sizeof(x) - 4))

/* True when `text` holds the decimal number `n` as a whole token. */
static bool has_number(const char *text, uint64_t n)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRIu64, n);
    size_t len = strlen(digits);
    for (const char *p = strstr(text, digits); p != NULL; p = strstr(p + 1, digits)) {
        bool start_ok = p == text || p[-1] < '0' || p[-1] > '9';
        bool end_ok = p[len] < '0' || p[len] > '9';
        if (start_ok && end_ok) {
            return true;
        }
    }
    return false;
}

static bool str_is(sa_str s, const char *expected)
{
    return s.ptr != NULL && s.len == strlen(expected) && memcmp(s.ptr, expected, s.len) == 0 &&
           s.ptr[s.len] == '\0';
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

#define T0 UINT64_C(1700000000000)
#define STAMP(ms) ((uint64_t)(ms) << 16)
#define BAD_UTF8 "ab\xff"
#define NOT_FOUND_MSG "sync operation not found: node-a-42"

static char g_dir[64];

static void path_in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", g_dir, name);
}

static sa_store *open_memory_store(void)
{
    sa_store *store = NULL;
    if (!OK(sa_store_open(NULL, SA_FAST, &store))) {
        return NULL;
    }
    return store;
}

/* The fast preset for `node`, ACKs on or off. */
static sa_sync_config config_for(const char *node, bool require_ack)
{
    sa_sync_config config = {.struct_size = sizeof config};
    OK(sa_sync_config_fast(node, &config));
    config.require_ack = require_ack;
    return config;
}

static sa_sync *new_engine(const sa_store *store, const sa_sync_config *config)
{
    sa_sync *engine = NULL;
    if (!OK(sa_sync_new(store, config, &engine))) {
        return NULL;
    }
    return engine;
}

static bool put(const sa_sync *engine, const char *key, const char *value, sa_submitted *out)
{
    sa_submitted ignored = {.struct_size = sizeof ignored};
    if (out != NULL) {
        out->struct_size = sizeof *out;
    }
    return OK(sa_sync_submit(engine, SA_OP_PUT, key, (const uint8_t *)value, strlen(value),
                             out != NULL ? out : &ignored));
}

static sa_sync_state_info state_of(const sa_sync *engine)
{
    sa_sync_state_info state = {.struct_size = sizeof state};
    OK(sa_sync_state(engine, &state));
    return state;
}

static size_t store_len(const sa_store *store)
{
    size_t len = (size_t)-1;
    OK(sa_store_len(store, &len));
    return len;
}

/* True when `key` holds exactly `len` bytes equal to `value` (NULL value: the key is absent). */
static bool store_holds(const sa_store *store, const char *key, const void *value, size_t len)
{
    sa_entry *entry = NULL;
    if (sa_store_get(store, key, &entry) != SA_OK) {
        return false;
    }
    bool ok;
    if (value == NULL) {
        ok = entry == NULL;
    } else {
        sa_bytes bytes = sa_entry_value(entry);
        ok = entry != NULL && bytes.ptr != NULL && bytes.len == len &&
             (len == 0 || memcmp(bytes.ptr, value, len) == 0);
    }
    sa_entry_free(entry);
    return ok;
}

static bool store_holds_str(const sa_store *store, const char *key, const char *value)
{
    return store_holds(store, key, value, value != NULL ? strlen(value) : 0);
}

static sa_remote_op remote_put(const char *sync_id, const char *origin, uint64_t version,
                               uint64_t stamp, const char *key, const char *value)
{
    sa_remote_op op = {.struct_size = sizeof op};
    op.sync_id = sync_id;
    op.origin = origin;
    op.version = version;
    op.stamp = stamp;
    op.op_type = SA_OP_PUT;
    op.key = key;
    op.value = (const uint8_t *)value;
    op.value_len = value != NULL ? strlen(value) : 0;
    op.has_replaces = false;
    op.replaces_stamp = 0;
    op.replaces_origin = NULL;
    return op;
}

/* Acknowledges every envelope of `batch` on `engine`; returns how many were newly acked. */
static size_t ack_all(const sa_sync *engine, const sa_batch *batch)
{
    size_t acked = 0;
    for (size_t i = 0; i < sa_batch_len(batch); i++) {
        sa_envelope_view view = {.struct_size = sizeof view};
        if (!OK(sa_batch_get(batch, i, &view))) {
            continue;
        }
        int32_t outcome = 0;
        if (OK(sa_sync_ack(engine, view.sync_id.ptr, &outcome)) &&
            outcome == SA_ACK_ACKNOWLEDGED) {
            acked++;
        }
    }
    return acked;
}

/* ---------------------------------------------------------------------------------------- */
/* Meta: version, status names, last error message, *_free(NULL)                             */
/* ---------------------------------------------------------------------------------------- */

static void test_meta(void)
{
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", SA_SYNC_VERSION_MAJOR,
             SA_SYNC_VERSION_MINOR, SA_SYNC_VERSION_PATCH);
    const char *version = sa_version();
    CHECK(version != NULL);
    CHECK(version != NULL && strcmp(version, expected) == 0);
    CHECK(sa_version() == version); /* static */

    static const struct {
        sa_status code;
        const char *name;
    } names[] = {
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
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *name = sa_status_str(names[i].code);
        if (!CHECK(name != NULL && strcmp(name, names[i].name) == 0)) {
            fprintf(stderr, "    status %d: got \"%s\", expected \"%s\"\n", (int)names[i].code,
                    name != NULL ? name : "(NULL)", names[i].name);
        }
    }
    const sa_status unknown[] = {-1, 18, 100, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *name = sa_status_str(unknown[i]);
        CHECK(name != NULL && strcmp(name, "SA_UNKNOWN_STATUS") == 0);
    }

    /* The message is never NULL; a failure sets it, a success clears it. */
    sa_clock *clock = NULL;
    CHECK(sa_last_error_message() != NULL);
    EXPECT_NULL_ARG(sa_clock_new_manual(0, NULL), "out_clock");
    CHECK(strlen(sa_last_error_message()) > 0);
    OK(sa_clock_new_manual(0, &clock));
    CHECK(sa_last_error_message() != NULL && strcmp(sa_last_error_message(), "") == 0);
    /* Reading the message does not clear it. */
    EXPECT_NULL_ARG(sa_clock_set(NULL, 1), "clock");
    CHECK(strcmp(sa_last_error_message(), "clock is NULL") == 0);
    CHECK(strcmp(sa_last_error_message(), "clock is NULL") == 0);
    sa_clock_free(clock);

    /* Every *_free accepts NULL. */
    sa_ack_tracker_free(NULL);
    sa_batch_free(NULL);
    sa_clock_free(NULL);
    sa_entry_free(NULL);
    sa_store_free(NULL);
    sa_sync_free(NULL);
    CHECK(true); /* reached: no crash */
}

/* ---------------------------------------------------------------------------------------- */
/* Manual clock                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void test_clock(void)
{
    sa_clock *clock = NULL;
    EXPECT_NULL_ARG(sa_clock_new_manual(5, NULL), "out_clock");
    if (!OK(sa_clock_new_manual(T0, &clock))) {
        return;
    }
    CHECK(clock != NULL);
    CHECK(sa_clock_now(clock) == T0);
    OK(sa_clock_advance(clock, 250));
    CHECK(sa_clock_now(clock) == T0 + 250);
    OK(sa_clock_set(clock, 1000));
    CHECK(sa_clock_now(clock) == 1000); /* may go backwards */
    OK(sa_clock_advance(clock, 0));
    CHECK(sa_clock_now(clock) == 1000);
    EXPECT_NULL_ARG(sa_clock_set(NULL, 7), "clock");
    EXPECT_NULL_ARG(sa_clock_advance(NULL, 7), "clock");
    CHECK(sa_clock_now(NULL) == 0);
    CHECK(sa_clock_now(clock) == 1000);
    sa_clock_free(clock);
}

/* ---------------------------------------------------------------------------------------- */
/* Config presets and sa_sync_new validation                                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_config_presets(void)
{
    sa_sync_config d = {.struct_size = sizeof d};
    sa_sync_config f = {.struct_size = sizeof f};
    POISON(d);
    POISON(f);
    d.struct_size = sizeof d;
    f.struct_size = sizeof f;
    if (!OK(sa_sync_config_durable("node-a", &d)) || !OK(sa_sync_config_fast("node-a", &f))) {
        return;
    }
    /* The numbers live in the library (src/sync/config.rs, tested there): here, what each
       preset is for, and how the two differ. */
    CHECK(d.struct_size == sizeof(sa_sync_config));
    CHECK(strcmp(d.node_id, "node-a") == 0);
    CHECK(d.durability == SA_DURABLE);
    CHECK(d.auto_queue == true);
    CHECK(d.require_ack == true);
    CHECK(d.conflict_policy == SA_POLICY_LAST_WRITE_WINS);
    CHECK(OK(sa_sync_config_validate(&d)));

    CHECK(f.struct_size == sizeof(sa_sync_config));
    CHECK(strcmp(f.node_id, "node-a") == 0);
    CHECK(f.durability == SA_FAST);
    CHECK(f.require_ack == false);
    CHECK(f.batch_size == 128); /* as the C++ module's SyncConfig::fast */
    CHECK(OK(sa_sync_config_validate(&f)));
    /* Everything else is the durable preset's. */
    CHECK(f.auto_queue == d.auto_queue);
    CHECK(f.ack_timeout_ms == d.ack_timeout_ms);
    CHECK(f.retry_interval_ms == d.retry_interval_ms);
    CHECK(f.retry_backoff_max_ms == d.retry_backoff_max_ms);
    CHECK(f.max_retries == d.max_retries);
    CHECK(f.conflict_policy == d.conflict_policy);
    CHECK(f.max_outbox_operations == d.max_outbox_operations);
    CHECK(f.max_outbox_bytes == d.max_outbox_bytes);
    CHECK(f.max_clock_skew_ms == d.max_clock_skew_ms);

    /* NULL arguments. */
    sa_sync_config c = {.struct_size = sizeof c};
    POISON(c);
    EXPECT_NULL_ARG(sa_sync_config_durable(NULL, &c), "node_id");
    CHECK(UNTOUCHED(c));
    EXPECT_NULL_ARG(sa_sync_config_fast(NULL, &c), "node_id");
    CHECK(UNTOUCHED(c));
    EXPECT_NULL_ARG(sa_sync_config_durable("node-a", NULL), "out_config");
    EXPECT_NULL_ARG(sa_sync_config_fast("node-a", NULL), "out_config");

    /* Invalid node ids: not UTF-8, empty, whitespace, control characters, too long. */
    char long_id[SA_NODE_ID_MAX + 2];
    memset(long_id, 'n', SA_NODE_ID_MAX + 1);
    long_id[SA_NODE_ID_MAX + 1] = '\0';
    const char *bad_ids[] = {BAD_UTF8, "", " ", "node a", "node\ta", "node-a\n", "\x01", long_id};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        POISON(c);
        EXPECT(sa_sync_config_durable(bad_ids[i], &c), SA_ERR_INVALID_NODE_ID, NULL);
        CHECK(UNTOUCHED(c));
        EXPECT(sa_sync_config_fast(bad_ids[i], &c), SA_ERR_INVALID_NODE_ID, NULL);
        CHECK(UNTOUCHED(c));
    }
    EXPECT(sa_sync_config_durable("", &c), SA_ERR_INVALID_NODE_ID, "empty");

    /* The longest id (256 bytes) and a non-ASCII one are fine. */
    long_id[SA_NODE_ID_MAX] = '\0';
    c.struct_size = sizeof c;
    if (OK(sa_sync_config_durable(long_id, &c))) {
        CHECK(strlen(c.node_id) == SA_NODE_ID_MAX && strcmp(c.node_id, long_id) == 0);
    }
    if (OK(sa_sync_config_fast("n\xc5\x93ud-\xc3\xa9", &c))) {
        CHECK(strcmp(c.node_id, "n\xc5\x93ud-\xc3\xa9") == 0);
    }
}

static void test_sync_new_validation(void)
{
    sa_store *store = open_memory_store();
    if (store == NULL) {
        return;
    }
    sa_sync_config good = config_for("node-a", true);
    sa_sync *engine;

    POISON(engine);
    EXPECT_NULL_ARG(sa_sync_new(NULL, &good, &engine), "store");
    CHECK(UNTOUCHED(engine));
    EXPECT_NULL_ARG(sa_sync_new(store, NULL, &engine), "config");
    CHECK(UNTOUCHED(engine));
    EXPECT_NULL_ARG(sa_sync_new(store, &good, NULL), "out_sync");

    sa_sync_config c = {.struct_size = sizeof c};

    /* sa_sync_config_validate applies the engine's rules without building an engine. */
    OK(sa_sync_config_validate(&good));
    EXPECT_NULL_ARG(sa_sync_config_validate(NULL), "config");
    c = good;
    c.batch_size = 0;
    EXPECT(sa_sync_config_validate(&c), SA_ERR_INVALID_CONTEXT, "batch_size");
    c = good;
    c.max_clock_skew_ms = UINT64_C(400) * 24 * 3600 * 1000;
    EXPECT(sa_sync_config_validate(&c), SA_ERR_INVALID_CONTEXT, "max_clock_skew");
    c = good;
    c.durability = 9;
    EXPECT(sa_sync_config_validate(&c), SA_ERR_INVALID_CONTEXT, "durability");

    /* struct_size: at least through node_id, at most this library's sizeof, never inside a
     * field. */
    const uint32_t bad_sizes[] = {0, 4, (uint32_t)offsetof(sa_sync_config, node_id) + 10,
                                  (uint32_t)offsetof(sa_sync_config, max_clock_skew_ms) + 4,
                                  (uint32_t)sizeof(sa_sync_config) + 8};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        c = good;
        c.struct_size = bad_sizes[i];
        POISON(engine);
        EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_ARGUMENT, "struct_size");
        CHECK(UNTOUCHED(engine));
    }

    /* A program built against a header whose config ended before retry_backoff_max_ms: the
     * presets write only its bytes, and the library gives the missing field its default. */
    {
        const uint32_t old_size = (uint32_t)offsetof(sa_sync_config, retry_backoff_max_ms);
        sa_sync_config full = {.struct_size = sizeof full};
        sa_sync_config cut;
        poison(&cut, sizeof cut);
        cut.struct_size = old_size;
        if (OK(sa_sync_config_fast("node-a", &full)) && OK(sa_sync_config_fast("node-a", &cut))) {
            CHECK(cut.struct_size == old_size);
            /* Field by field (the padding between them is not compared). */
            CHECK(strcmp(cut.node_id, full.node_id) == 0 && cut.durability == full.durability);
            CHECK(cut.auto_queue == full.auto_queue && cut.require_ack == full.require_ack);
            CHECK(cut.ack_timeout_ms == full.ack_timeout_ms &&
                  cut.retry_interval_ms == full.retry_interval_ms);
            CHECK(cut.max_retries == full.max_retries &&
                  cut.conflict_policy == full.conflict_policy && cut.batch_size == full.batch_size);
            CHECK(cut.max_outbox_operations == full.max_outbox_operations &&
                  cut.max_outbox_bytes == full.max_outbox_bytes &&
                  cut.max_clock_skew_ms == full.max_clock_skew_ms);
            CHECK(poisoned((const char *)&cut + old_size, sizeof cut - old_size));
            /* The field after struct_size is never read: a wild value there is ignored. */
            cut.retry_backoff_max_ms = 0;
            cut.max_clock_skew_ms = full.max_clock_skew_ms;
            OK(sa_sync_config_validate(&cut));
            cut.batch_size = 0; /* fields inside the size are read */
            EXPECT(sa_sync_config_validate(&cut), SA_ERR_INVALID_CONTEXT, "batch_size");
        }
        /* A size ending just after node_id: every other field takes the durable preset. */
        sa_sync_config tiny;
        poison(&tiny, sizeof tiny);
        tiny.struct_size = (uint32_t)(offsetof(sa_sync_config, node_id) + sizeof tiny.node_id);
        memset(tiny.node_id, 0, sizeof tiny.node_id);
        strcpy(tiny.node_id, "node-tiny");
        OK(sa_sync_config_validate(&tiny));
        sa_sync *tiny_engine = NULL;
        if (OK(sa_sync_new(store, &tiny, &tiny_engine))) {
            sa_sync_free(tiny_engine);
        }
        /* Presets refuse a size they cannot honour and write nothing. */
        sa_sync_config small;
        poison(&small, sizeof small);
        small.struct_size = 8;
        EXPECT(sa_sync_config_durable("node-a", &small), SA_ERR_INVALID_ARGUMENT, "struct_size");
        CHECK(small.struct_size == 8 && poisoned((const char *)&small + 4, sizeof small - 4));
    }

    /* Node id in the config: invalid UTF-8, empty, whitespace, not NUL-terminated. */
    const char *bad_ids[] = {BAD_UTF8, "", "node a", "tab\there"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        c = good;
        memset(c.node_id, 0, sizeof c.node_id);
        memcpy(c.node_id, bad_ids[i], strlen(bad_ids[i]));
        POISON(engine);
        EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_NODE_ID, NULL);
        CHECK(UNTOUCHED(engine));
    }
    c = good;
    memset(c.node_id, 'x', sizeof c.node_id); /* no NUL anywhere */
    POISON(engine);
    EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_NODE_ID, "NUL");
    CHECK(UNTOUCHED(engine));

    /* Bad durability: a bad config field, which the header says is SA_ERR_INVALID_CONTEXT
     * with the field named in the message. */
    const int32_t bad_durability[] = {0, 3, -1};
    for (size_t i = 0; i < sizeof bad_durability / sizeof bad_durability[0]; i++) {
        c = good;
        c.durability = bad_durability[i];
        POISON(engine);
        EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "durability");
        CHECK(UNTOUCHED(engine));
    }

    /* Bad conflict policy. */
    const int32_t bad_policy[] = {0, 4, -3};
    for (size_t i = 0; i < sizeof bad_policy / sizeof bad_policy[0]; i++) {
        c = good;
        c.conflict_policy = bad_policy[i];
        POISON(engine);
        EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "conflict_policy");
        CHECK(UNTOUCHED(engine));
    }

    /* batch_size must be 1..65536. */
    c = good;
    c.batch_size = 0;
    POISON(engine);
    EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "batch_size");
    CHECK(UNTOUCHED(engine));
    c.batch_size = 65537;
    EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "batch_size");
    CHECK(UNTOUCHED(engine));

    /* An ACK timeout of 0 with require_ack, and zero outbox caps. */
    c = good;
    c.ack_timeout_ms = 0;
    EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "ack_timeout");
    CHECK(UNTOUCHED(engine));
    c = good;
    c.max_outbox_operations = 0;
    EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "max_outbox_operations");
    CHECK(UNTOUCHED(engine));
    c = good;
    c.max_outbox_bytes = 0;
    EXPECT(sa_sync_new(store, &c, &engine), SA_ERR_INVALID_CONTEXT, "max_outbox_bytes");
    CHECK(UNTOUCHED(engine));

    /* None of the failures attached an engine: a valid config still works, at the bounds. */
    c = good;
    c.batch_size = 65536;
    engine = NULL;
    if (OK(sa_sync_new(store, &c, &engine))) {
        CHECK(engine != NULL);
        /* A second engine on the same store is refused while the first one lives. */
        sa_sync *second;
        POISON(second);
        EXPECT(sa_sync_new(store, &good, &second), SA_ERR_INVALID_CONTEXT, NULL);
        CHECK(UNTOUCHED(second));
        sa_sync_free(engine);
        /* Once it is freed, a new engine may attach. */
        sa_sync *third = new_engine(store, &good);
        CHECK(third != NULL);
        sa_sync_free(third);
    }

    /* ack_timeout 0 is fine without ACKs. */
    c = config_for("node-a", false);
    c.ack_timeout_ms = 0;
    engine = new_engine(store, &c);
    CHECK(engine != NULL);
    sa_sync_free(engine);

    /* The longest node id: its sync ids fit in sa_submitted.sync_id. */
    char long_id[SA_NODE_ID_MAX + 1];
    memset(long_id, 'n', SA_NODE_ID_MAX);
    long_id[SA_NODE_ID_MAX] = '\0';
    sa_sync_config lc = {.struct_size = sizeof lc};
    if (OK(sa_sync_config_fast(long_id, &lc))) {
        engine = new_engine(store, &lc);
        sa_submitted s = {.struct_size = sizeof s};
        if (engine != NULL && put(engine, "long-node-key", "v", &s)) {
            char expected[SA_SYNC_ID_MAX + 8];
            snprintf(expected, sizeof expected, "%s-%" PRIu64, long_id, s.version);
            CHECK(strcmp(s.sync_id, expected) == 0);
            OK(sa_sync_queue(engine, expected)); /* auto-queued already: a no-op */
            int32_t outcome = 0;
            if (OK(sa_sync_ack(engine, s.sync_id, &outcome))) {
                CHECK(outcome == SA_ACK_ACKNOWLEDGED);
            }
        }
        sa_sync_free(engine);
    }
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Store: open, get, entries, len, replay report, set_clock                                  */
/* ---------------------------------------------------------------------------------------- */

static void test_store_basics(void)
{
    sa_store *store;
    POISON(store);
    EXPECT_NULL_ARG(sa_store_open(NULL, SA_FAST, NULL), "out_store");
    const int32_t bad_durability[] = {0, 3, -1, 100};
    for (size_t i = 0; i < sizeof bad_durability / sizeof bad_durability[0]; i++) {
        EXPECT(sa_store_open(NULL, bad_durability[i], &store), SA_ERR_INVALID_ARGUMENT,
               "durability");
        CHECK(UNTOUCHED(store));
    }
    char path[256];
    snprintf(path, sizeof path, "%s/" BAD_UTF8 ".wal", g_dir);
    EXPECT(sa_store_open(path, SA_FAST, &store), SA_ERR_INVALID_ARGUMENT, "wal_path");
    CHECK(UNTOUCHED(store));
    path_in_dir(path, sizeof path, "no-such-dir/x.wal");
    EXPECT(sa_store_open(path, SA_FAST, &store), SA_ERR_IO, NULL);
    CHECK(UNTOUCHED(store));

    /* Memory stores, in both durability modes. */
    store = NULL;
    if (OK(sa_store_open(NULL, SA_DURABLE, &store))) {
        CHECK(store != NULL);
        CHECK(store_len(store) == 0);
    }
    sa_store_free(store);
    store = open_memory_store();
    if (store == NULL) {
        return;
    }

    /* Empty store. */
    size_t len;
    POISON(len);
    EXPECT_NULL_ARG(sa_store_len(NULL, &len), "store");
    CHECK(UNTOUCHED(len));
    EXPECT_NULL_ARG(sa_store_len(store, NULL), "out_len");
    CHECK(store_len(store) == 0);

    sa_replay_report report = {.struct_size = sizeof report};
    POISON_OUT(report);
    EXPECT_NULL_ARG(sa_store_replay_report(NULL, &report), "store");
    CHECK(UNTOUCHED_OUT(report));
    EXPECT_NULL_ARG(sa_store_replay_report(store, NULL), "out_report");
    if (OK(sa_store_replay_report(store, &report))) {
        CHECK(report.records == 0 && report.dropped_bytes == 0);
    }

    sa_entry *entry;
    POISON(entry);
    EXPECT_NULL_ARG(sa_store_get(NULL, "k", &entry), "store");
    CHECK(UNTOUCHED(entry));
    EXPECT_NULL_ARG(sa_store_get(store, NULL, &entry), "key");
    CHECK(UNTOUCHED(entry));
    EXPECT_NULL_ARG(sa_store_get(store, "k", NULL), "out_entry");
    EXPECT(sa_store_get(store, BAD_UTF8, &entry), SA_ERR_INVALID_OPERATION, "UTF-8");
    CHECK(UNTOUCHED(entry));
    EXPECT(sa_store_get(store, "", &entry), SA_ERR_INVALID_OPERATION, "empty");
    CHECK(UNTOUCHED(entry));
    /* An absent key: SA_OK with *out_entry set to NULL. */
    if (OK(sa_store_get(store, "absent", &entry))) {
        CHECK(entry == NULL);
    }

    /* Entry accessors on NULL. */
    sa_bytes none = sa_entry_value(NULL);
    CHECK(none.ptr != NULL && none.len == 0);
    CHECK(sa_entry_version(NULL) == 0);
    CHECK(sa_entry_stamp(NULL) == 0);
    sa_str no_origin = sa_entry_origin(NULL);
    CHECK(str_is(no_origin, ""));

    /* set_clock: NULL arguments, then the store's clock drives the engine's stamps. */
    sa_clock *clock = NULL;
    if (!OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    EXPECT_NULL_ARG(sa_store_set_clock(NULL, clock), "store");
    EXPECT_NULL_ARG(sa_store_set_clock(store, NULL), "clock");
    OK(sa_store_set_clock(store, clock));
    sa_clock_free(clock); /* the store keeps its own reference */

    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = new_engine(store, &config);
    sa_submitted s1 = {.struct_size = sizeof s1}, s2 = {.struct_size = sizeof s2};
    if (engine != NULL && put(engine, "k", "value-1", &s1) && put(engine, "k2", "v2", &s2)) {
        CHECK(s1.stamp == STAMP(T0));
        CHECK(s2.stamp == STAMP(T0) + 1); /* same millisecond: logical counter */
        CHECK(s1.version == 1 && s2.version == 2);
        CHECK(strcmp(s1.sync_id, "node-a-1") == 0);
        CHECK(strcmp(s2.sync_id, "node-a-2") == 0);
        CHECK(store_len(store) == 2);
        entry = NULL;
        if (OK(sa_store_get(store, "k", &entry)) && CHECK(entry != NULL)) {
            sa_bytes v = sa_entry_value(entry);
            CHECK(v.len == 7 && memcmp(v.ptr, "value-1", 7) == 0);
            CHECK(sa_entry_version(entry) >= 1);
            CHECK(sa_entry_stamp(entry) == s1.stamp);
            CHECK(str_is(sa_entry_origin(entry), "node-a"));
            /* An entry is a copy: a later write does not change it. */
            uint64_t version = sa_entry_version(entry);
            put(engine, "k", "value-2", NULL);
            v = sa_entry_value(entry);
            CHECK(v.len == 7 && memcmp(v.ptr, "value-1", 7) == 0);
            CHECK(sa_entry_version(entry) == version);
            CHECK(store_holds_str(store, "k", "value-2"));
        }
        sa_entry_free(entry);
        /* A delete removes the key; get then returns NULL. */
        sa_submitted d = {.struct_size = sizeof d};
        if (OK(sa_sync_submit(engine, SA_OP_DELETE, "k2", NULL, 0, &d))) {
            CHECK(d.version == 4);
            CHECK(store_len(store) == 1);
            CHECK(store_holds(store, "k2", NULL, 0));
        }
    }
    sa_sync_free(engine);
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Submit: argument errors, invalid operations, values of every size, capacity               */
/* ---------------------------------------------------------------------------------------- */

static void test_submit_errors(void)
{
    sa_store *store = open_memory_store();
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = store != NULL ? new_engine(store, &config) : NULL;
    if (engine == NULL) {
        sa_store_free(store);
        return;
    }
    const uint8_t small[4] = {1, 2, 3, 4};
    sa_submitted s = {.struct_size = sizeof s};

#define SUBMIT_FAILS(call, code, needle) \
    do {                                  \
        POISON_OUT(s);                        \
        EXPECT(call, code, needle);       \
        CHECK(UNTOUCHED_OUT(s));              \
    } while (0)

    SUBMIT_FAILS(sa_sync_submit(NULL, SA_OP_PUT, "k", small, 4, &s), SA_ERR_INVALID_ARGUMENT,
                 "sync is NULL");
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, NULL, small, 4, &s), SA_ERR_INVALID_ARGUMENT,
                 "key is NULL");
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, "k", NULL, 4, &s), SA_ERR_INVALID_ARGUMENT,
                 "value is NULL");
    EXPECT_NULL_ARG(sa_sync_submit(engine, SA_OP_PUT, "k", small, 4, NULL), "out_submitted");

    /* Invalid keys. */
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, BAD_UTF8, small, 4, &s),
                 SA_ERR_INVALID_OPERATION, "UTF-8");
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, "", small, 4, &s), SA_ERR_INVALID_OPERATION,
                 "empty");
    char *long_key = malloc(64 * 1024 + 2);
    if (CHECK(long_key != NULL)) {
        memset(long_key, 'k', 64 * 1024 + 1);
        long_key[64 * 1024 + 1] = '\0';
        SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, long_key, small, 4, &s),
                     SA_ERR_INVALID_OPERATION, "65537");
        long_key[64 * 1024] = '\0'; /* exactly 64 KiB is allowed */
        if (OK(sa_sync_submit(engine, SA_OP_PUT, long_key, small, 4, &s))) {
            CHECK(store_holds(store, long_key, small, 4));
            OK(sa_sync_submit(engine, SA_OP_DELETE, long_key, NULL, 0, &s));
        }
        free(long_key);
    }

    sa_sync_state_info before = state_of(engine);
    size_t len_before = store_len(store);

    /* Unknown operation types. */
    SUBMIT_FAILS(sa_sync_submit(engine, 0, "k", small, 4, &s), SA_ERR_INVALID_OPERATION,
                 "operation type 0");
    SUBMIT_FAILS(sa_sync_submit(engine, 3, "k", small, 4, &s), SA_ERR_INVALID_OPERATION,
                 "operation type 3");
    SUBMIT_FAILS(sa_sync_submit(engine, -1, "k", small, 4, &s), SA_ERR_INVALID_OPERATION, NULL);
    /* A delete with a value. */
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_DELETE, "k", small, 4, &s),
                 SA_ERR_INVALID_OPERATION, "delete");
    /* A value over 64 MiB: the length is checked before the (4-byte) buffer is read. */
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, "k", small, (size_t)67108865, &s),
                 SA_ERR_INVALID_OPERATION, "67108865");
    SUBMIT_FAILS(sa_sync_submit(engine, SA_OP_PUT, "k", small, SIZE_MAX, &s),
                 SA_ERR_INVALID_OPERATION, NULL);

    /* Nothing changed. */
    sa_sync_state_info after = state_of(engine);
    CHECK(after.outbox_size == before.outbox_size);
    CHECK(after.last_submitted_version == before.last_submitted_version);
    CHECK(after.outbox_bytes == before.outbox_bytes);
    CHECK(store_len(store) == len_before);
    CHECK(store_holds(store, "k", NULL, 0));

    /* Zero-length values: NULL or not, they are accepted and round-trip as empty. */
    if (OK(sa_sync_submit(engine, SA_OP_PUT, "empty-null", NULL, 0, &s))) {
        sa_entry *entry = NULL;
        if (OK(sa_store_get(store, "empty-null", &entry)) && CHECK(entry != NULL)) {
            sa_bytes v = sa_entry_value(entry);
            CHECK(v.ptr != NULL && v.len == 0);
        }
        sa_entry_free(entry);
    }
    if (OK(sa_sync_submit(engine, SA_OP_PUT, "empty-ptr", small, 0, &s))) {
        CHECK(store_holds(store, "empty-ptr", "", 0));
    }
    /* A delete with a non-NULL pointer and length 0 carries no value: fine. */
    OK(sa_sync_submit(engine, SA_OP_DELETE, "empty-ptr", small, 0, &s));
    CHECK(store_holds(store, "empty-ptr", NULL, 0));
    /* Deleting a key that never existed is still an operation to propagate. */
    sa_sync_state_info st = state_of(engine);
    if (OK(sa_sync_submit(engine, SA_OP_DELETE, "never-existed", NULL, 0, &s))) {
        CHECK(s.version == st.last_submitted_version + 1);
    }

    /* A value with NUL bytes inside round-trips byte for byte. */
    const uint8_t binary[6] = {0, 'a', 0, 0xff, 0, 7};
    if (OK(sa_sync_submit(engine, SA_OP_PUT, "binary", binary, sizeof binary, &s))) {
        CHECK(store_holds(store, "binary", binary, sizeof binary));
    }
#undef SUBMIT_FAILS
    sa_sync_free(engine);
    sa_store_free(store);
}

static void test_large_values(void)
{
    /* 8 MiB: through the store, a batch envelope and another engine. */
    const size_t big_len = (size_t)8 * 1024 * 1024;
    uint8_t *big = malloc(big_len);
    if (!CHECK(big != NULL)) {
        return;
    }
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (uint8_t)((i * 2654435761u) >> 13);
    }
    sa_store *store_a = open_memory_store();
    sa_store *store_b = open_memory_store();
    sa_sync_config ca = config_for("node-a", true);
    sa_sync_config cb = config_for("node-b", true);
    sa_sync *a = store_a != NULL ? new_engine(store_a, &ca) : NULL;
    sa_sync *b = store_b != NULL ? new_engine(store_b, &cb) : NULL;
    sa_submitted s = {.struct_size = sizeof s};
    if (a != NULL && b != NULL && OK(sa_sync_submit(a, SA_OP_PUT, "big", big, big_len, &s))) {
        CHECK(store_holds(store_a, "big", big, big_len));
        sa_sync_state_info st = state_of(a);
        CHECK(st.outbox_bytes == 3 + big_len);
        sa_batch *batch = NULL;
        if (OK(sa_sync_next_batch(a, &batch)) && CHECK(sa_batch_len(batch) == 1)) {
            sa_envelope_view v = {.struct_size = sizeof v};
            sa_remote_op op = {.struct_size = sizeof op};
            sa_apply_result r = {.struct_size = sizeof r};
            if (OK(sa_batch_get(batch, 0, &v))) {
                CHECK(v.value.len == big_len && memcmp(v.value.ptr, big, big_len) == 0);
                if (OK(sa_remote_op_from_view(&v, &op)) && OK(sa_sync_receive_remote(b, &op, &r))) {
                    CHECK(r.outcome == SA_APPLIED);
                    CHECK(store_holds(store_b, "big", big, big_len));
                }
            }
        }
        sa_batch_free(batch);
    }
    sa_sync_free(a);
    sa_sync_free(b);
    sa_store_free(store_a);
    sa_store_free(store_b);
    free(big);
}

static void test_capacity(void)
{
    sa_store *store = open_memory_store();
    if (store == NULL) {
        return;
    }
    /* max_outbox_operations = 1. Without ACKs, a batch acknowledges. */
    sa_sync_config config = config_for("node-a", false);
    config.max_outbox_operations = 1;
    sa_sync *engine = new_engine(store, &config);
    sa_submitted s = {.struct_size = sizeof s};
    if (engine != NULL && put(engine, "k1", "v1", &s)) {
        POISON_OUT(s);
        EXPECT(sa_sync_submit(engine, SA_OP_PUT, "k2", (const uint8_t *)"v2", 2, &s),
               SA_ERR_CAPACITY_EXCEEDED, "max_outbox_operations");
        CHECK(UNTOUCHED_OUT(s));
        CHECK(store_holds(store, "k2", NULL, 0)); /* the key was not written */
        CHECK(store_len(store) == 1);
        /* Nor may it be deleted, or k1 overwritten: nothing is written. */
        EXPECT(sa_sync_submit(engine, SA_OP_PUT, "k1", (const uint8_t *)"zz", 2, &s),
               SA_ERR_CAPACITY_EXCEEDED, NULL);
        CHECK(store_holds_str(store, "k1", "v1"));
        sa_sync_state_info st = state_of(engine);
        CHECK(st.outbox_size == 1 && st.last_submitted_version == 1);
        /* Acknowledged operations still count until pruned. */
        sa_batch *batch = NULL;
        if (OK(sa_sync_next_batch(engine, &batch))) {
            CHECK(sa_batch_len(batch) == 1);
        }
        sa_batch_free(batch);
        EXPECT(sa_sync_submit(engine, SA_OP_PUT, "k2", (const uint8_t *)"v2", 2, &s),
               SA_ERR_CAPACITY_EXCEEDED, NULL);
        size_t pruned = 99;
        if (OK(sa_sync_prune_completed(engine, &pruned))) {
            CHECK(pruned == 1);
        }
        if (put(engine, "k2", "v2", &s)) {
            CHECK(s.version == 2);
            CHECK(store_holds_str(store, "k2", "v2"));
        }
    }
    sa_sync_free(engine);

    /* max_outbox_bytes. */
    config = config_for("node-a", false);
    config.max_outbox_bytes = 10;
    engine = new_engine(store, &config);
    if (engine != NULL) {
        size_t pruned;
        OK(sa_sync_prune_completed(engine, &pruned)); /* k2 from above is still in the outbox */
        sa_batch *batch = NULL;
        OK(sa_sync_next_batch(engine, &batch));
        sa_batch_free(batch);
        OK(sa_sync_prune_completed(engine, &pruned));
        POISON_OUT(s);
        EXPECT(sa_sync_submit(engine, SA_OP_PUT, "kb", (const uint8_t *)"0123456789", 10, &s),
               SA_ERR_CAPACITY_EXCEEDED, "max_outbox_bytes");
        CHECK(UNTOUCHED_OUT(s));
        CHECK(store_holds(store, "kb", NULL, 0));
        CHECK(put(engine, "kb", "01234567", &s)); /* 2 + 8 = 10 bytes: fits */
    }
    sa_sync_free(engine);
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Manual queue, batches, views, ACKs, outbox listing                                        */
/* ---------------------------------------------------------------------------------------- */

static void test_queue_batch_ack(void)
{
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-a", true);
    config.auto_queue = false;
    config.ack_timeout_ms = 60000;
    sa_sync *engine = new_engine(store, &config);
    if (engine == NULL) {
        sa_clock_free(clock);
        sa_store_free(store);
        return;
    }
    EXPECT_NULL_ARG(sa_sync_set_clock(NULL, clock), "sync");
    EXPECT_NULL_ARG(sa_sync_set_clock(engine, NULL), "clock");
    OK(sa_sync_set_clock(engine, clock));

    sa_submitted s1 = {.struct_size = sizeof s1}, s2 = {.struct_size = sizeof s2}, s3 = {.struct_size = sizeof s3};
    if (!put(engine, "k1", "one", &s1) || !put(engine, "k2", "two", &s2) ||
        !put(engine, "k1", "uno", &s3)) {
        goto done;
    }
    CHECK(strcmp(s1.sync_id, "node-a-1") == 0 && strcmp(s3.sync_id, "node-a-3") == 0);
    CHECK(s1.stamp < s2.stamp && s2.stamp < s3.stamp);

    sa_sync_state_info st = state_of(engine);
    CHECK(st.outbox_size == 3);
    CHECK(st.pending_count == 3 && st.queued_count == 0 && st.in_flight_count == 0);
    CHECK(st.last_submitted_version == 3);
    CHECK(st.outbox_bytes == (2 + 3) + (2 + 3) + (2 + 3));
    CHECK(st.unacknowledged_bytes == 15);
    CHECK(st.oldest_unacknowledged_age_ms == 0);
    OK(sa_clock_advance(clock, 250));
    st = state_of(engine);
    CHECK(st.oldest_unacknowledged_age_ms == 250);

    /* sa_sync_state errors. */
    sa_sync_state_info bad = {.struct_size = sizeof bad};
    POISON(bad);
    EXPECT_NULL_ARG(sa_sync_state(NULL, &bad), "sync");
    CHECK(UNTOUCHED(bad));
    EXPECT_NULL_ARG(sa_sync_state(engine, NULL), "out_state");

    /* Nothing is queued yet: the batch is empty (but a real batch). */
    sa_batch *batch;
    POISON(batch);
    EXPECT_NULL_ARG(sa_sync_next_batch(NULL, &batch), "sync");
    CHECK(UNTOUCHED(batch));
    EXPECT_NULL_ARG(sa_sync_next_batch(engine, NULL), "out_batch");
    batch = NULL;
    if (OK(sa_sync_next_batch(engine, &batch))) {
        CHECK(batch != NULL);
        CHECK(sa_batch_len(batch) == 0);
        sa_envelope_view v = {.struct_size = sizeof v};
        POISON_OUT(v);
        EXPECT(sa_batch_get(batch, 0, &v), SA_ERR_INVALID_ARGUMENT, NULL);
        CHECK(has_number(g_msg, 0));
        CHECK(UNTOUCHED_OUT(v));
    }
    sa_batch_free(batch);

    /* sa_sync_queue errors. */
    EXPECT_NULL_ARG(sa_sync_queue(NULL, "node-a-1"), "sync");
    EXPECT_NULL_ARG(sa_sync_queue(engine, NULL), "sync_id");
    EXPECT(sa_sync_queue(engine, "node-a-42"), SA_ERR_NOT_FOUND, NULL);
    CHECK(strcmp(g_msg, NOT_FOUND_MSG) == 0);
    const char *unknown[] = {"node-b-1", "node-a-0", "node-a", "", "node-a-x", BAD_UTF8,
                             "-1", "node-a-99999999999999999999"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        EXPECT(sa_sync_queue(engine, unknown[i]), SA_ERR_NOT_FOUND, NULL);
    }

    /* Queue 1 and 3 (twice: a no-op). */
    OK(sa_sync_queue(engine, s1.sync_id));
    OK(sa_sync_queue(engine, s1.sync_id));
    OK(sa_sync_queue(engine, s3.sync_id));
    st = state_of(engine);
    CHECK(st.pending_count == 1 && st.queued_count == 2);

    batch = NULL;
    if (OK(sa_sync_next_batch(engine, &batch)) && CHECK(sa_batch_len(batch) == 2)) {
        sa_envelope_view v = {.struct_size = sizeof v};
        EXPECT_NULL_ARG(sa_batch_get(NULL, 0, &v), "batch");
        EXPECT_NULL_ARG(sa_batch_get(batch, 0, NULL), "out_view");
        POISON_OUT(v);
        EXPECT(sa_batch_get(batch, 2, &v), SA_ERR_INVALID_ARGUMENT, NULL);
        CHECK(has_number(g_msg, 2)); /* the batch length */
        CHECK(UNTOUCHED_OUT(v));
        EXPECT(sa_batch_get(batch, 7, &v), SA_ERR_INVALID_ARGUMENT, NULL);
        CHECK(has_number(g_msg, 2));
        CHECK(UNTOUCHED_OUT(v));
        EXPECT(sa_batch_get(batch, SIZE_MAX, &v), SA_ERR_INVALID_ARGUMENT, NULL);
        CHECK(has_number(g_msg, 2));

        /* Oldest first: node-a-1 then node-a-3. */
        if (OK(sa_batch_get(batch, 0, &v))) {
            CHECK(str_is(v.sync_id, "node-a-1"));
            CHECK(str_is(v.origin, "node-a"));
            CHECK(v.version == 1);
            CHECK(v.stamp == s1.stamp);
            CHECK(v.op_type == SA_OP_PUT);
            CHECK(str_is(v.key, "k1"));
            CHECK(v.value.ptr != NULL && v.value.len == 3 && memcmp(v.value.ptr, "one", 3) == 0);
            CHECK(v.status == SA_STATUS_IN_FLIGHT);
            CHECK(v.retry_count == 0);
            CHECK(v.has_replaces == false);
            CHECK(str_is(v.replaces_origin, ""));
        }
        if (OK(sa_batch_get(batch, 1, &v))) {
            CHECK(str_is(v.sync_id, "node-a-3"));
            CHECK(v.version == 3);
            CHECK(str_is(v.key, "k1"));
            CHECK(v.value.len == 3 && memcmp(v.value.ptr, "uno", 3) == 0);
            /* It replaced node-a-1's write of k1. */
            CHECK(v.has_replaces == true);
            CHECK(v.replaces_stamp == s1.stamp);
            CHECK(str_is(v.replaces_origin, "node-a"));
        }
        /* A batch is a snapshot: it does not change when the engine does. */
        OK(sa_sync_ack(engine, s1.sync_id, NULL));
        if (OK(sa_batch_get(batch, 0, &v))) {
            CHECK(v.status == SA_STATUS_IN_FLIGHT);
        }
    }
    sa_batch_free(batch);

    /* The batch took them in flight; nothing more to send. */
    st = state_of(engine);
    CHECK(st.in_flight_count == 1 && st.acknowledged_count == 1 && st.pending_count == 1);
    CHECK(st.unacknowledged_bytes == 10);

    /* Queue refuses in-flight and acknowledged operations. */
    EXPECT(sa_sync_queue(engine, s3.sync_id), SA_ERR_QUEUE_FAILED, "node-a-3");
    EXPECT(sa_sync_queue(engine, s1.sync_id), SA_ERR_QUEUE_FAILED, "node-a-1");

    /* ACKs. */
    int32_t outcome;
    POISON(outcome);
    EXPECT_NULL_ARG(sa_sync_ack(NULL, s3.sync_id, &outcome), "sync");
    CHECK(UNTOUCHED(outcome));
    EXPECT_NULL_ARG(sa_sync_ack(engine, NULL, &outcome), "sync_id");
    CHECK(UNTOUCHED(outcome));
    EXPECT(sa_sync_ack(engine, "node-a-42", &outcome), SA_ERR_NOT_FOUND, NULL);
    CHECK(strcmp(g_msg, NOT_FOUND_MSG) == 0);
    CHECK(UNTOUCHED(outcome));
    EXPECT(sa_sync_ack(engine, "node-b-3", &outcome), SA_ERR_NOT_FOUND, "node-b-3");
    CHECK(UNTOUCHED(outcome));
    EXPECT(sa_sync_ack(engine, BAD_UTF8, &outcome), SA_ERR_NOT_FOUND, NULL);
    CHECK(UNTOUCHED(outcome));
    if (OK(sa_sync_ack(engine, s3.sync_id, &outcome))) {
        CHECK(outcome == SA_ACK_ACKNOWLEDGED);
    }
    if (OK(sa_sync_ack(engine, s3.sync_id, &outcome))) {
        CHECK(outcome == SA_ACK_ALREADY_ACKNOWLEDGED);
    }
    if (OK(sa_sync_ack(engine, s1.sync_id, &outcome))) {
        CHECK(outcome == SA_ACK_ALREADY_ACKNOWLEDGED);
    }
    /* A late ACK for a pending operation (never sent) still counts. */
    if (OK(sa_sync_ack(engine, s2.sync_id, &outcome))) {
        CHECK(outcome == SA_ACK_ACKNOWLEDGED);
    }
    st = state_of(engine);
    CHECK(st.acknowledged_count == 3 && st.pending_count == 0 && st.in_flight_count == 0);
    CHECK(st.unacknowledged_bytes == 0 && st.oldest_unacknowledged_age_ms == 0);
    CHECK(st.outbox_bytes == 15);

    /* Outbox listing. */
    sa_batch *outbox;
    POISON(outbox);
    EXPECT_NULL_ARG(sa_sync_outbox(NULL, &outbox), "sync");
    CHECK(UNTOUCHED(outbox));
    EXPECT_NULL_ARG(sa_sync_outbox(engine, NULL), "out_batch");
    outbox = NULL;
    if (OK(sa_sync_outbox(engine, &outbox)) && CHECK(sa_batch_len(outbox) == 3)) {
        for (size_t i = 0; i < 3; i++) {
            sa_envelope_view v = {.struct_size = sizeof v};
            if (OK(sa_batch_get(outbox, i, &v))) {
                CHECK(v.version == i + 1);
                CHECK(v.status == SA_STATUS_ACKNOWLEDGED);
            }
        }
    }
    sa_batch_free(outbox);

    /* Prune: acknowledged operations leave the outbox; their writes stay in the store. */
    EXPECT_NULL_ARG(sa_sync_prune_completed(NULL, NULL), "sync");
    EXPECT_NULL_ARG(sa_sync_prune_failed(NULL, NULL), "sync");
    size_t pruned = 99;
    if (OK(sa_sync_prune_failed(engine, &pruned))) {
        CHECK(pruned == 0);
    }
    if (OK(sa_sync_prune_completed(engine, &pruned))) {
        CHECK(pruned == 3);
    }
    OK(sa_sync_prune_completed(engine, NULL));
    st = state_of(engine);
    CHECK(st.outbox_size == 0 && st.acknowledged_count == 0 && st.outbox_bytes == 0);
    CHECK(st.last_submitted_version == 3);
    CHECK(store_holds_str(store, "k1", "uno") && store_holds_str(store, "k2", "two"));
    /* Pruned ids are gone. */
    EXPECT(sa_sync_ack(engine, s1.sync_id, NULL), SA_ERR_NOT_FOUND, "node-a-1");
    EXPECT(sa_sync_queue(engine, s2.sync_id), SA_ERR_NOT_FOUND, "node-a-2");
    /* Versions are never reused. */
    sa_submitted s4 = {.struct_size = sizeof s4};
    if (put(engine, "k4", "four", &s4)) {
        CHECK(s4.version == 4 && strcmp(s4.sync_id, "node-a-4") == 0);
    }

done:
    sa_sync_free(engine);
    sa_clock_free(clock);
    sa_store_free(store);
}

/* Without ACKs, a batch counts as delivered. */
static void test_no_ack_batches(void)
{
    sa_store *store = open_memory_store();
    sa_sync_config config = config_for("node-a", false);
    config.batch_size = 2;
    sa_sync *engine = store != NULL ? new_engine(store, &config) : NULL;
    if (engine != NULL) {
        for (int i = 0; i < 5; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            put(engine, key, "v", NULL);
        }
        size_t sizes[4] = {0};
        for (int i = 0; i < 4; i++) {
            sa_batch *batch = NULL;
            if (OK(sa_sync_next_batch(engine, &batch))) {
                sizes[i] = sa_batch_len(batch);
                sa_envelope_view v = {.struct_size = sizeof v};
                if (sizes[i] > 0 && OK(sa_batch_get(batch, 0, &v))) {
                    CHECK(v.status == SA_STATUS_ACKNOWLEDGED);
                    CHECK(v.version == (uint64_t)(2 * i + 1)); /* oldest first */
                }
            }
            sa_batch_free(batch);
        }
        CHECK(sizes[0] == 2 && sizes[1] == 2 && sizes[2] == 1 && sizes[3] == 0);
        sa_sync_state_info st = state_of(engine);
        CHECK(st.acknowledged_count == 5 && st.queued_count == 0 && st.in_flight_count == 0);
    }
    sa_sync_free(engine);
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Retries, failures, requeue, prune_failed, tick                                            */
/* ---------------------------------------------------------------------------------------- */

static size_t next_batch_len(const sa_sync *engine)
{
    sa_batch *batch = NULL;
    size_t len = (size_t)-1;
    if (OK(sa_sync_next_batch(engine, &batch))) {
        len = sa_batch_len(batch);
    }
    sa_batch_free(batch);
    return len;
}

static size_t retry_expired(const sa_sync *engine)
{
    size_t retried = (size_t)-1;
    OK(sa_sync_retry_expired(engine, &retried));
    return retried;
}

static int32_t outbox_status(const sa_sync *engine, uint64_t version, uint32_t *retry_count)
{
    sa_batch *outbox = NULL;
    int32_t status = -1;
    if (OK(sa_sync_outbox(engine, &outbox))) {
        for (size_t i = 0; i < sa_batch_len(outbox); i++) {
            sa_envelope_view v = {.struct_size = sizeof v};
            if (sa_batch_get(outbox, i, &v) == SA_OK && v.version == version) {
                status = v.status;
                if (retry_count != NULL) {
                    *retry_count = v.retry_count;
                }
            }
        }
    }
    sa_batch_free(outbox);
    return status;
}

static void test_retry_and_failure(void)
{
    enum { TIMEOUT = 1000, INTERVAL = 100 };
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-a", true);
    config.ack_timeout_ms = TIMEOUT;
    config.retry_interval_ms = INTERVAL;
    config.retry_backoff_max_ms = INTERVAL;
    config.max_retries = 1;
    sa_sync *engine = new_engine(store, &config);
    if (engine == NULL || !OK(sa_sync_set_clock(engine, clock))) {
        goto done;
    }
    sa_submitted a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
    if (!put(engine, "ka", "A", &a) || !put(engine, "kb", "B", &b)) {
        goto done;
    }
    CHECK(next_batch_len(engine) == 2);
    CHECK(next_batch_len(engine) == 0);

    EXPECT_NULL_ARG(sa_sync_retry_expired(NULL, NULL), "sync");
    /* Not expired before the deadline. */
    OK(sa_clock_advance(clock, TIMEOUT - 1));
    CHECK(retry_expired(engine) == 0);
    OK(sa_sync_retry_expired(engine, NULL));
    sa_sync_state_info st = state_of(engine);
    CHECK(st.in_flight_count == 2 && st.total_retries == 0);

    /* At the deadline both are re-queued, to be sent after the back-off. */
    OK(sa_clock_advance(clock, 1));
    CHECK(retry_expired(engine) == 2);
    st = state_of(engine);
    CHECK(st.in_flight_count == 0 && st.queued_count == 2 && st.total_retries == 2);
    CHECK(st.failed_count == 0);
    CHECK(next_batch_len(engine) == 0); /* back-off: at least INTERVAL / 2 */
    OK(sa_clock_advance(clock, INTERVAL));
    sa_batch *batch = NULL;
    if (OK(sa_sync_next_batch(engine, &batch)) && CHECK(sa_batch_len(batch) == 2)) {
        sa_envelope_view v = {.struct_size = sizeof v};
        if (OK(sa_batch_get(batch, 0, &v))) {
            CHECK(v.retry_count == 1 && v.status == SA_STATUS_IN_FLIGHT);
            CHECK(str_is(v.sync_id, a.sync_id));
        }
    }
    sa_batch_free(batch);

    /* Retries exhausted: both fail. */
    OK(sa_clock_advance(clock, TIMEOUT));
    CHECK(retry_expired(engine) == 0);
    st = state_of(engine);
    CHECK(st.failed_count == 2 && st.in_flight_count == 0 && st.queued_count == 0);
    CHECK(st.outbox_size == 2 && st.total_retries == 2);
    CHECK(outbox_status(engine, a.version, NULL) == SA_STATUS_FAILED);
    CHECK(next_batch_len(engine) == 0);
    /* The local writes stay. */
    CHECK(store_holds_str(store, "ka", "A") && store_holds_str(store, "kb", "B"));
    /* A failed operation cannot be queued. */
    EXPECT(sa_sync_queue(engine, a.sync_id), SA_ERR_QUEUE_FAILED, NULL);

    /* requeue_failed: errors, then a fresh retry budget. */
    EXPECT_NULL_ARG(sa_sync_requeue_failed(NULL, a.sync_id), "sync");
    EXPECT_NULL_ARG(sa_sync_requeue_failed(engine, NULL), "sync_id");
    EXPECT(sa_sync_requeue_failed(engine, "node-a-42"), SA_ERR_NOT_FOUND, NULL);
    CHECK(strcmp(g_msg, NOT_FOUND_MSG) == 0);
    OK(sa_sync_requeue_failed(engine, a.sync_id));
    uint32_t retries = 99;
    CHECK(outbox_status(engine, a.version, &retries) == SA_STATUS_QUEUED && retries == 0);
    EXPECT(sa_sync_requeue_failed(engine, a.sync_id), SA_ERR_RETRY_FAILED, NULL);

    /* A late ACK for a failed operation still proves delivery. */
    int32_t outcome = 0;
    if (OK(sa_sync_ack(engine, b.sync_id, &outcome))) {
        CHECK(outcome == SA_ACK_ACKNOWLEDGED);
    }
    EXPECT(sa_sync_requeue_failed(engine, b.sync_id), SA_ERR_RETRY_FAILED, NULL);
    st = state_of(engine);
    CHECK(st.failed_count == 0 && st.queued_count == 1 && st.acknowledged_count == 1);

    /* a goes round again: sent, expires, retried once, expires, fails. */
    CHECK(next_batch_len(engine) == 1);
    OK(sa_clock_advance(clock, TIMEOUT));
    CHECK(retry_expired(engine) == 1);
    OK(sa_clock_advance(clock, INTERVAL));
    CHECK(next_batch_len(engine) == 1);
    OK(sa_clock_advance(clock, TIMEOUT));
    CHECK(retry_expired(engine) == 0);
    CHECK(state_of(engine).failed_count == 1);

    /* requeue_all_failed. */
    EXPECT_NULL_ARG(sa_sync_requeue_all_failed(NULL, NULL), "sync");
    size_t requeued = 99;
    if (OK(sa_sync_requeue_all_failed(engine, &requeued))) {
        CHECK(requeued == 1);
    }
    if (OK(sa_sync_requeue_all_failed(engine, &requeued))) {
        CHECK(requeued == 0);
    }
    OK(sa_sync_requeue_all_failed(engine, NULL));
    CHECK(state_of(engine).queued_count == 1);

    /* Fail it once more, then prune the failed and the completed ones. */
    CHECK(next_batch_len(engine) == 1);
    OK(sa_clock_advance(clock, TIMEOUT));
    CHECK(retry_expired(engine) == 1);
    OK(sa_clock_advance(clock, INTERVAL));
    CHECK(next_batch_len(engine) == 1);
    OK(sa_clock_advance(clock, TIMEOUT));
    CHECK(retry_expired(engine) == 0);
    size_t pruned = 99;
    if (OK(sa_sync_prune_failed(engine, &pruned))) {
        CHECK(pruned == 1);
    }
    OK(sa_sync_prune_failed(engine, NULL));
    st = state_of(engine);
    CHECK(st.outbox_size == 1 && st.failed_count == 0 && st.acknowledged_count == 1);
    CHECK(store_holds_str(store, "ka", "A")); /* a failed write stays in the store */
    EXPECT(sa_sync_requeue_failed(engine, a.sync_id), SA_ERR_NOT_FOUND, NULL);
    if (OK(sa_sync_prune_completed(engine, &pruned))) {
        CHECK(pruned == 1);
    }
    CHECK(state_of(engine).outbox_size == 0);

done:
    sa_sync_free(engine);
    sa_clock_free(clock);
    sa_store_free(store);
}

static void test_tick(void)
{
    enum { TIMEOUT = 500, INTERVAL = 40 };
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-a", true);
    config.ack_timeout_ms = TIMEOUT;
    config.retry_interval_ms = INTERVAL;
    config.retry_backoff_max_ms = INTERVAL;
    config.max_retries = 3;
    config.batch_size = 2;
    sa_sync *engine = new_engine(store, &config);
    if (engine == NULL || !OK(sa_sync_set_clock(engine, clock))) {
        goto done;
    }
    sa_tick_result tick = {.struct_size = sizeof tick};
    POISON_OUT(tick);
    EXPECT_NULL_ARG(sa_sync_tick(NULL, true, &tick), "sync");
    CHECK(UNTOUCHED_OUT(tick));
    EXPECT_NULL_ARG(sa_sync_tick(engine, true, NULL), "out_tick");

    /* Nothing to do: an empty batch, still to be freed. */
    if (OK(sa_sync_tick(engine, true, &tick))) {
        CHECK(tick.retried_count == 0 && tick.pruned_count == 0);
        CHECK(tick.batch != NULL && sa_batch_len(tick.batch) == 0);
        sa_batch_free(tick.batch);
    }

    sa_submitted s1 = {.struct_size = sizeof s1}, s2 = {.struct_size = sizeof s2}, s3 = {.struct_size = sizeof s3};
    put(engine, "t1", "1", &s1);
    put(engine, "t2", "2", &s2);
    put(engine, "t3", "3", &s3);
    if (OK(sa_sync_tick(engine, true, &tick))) {
        CHECK(tick.retried_count == 0 && tick.pruned_count == 0);
        CHECK(sa_batch_len(tick.batch) == 2); /* batch_size */
        CHECK(ack_all(engine, tick.batch) == 2);
        sa_batch_free(tick.batch);
    }
    /* t3 goes out; t1, t2 acknowledged but not pruned (prune = false). */
    if (OK(sa_sync_tick(engine, false, &tick))) {
        CHECK(tick.pruned_count == 0 && sa_batch_len(tick.batch) == 1);
        sa_batch_free(tick.batch);
    }
    /* t3 times out: the tick re-queues it, prunes t1 and t2, but the back-off holds it. */
    OK(sa_clock_advance(clock, TIMEOUT));
    if (OK(sa_sync_tick(engine, true, &tick))) {
        CHECK(tick.retried_count == 1);
        CHECK(tick.pruned_count == 2);
        CHECK(sa_batch_len(tick.batch) == 0);
        sa_batch_free(tick.batch);
    }
    OK(sa_clock_advance(clock, INTERVAL));
    if (OK(sa_sync_tick(engine, true, &tick))) {
        CHECK(tick.retried_count == 0 && tick.pruned_count == 0);
        if (CHECK(sa_batch_len(tick.batch) == 1)) {
            sa_envelope_view v = {.struct_size = sizeof v};
            if (OK(sa_batch_get(tick.batch, 0, &v))) {
                CHECK(str_is(v.sync_id, s3.sync_id) && v.retry_count == 1);
            }
        }
        CHECK(ack_all(engine, tick.batch) == 1);
        sa_batch_free(tick.batch);
    }
    if (OK(sa_sync_tick(engine, true, &tick))) {
        CHECK(tick.pruned_count == 1 && sa_batch_len(tick.batch) == 0);
        sa_batch_free(tick.batch);
    }
    sa_sync_state_info st = state_of(engine);
    CHECK(st.outbox_size == 0 && st.total_retries == 1 && st.last_submitted_version == 3);

done:
    sa_sync_free(engine);
    sa_clock_free(clock);
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Remote operations                                                                         */
/* ---------------------------------------------------------------------------------------- */

static void test_remote_errors(void)
{
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-b", true);
    sa_sync *engine = new_engine(store, &config);
    if (engine == NULL || !OK(sa_sync_set_clock(engine, clock))) {
        goto done;
    }
    put(engine, "local", "x", NULL);
    const uint8_t small[4] = {1, 2, 3, 4};
    sa_remote_op good = remote_put("node-c-1", "node-c", 1, STAMP(T0), "rk", "remote");
    sa_remote_op op = {.struct_size = sizeof op};
    sa_apply_result r = {.struct_size = sizeof r};

#define REMOTE_FAILS(call, code, needle) \
    do {                                  \
        POISON_OUT(r);                        \
        EXPECT(call, code, needle);       \
        CHECK(UNTOUCHED_OUT(r));              \
    } while (0)

    REMOTE_FAILS(sa_sync_receive_remote(NULL, &good, &r), SA_ERR_INVALID_ARGUMENT,
                 "sync is NULL");
    REMOTE_FAILS(sa_sync_receive_remote(engine, NULL, &r), SA_ERR_INVALID_ARGUMENT, "op is NULL");
    EXPECT_NULL_ARG(sa_sync_receive_remote(engine, &good, NULL), "out_result");

    op = good;
    op.sync_id = NULL;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_ARGUMENT,
                 "sync_id is NULL");
    op = good;
    op.origin = NULL;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_ARGUMENT,
                 "origin is NULL");
    op = good;
    op.key = NULL;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_ARGUMENT,
                 "key is NULL");
    op = good;
    op.value = NULL;
    op.value_len = 3;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_ARGUMENT,
                 "value is NULL");

    /* Invalid remote operations. */
    op = good;
    op.sync_id = "";
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "sync id");
    op = good;
    op.sync_id = BAD_UTF8;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION, NULL);
    const char *bad_origins[] = {"", "node c", BAD_UTF8, "node\n"};
    for (size_t i = 0; i < sizeof bad_origins / sizeof bad_origins[0]; i++) {
        op = good;
        op.origin = bad_origins[i];
        REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                     NULL);
    }
    op = good;
    op.version = 0;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "version 0");
    op = good;
    op.key = BAD_UTF8;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "UTF-8");
    op = good;
    op.key = "";
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "empty");
    const int32_t bad_types[] = {0, 3, -2};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        op = good;
        op.op_type = bad_types[i];
        REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                     "operation type");
    }
    op = good;
    op.op_type = SA_OP_DELETE; /* with a value */
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "delete");
    op = good;
    op.value = small;
    op.value_len = (size_t)67108865;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "67108865");
    op = good;
    op.has_replaces = true;
    op.replaces_stamp = STAMP(T0 - 5);
    op.replaces_origin = "bad origin";
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION, NULL);
    op.replaces_origin = BAD_UTF8;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION, NULL);

    /* Clock skew: a stamp more than max_clock_skew_ms (60 s) ahead of the local clock. */
    op = good;
    op.stamp = STAMP(T0 + 120000);
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "ahead");
    op.stamp = STAMP(T0 + 60001);
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
                 "ahead");
    op.stamp = UINT64_MAX;
    REMOTE_FAILS(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION, NULL);

    /* None of that touched the store or the counters. */
    sa_sync_state_info st = state_of(engine);
    CHECK(st.remote_applied_count == 0 && st.remote_ignored_count == 0);
    CHECK(st.remote_duplicate_count == 0 && st.conflict_count == 0);
    CHECK(st.last_applied_remote_version == 0);
    CHECK(store_len(store) == 1);
    CHECK(store_holds(store, "rk", NULL, 0));
    /* ...and the rejected version is not remembered as seen: it applies now. */
    if (OK(sa_sync_receive_remote(engine, &good, &r))) {
        CHECK(r.outcome == SA_APPLIED);
    }

    /* Within the skew (at the limit) is accepted. */
    op = remote_put("node-d-1", "node-d", 1, STAMP(T0 + 60000), "skew", "ok");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED);
        /* Local stamps now order after it. */
        sa_submitted s = {.struct_size = sizeof s};
        if (put(engine, "after-skew", "x", &s)) {
            CHECK(s.stamp > STAMP(T0 + 60000));
        }
    }

    /* sa_remote_op_from_view errors. */
    sa_envelope_view view = {.struct_size = sizeof view};
    POISON_OUT(op);
    EXPECT_NULL_ARG(sa_remote_op_from_view(NULL, &op), "view");
    CHECK(UNTOUCHED_OUT(op));
    EXPECT_NULL_ARG(sa_remote_op_from_view(&view, NULL), "out_op");
#undef REMOTE_FAILS

done:
    sa_sync_free(engine);
    sa_clock_free(clock);
    sa_store_free(store);
}

static void test_remote_apply(void)
{
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-b", true);
    sa_sync *engine = new_engine(store, &config);
    if (engine == NULL || !OK(sa_sync_set_clock(engine, clock))) {
        goto done;
    }
    sa_apply_result r = {.struct_size = sizeof r};

    /* A new key: applied, no conflict. */
    sa_remote_op op = remote_put("node-c-1", "node-c", 1, STAMP(T0 - 100), "r1", "first");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED);
        CHECK(r.conflict_detected == false);
        CHECK(r.reason == SA_REASON_NO_LOCAL_ENTRY);
        CHECK(r.store_version > 0);
    }
    sa_entry *entry = NULL;
    if (OK(sa_store_get(store, "r1", &entry)) && CHECK(entry != NULL)) {
        sa_bytes v = sa_entry_value(entry);
        CHECK(v.len == 5 && memcmp(v.ptr, "first", 5) == 0);
        CHECK(str_is(sa_entry_origin(entry), "node-c"));
        CHECK(sa_entry_stamp(entry) == STAMP(T0 - 100));
        CHECK(sa_entry_version(entry) == r.store_version);
    }
    sa_entry_free(entry);
    sa_sync_state_info st = state_of(engine);
    CHECK(st.remote_applied_count == 1 && st.last_applied_remote_version == 1);
    CHECK(st.outbox_size == 0); /* remote writes are not propagated again */

    /* Redelivery: a duplicate that changes nothing. */
    POISON_OUT(r);
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_DUPLICATE);
        CHECK(r.conflict_detected == false);
        CHECK(r.reason == 0);
        CHECK(r.store_version == 0);
    }
    st = state_of(engine);
    CHECK(st.remote_duplicate_count == 1 && st.remote_applied_count == 1);

    /* An older write from the same origin (delivered late): ignored, no conflict. */
    op = remote_put("node-c-2", "node-c", 2, STAMP(T0 - 200), "r1", "older");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_IGNORED);
        CHECK(r.conflict_detected == false);
        CHECK(r.reason == SA_REASON_SAME_ORIGIN_OLDER);
        CHECK(r.store_version == 0);
    }
    CHECK(store_holds_str(store, "r1", "first"));
    st = state_of(engine);
    CHECK(st.remote_ignored_count == 1);
    /* An ignored operation is remembered too: redelivering it is a duplicate. */
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_DUPLICATE);
    }

    /* A newer write from the same origin: applied, no conflict. */
    op = remote_put("node-c-3", "node-c", 3, STAMP(T0 - 50), "r1", "newer");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED && r.conflict_detected == false);
        CHECK(r.reason == SA_REASON_SAME_ORIGIN_NEWER);
    }
    CHECK(store_holds_str(store, "r1", "newer"));

    /* The very write the store holds, under another version: a duplicate (same write). */
    op = remote_put("node-c-4", "node-c", 4, STAMP(T0 - 50), "r1", "newer");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_DUPLICATE && r.reason == SA_REASON_SAME_WRITE);
        CHECK(r.conflict_detected == false);
    }

    /* An operation whose origin is this node's own id (our own coming back, or a peer given
     * the same id): refused, naming the id, nothing changed. */
    sa_submitted own = {.struct_size = sizeof own};
    if (put(engine, "mine", "m", &own)) {
        op = remote_put(own.sync_id, "node-b", own.version, own.stamp, "mine", "m");
        EXPECT(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
               "origin node-b is this node's own id");
        op = remote_put("node-b-77", "node-b", 77, STAMP(T0 - 5), "twin", "t");
        EXPECT(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_REMOTE_OPERATION,
               "origin node-b is this node's own id");
        CHECK(!store_holds_str(store, "twin", "t"));
    }

    /* A remote delete, with a NULL value of length 0. */
    op = remote_put("node-c-5", "node-c", 5, STAMP(T0 - 10), "r1", NULL);
    op.op_type = SA_OP_DELETE;
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED);
    }
    CHECK(store_holds(store, "r1", NULL, 0));
    /* A remote put of an empty value (NULL, length 0). */
    op = remote_put("node-c-6", "node-c", 6, STAMP(T0 - 5), "r-empty", NULL);
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED);
        CHECK(store_holds(store, "r-empty", "", 0));
    }
    /* Versions of another origin are tracked separately. */
    op = remote_put("node-d-1", "node-d", 1, STAMP(T0 - 5), "rd", "d");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED);
    }
    /* A sync id that does not follow <origin>-<version> is fine for remote operations. */
    op = remote_put("opaque id", "node-d", 2, STAMP(T0 - 4), "rd2", "d2");
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED);
    }
    st = state_of(engine);
    CHECK(st.remote_applied_count == 6);
    CHECK(st.remote_ignored_count == 1);
    CHECK(st.remote_duplicate_count == 3);
    CHECK(st.conflict_count == 0);
    CHECK(st.last_applied_remote_version == 2);

done:
    sa_sync_free(engine);
    sa_clock_free(clock);
    sa_store_free(store);
}

/* A local write on node-b, then a concurrent remote write of the same key, under `policy`. */
static void conflict_case(int32_t policy, const char *remote_node, int64_t remote_offset,
                          bool expect_applied, int32_t expect_reason)
{
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-b", true);
    config.conflict_policy = policy;
    sa_sync *engine = new_engine(store, &config);
    sa_submitted local = {.struct_size = sizeof local};
    if (engine != NULL && OK(sa_sync_set_clock(engine, clock)) && put(engine, "doc", "local", &local)) {
        CHECK(local.stamp == STAMP(T0));
        char sync_id[64];
        snprintf(sync_id, sizeof sync_id, "%s-1", remote_node);
        sa_remote_op op = remote_put(sync_id, remote_node, 1,
                                     (uint64_t)((int64_t)local.stamp + remote_offset), "doc",
                                     "remote");
        sa_apply_result r = {.struct_size = sizeof r};
        if (OK(sa_sync_receive_remote(engine, &op, &r))) {
            CHECK(r.conflict_detected == true);
            CHECK(r.outcome == (expect_applied ? SA_APPLIED : SA_IGNORED));
            if (!CHECK(r.reason == expect_reason)) {
                fprintf(stderr, "    policy %d, remote %s offset %" PRId64 ": reason %d\n",
                        (int)policy, remote_node, remote_offset, (int)r.reason);
            }
            CHECK((r.store_version != 0) == expect_applied);
        }
        CHECK(store_holds_str(store, "doc", expect_applied ? "remote" : "local"));
        sa_sync_state_info st = state_of(engine);
        CHECK(st.conflict_count == 1);
        CHECK(st.remote_applied_count == (expect_applied ? 1u : 0u));
        CHECK(st.remote_ignored_count == (expect_applied ? 0u : 1u));
        /* The local operation is still to be propagated either way. */
        CHECK(st.outbox_size == 1);
    }
    sa_sync_free(engine);
    sa_clock_free(clock);
    sa_store_free(store);
}

static void test_conflicts_in_engine(void)
{
    const int64_t ms = INT64_C(1) << 16;
    /* Last-write-wins: the greater (stamp, node id) wins. */
    conflict_case(SA_POLICY_LAST_WRITE_WINS, "node-c", 10 * ms, true, SA_REASON_REMOTE_WINS);
    conflict_case(SA_POLICY_LAST_WRITE_WINS, "node-c", -10 * ms, false, SA_REASON_LOCAL_WINS);
    /* Equal stamps: the node id breaks the tie, both ways. */
    conflict_case(SA_POLICY_LAST_WRITE_WINS, "node-c", 0, true, SA_REASON_REMOTE_WINS);
    conflict_case(SA_POLICY_LAST_WRITE_WINS, "node-a", 0, false, SA_REASON_LOCAL_WINS);
    /* Keep-local and keep-remote decide every conflict, whatever the stamps. */
    conflict_case(SA_POLICY_KEEP_LOCAL, "node-c", 10 * ms, false, SA_REASON_POLICY_KEEP_LOCAL);
    conflict_case(SA_POLICY_KEEP_LOCAL, "node-c", -10 * ms, false, SA_REASON_POLICY_KEEP_LOCAL);
    conflict_case(SA_POLICY_KEEP_REMOTE, "node-c", -10 * ms, true, SA_REASON_POLICY_KEEP_REMOTE);
    conflict_case(SA_POLICY_KEEP_REMOTE, "node-a", 10 * ms, true, SA_REASON_POLICY_KEEP_REMOTE);
}

/* Engine A writes, B receives and overwrites, A receives B's write: a causal successor, applied
 * without conflict even under keep-local. Also checks that LWW nodes converge. */
static void test_causal_successor(void)
{
    sa_store *store_a = open_memory_store();
    sa_store *store_b = open_memory_store();
    sa_clock *clock = NULL;
    if (store_a == NULL || store_b == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store_a);
        sa_store_free(store_b);
        return;
    }
    sa_sync_config ca = config_for("node-a", true);
    ca.conflict_policy = SA_POLICY_KEEP_LOCAL;
    sa_sync_config cb = config_for("node-b", true);
    sa_sync *a = new_engine(store_a, &ca);
    sa_sync *b = new_engine(store_b, &cb);
    sa_batch *batch_a = NULL;
    sa_batch *batch_b = NULL;
    if (a == NULL || b == NULL || !OK(sa_sync_set_clock(a, clock)) ||
        !OK(sa_sync_set_clock(b, clock))) {
        goto done;
    }
    sa_submitted sa1 = {.struct_size = sizeof sa1};
    if (!put(a, "shared", "v1", &sa1)) {
        goto done;
    }
    sa_envelope_view v = {.struct_size = sizeof v};
    sa_remote_op op = {.struct_size = sizeof op};
    sa_apply_result r = {.struct_size = sizeof r};
    if (!OK(sa_sync_next_batch(a, &batch_a)) || !CHECK(sa_batch_len(batch_a) == 1) ||
        !OK(sa_batch_get(batch_a, 0, &v))) {
        goto done;
    }
    POISON_OUT(op);
    if (OK(sa_remote_op_from_view(&v, &op))) {
        /* The remote op points into the batch. */
        CHECK(op.sync_id == v.sync_id.ptr && op.origin == v.origin.ptr && op.key == v.key.ptr);
        CHECK(op.value == v.value.ptr && op.value_len == v.value.len);
        CHECK(op.version == v.version && op.stamp == v.stamp && op.op_type == v.op_type);
        CHECK(op.has_replaces == v.has_replaces && op.replaces_stamp == v.replaces_stamp);
        CHECK(strcmp(op.sync_id, "node-a-1") == 0 && strcmp(op.origin, "node-a") == 0);
        if (OK(sa_sync_receive_remote(b, &op, &r))) {
            CHECK(r.outcome == SA_APPLIED && r.reason == SA_REASON_NO_LOCAL_ENTRY);
        }
    }
    OK(sa_sync_ack(a, sa1.sync_id, NULL));

    /* B overwrites A's value: its operation says which write it replaced. */
    sa_submitted sb1 = {.struct_size = sizeof sb1};
    if (!put(b, "shared", "v2", &sb1)) {
        goto done;
    }
    CHECK(sb1.stamp > sa1.stamp);
    if (!OK(sa_sync_next_batch(b, &batch_b)) || !CHECK(sa_batch_len(batch_b) == 1) ||
        !OK(sa_batch_get(batch_b, 0, &v))) {
        goto done;
    }
    CHECK(v.has_replaces == true);
    CHECK(v.replaces_stamp == sa1.stamp);
    CHECK(str_is(v.replaces_origin, "node-a"));
    if (OK(sa_remote_op_from_view(&v, &op))) {
        CHECK(op.has_replaces == true && strcmp(op.replaces_origin, "node-a") == 0);
        if (OK(sa_sync_receive_remote(a, &op, &r))) {
            CHECK(r.outcome == SA_APPLIED);
            CHECK(r.conflict_detected == false);
            CHECK(r.reason == SA_REASON_CAUSAL_SUCCESSOR);
        }
        /* Redelivered: duplicate. */
        if (OK(sa_sync_receive_remote(a, &op, &r))) {
            CHECK(r.outcome == SA_DUPLICATE);
        }
    }
    CHECK(store_holds_str(store_a, "shared", "v2"));
    CHECK(store_holds_str(store_b, "shared", "v2"));
    sa_entry *entry = NULL;
    if (OK(sa_store_get(store_a, "shared", &entry)) && CHECK(entry != NULL)) {
        CHECK(str_is(sa_entry_origin(entry), "node-b"));
        CHECK(sa_entry_stamp(entry) == sb1.stamp);
    }
    sa_entry_free(entry);
    sa_sync_state_info st = state_of(a);
    CHECK(st.conflict_count == 0 && st.remote_applied_count == 1);

    /* The same write without its `replaces` information, under keep-local, would have been
     * a conflict and kept the local value: check on a fresh node holding v1. */
    {
        sa_store *store_c = open_memory_store();
        sa_sync_config cc = config_for("node-c", true);
        cc.conflict_policy = SA_POLICY_KEEP_LOCAL;
        sa_sync *c = store_c != NULL ? new_engine(store_c, &cc) : NULL;
        if (c != NULL && OK(sa_sync_set_clock(c, clock))) {
            sa_submitted sc = {.struct_size = sizeof sc};
            put(c, "shared", "c-local", &sc);
            sa_remote_op plain = op;
            plain.has_replaces = false;
            if (OK(sa_sync_receive_remote(c, &plain, &r))) {
                CHECK(r.conflict_detected == true && r.outcome == SA_IGNORED);
                CHECK(r.reason == SA_REASON_POLICY_KEEP_LOCAL);
            }
        }
        sa_sync_free(c);
        sa_store_free(store_c);
    }

done:
    sa_batch_free(batch_a);
    sa_batch_free(batch_b);
    sa_sync_free(a);
    sa_sync_free(b);
    sa_clock_free(clock);
    sa_store_free(store_a);
    sa_store_free(store_b);
}

/* ---------------------------------------------------------------------------------------- */
/* Handles: engine keeps the store alive; engines hand over on the same store                */
/* ---------------------------------------------------------------------------------------- */

static void test_handle_lifetimes(void)
{
    /* The engine keeps its store alive after sa_store_free. */
    sa_store *store = open_memory_store();
    sa_clock *clock = NULL;
    if (store == NULL || !OK(sa_clock_new_manual(T0, &clock))) {
        sa_store_free(store);
        return;
    }
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = new_engine(store, &config);
    sa_store_free(store);
    store = NULL;
    if (engine != NULL) {
        OK(sa_sync_set_clock(engine, clock));
        sa_clock_free(clock); /* the engine keeps its reference too */
        clock = NULL;
        sa_submitted s = {.struct_size = sizeof s};
        CHECK(put(engine, "k", "v", &s));
        CHECK(s.stamp == STAMP(T0));
        sa_batch *batch = NULL;
        if (OK(sa_sync_next_batch(engine, &batch))) {
            CHECK(sa_batch_len(batch) == 1);
            CHECK(ack_all(engine, batch) == 1);
        }
        sa_sync_free(engine); /* freed before the batch: the batch stays readable */
        engine = NULL;
        sa_envelope_view v = {.struct_size = sizeof v};
        if (OK(sa_batch_get(batch, 0, &v))) {
            CHECK(str_is(v.key, "k") && v.value.len == 1 && v.value.ptr[0] == 'v');
        }
        sa_batch_free(batch);
    }
    sa_clock_free(clock);

    /* A new engine on the same store continues where the previous one stopped. */
    store = open_memory_store();
    if (store == NULL) {
        return;
    }
    config.auto_queue = false;
    engine = new_engine(store, &config);
    if (engine != NULL) {
        put(engine, "a", "1", NULL);
        put(engine, "b", "2", NULL);
        OK(sa_sync_queue(engine, "node-a-1"));
        sa_sync_free(engine);
        engine = new_engine(store, &config);
        if (engine != NULL) {
            sa_sync_state_info st = state_of(engine);
            CHECK(st.outbox_size == 2 && st.queued_count == 1 && st.pending_count == 1);
            CHECK(st.last_submitted_version == 2);
            sa_submitted s = {.struct_size = sizeof s};
            if (put(engine, "c", "3", &s)) {
                CHECK(s.version == 3);
            }
        }
    }
    sa_sync_free(engine);
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* WAL: reopen recovers the outbox; replay report; torn tail; corruption                     */
/* ---------------------------------------------------------------------------------------- */

static bool append_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "ab");
    if (f == NULL) {
        return false;
    }
    bool ok = fwrite(bytes, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static bool flip_byte(const char *path, long offset)
{
    FILE *f = fopen(path, "r+b");
    if (f == NULL) {
        return false;
    }
    int c = EOF;
    bool ok = fseek(f, offset, SEEK_SET) == 0 && (c = fgetc(f)) != EOF &&
              fseek(f, offset, SEEK_SET) == 0 && fputc(c ^ 0x5a, f) != EOF;
    return fclose(f) == 0 && ok;
}

static void test_wal_reopen(void)
{
    char path[256];
    path_in_dir(path, sizeof path, "reopen.wal");
    sa_clock *clock = NULL;
    if (!OK(sa_clock_new_manual(T0, &clock))) {
        return;
    }
    sa_sync_config config = {.struct_size = sizeof config};
    if (!OK(sa_sync_config_durable("node-a", &config))) {
        sa_clock_free(clock);
        return;
    }

    /* First life: 3 submits, all sent, only the first acknowledged. */
    sa_store *store = NULL;
    if (!OK(sa_store_open(path, SA_DURABLE, &store))) {
        sa_clock_free(clock);
        return;
    }
    sa_replay_report report = {.struct_size = sizeof report};
    if (OK(sa_store_replay_report(store, &report))) {
        CHECK(report.records == 0 && report.dropped_bytes == 0);
    }
    sa_sync *engine = new_engine(store, &config);
    sa_submitted s[3];
    if (engine != NULL && OK(sa_sync_set_clock(engine, clock)) && put(engine, "k1", "v1", &s[0]) &&
        put(engine, "k2", "v2", &s[1]) && put(engine, "k3", "v3", &s[2])) {
        CHECK(next_batch_len(engine) == 3);
        OK(sa_sync_ack(engine, s[0].sync_id, NULL));
    }
    sa_sync_free(engine);
    sa_store_free(store);

    /* Second life: the WAL is replayed, in-flight operations are queued again. */
    store = NULL;
    if (!OK(sa_store_open(path, SA_DURABLE, &store))) {
        sa_clock_free(clock);
        return;
    }
    POISON_OUT(report);
    if (OK(sa_store_replay_report(store, &report))) {
        /* 3 writes + 1 ACK annotation. */
        if (!CHECK(report.records == 4)) {
            fprintf(stderr, "    replay report records = %" PRIu64 "\n", report.records);
        }
        CHECK(report.dropped_bytes == 0);
    }
    CHECK(store_len(store) == 3);
    CHECK(store_holds_str(store, "k1", "v1") && store_holds_str(store, "k3", "v3"));
    engine = new_engine(store, &config);
    if (engine != NULL) {
        OK(sa_sync_set_clock(engine, clock));
        sa_sync_state_info st = state_of(engine);
        CHECK(st.outbox_size == 3);
        CHECK(st.acknowledged_count == 1);
        CHECK(st.queued_count == 2);
        CHECK(st.in_flight_count == 0 && st.pending_count == 0 && st.failed_count == 0);
        CHECK(st.last_submitted_version == 3);
        /* The acknowledged one is not sent again; the two in flight are. */
        sa_batch *batch = NULL;
        if (OK(sa_sync_next_batch(engine, &batch)) && CHECK(sa_batch_len(batch) == 2)) {
            sa_envelope_view v = {.struct_size = sizeof v};
            if (OK(sa_batch_get(batch, 0, &v))) {
                CHECK(str_is(v.sync_id, "node-a-2") && str_is(v.key, "k2"));
                CHECK(v.value.len == 2 && memcmp(v.value.ptr, "v2", 2) == 0);
                CHECK(v.stamp == s[1].stamp);
            }
            if (OK(sa_batch_get(batch, 1, &v))) {
                CHECK(str_is(v.sync_id, "node-a-3") && str_is(v.key, "k3"));
            }
            CHECK(ack_all(engine, batch) == 2);
        }
        sa_batch_free(batch);
        int32_t outcome = 0;
        if (OK(sa_sync_ack(engine, s[0].sync_id, &outcome))) {
            CHECK(outcome == SA_ACK_ALREADY_ACKNOWLEDGED);
        }
        /* Versions continue; stamps stay after the replayed ones. */
        sa_submitted s4 = {.struct_size = sizeof s4};
        if (put(engine, "k4", "v4", &s4)) {
            CHECK(s4.version == 4 && strcmp(s4.sync_id, "node-a-4") == 0);
            CHECK(s4.stamp > s[2].stamp);
        }
        size_t pruned = 0;
        if (OK(sa_sync_prune_completed(engine, &pruned))) {
            CHECK(pruned == 3);
        }
    }
    sa_sync_free(engine);
    sa_store_free(store);

    /* Third life: pruning survived, version 4 is pending delivery. */
    store = NULL;
    if (OK(sa_store_open(path, SA_FAST, &store))) {
        engine = new_engine(store, &config);
        if (engine != NULL) {
            sa_sync_state_info st = state_of(engine);
            CHECK(st.outbox_size == 1 && st.queued_count == 1);
            CHECK(st.last_submitted_version == 4);
        }
        sa_sync_free(engine);
        sa_store_free(store);
    }

    /* A torn tail (a partial record header) is cut and reported. */
    const uint8_t garbage[5] = {1, 2, 3, 4, 5};
    CHECK(append_bytes(path, garbage, sizeof garbage));
    store = NULL;
    if (OK(sa_store_open(path, SA_FAST, &store))) {
        if (OK(sa_store_replay_report(store, &report))) {
            CHECK(report.dropped_bytes == 5);
            CHECK(report.records > 4);
        }
        CHECK(store_len(store) == 4);
        sa_store_free(store);
    }
    store = NULL;
    if (OK(sa_store_open(path, SA_FAST, &store))) { /* repaired: clean now */
        if (OK(sa_store_replay_report(store, &report))) {
            CHECK(report.dropped_bytes == 0);
        }
        sa_store_free(store);
    }

    /* Damage followed by more records: SA_ERR_CORRUPT, out_store untouched. */
    char corrupt[256];
    path_in_dir(corrupt, sizeof corrupt, "corrupt.wal");
    store = NULL;
    if (OK(sa_store_open(corrupt, SA_FAST, &store))) {
        sa_sync_config fc = config_for("node-a", false);
        engine = new_engine(store, &fc);
        put(engine, "c1", "one", NULL);
        put(engine, "c2", "two", NULL);
        put(engine, "c3", "three", NULL);
        sa_sync_free(engine);
        sa_store_free(store);
        CHECK(flip_byte(corrupt, 8 + 8 + 4)); /* inside the first record's payload */
        POISON(store);
        EXPECT(sa_store_open(corrupt, SA_FAST, &store), SA_ERR_CORRUPT, NULL);
        CHECK(UNTOUCHED(store));
    }

    /* Not a WAL at all. */
    char notwal[256];
    path_in_dir(notwal, sizeof notwal, "not-a-wal.wal");
    const char *text = "this is not a write-ahead log\n";
    CHECK(append_bytes(notwal, text, strlen(text)));
    POISON(store);
    EXPECT(sa_store_open(notwal, SA_FAST, &store), SA_ERR_CORRUPT, NULL);
    CHECK(UNTOUCHED(store));

    sa_clock_free(clock);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static bool set_byte(const char *path, long offset, int value)
{
    FILE *f = fopen(path, "r+b");
    if (f == NULL) {
        return false;
    }
    bool ok = fseek(f, offset, SEEK_SET) == 0 && fputc(value, f) != EOF;
    return fclose(f) == 0 && ok;
}

/* Writes `count` puts k1.. in fast mode on a fresh WAL at `path`, closing cleanly; returns the
 * file offsets where each record starts in `starts` (count + 1 entries: the last is the end). */
static bool write_puts(const char *path, size_t count, long *starts)
{
    sa_store *store = NULL;
    if (!OK(sa_store_open(path, SA_FAST, &store))) {
        return false;
    }
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = new_engine(store, &config);
    bool ok = engine != NULL;
    starts[0] = file_size(path);
    for (size_t i = 0; ok && i < count; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%zu", i + 1);
        ok = put(engine, key, "value", NULL);
        starts[i + 1] = file_size(path);
    }
    sa_sync_free(engine);
    sa_store_free(store);
    return ok;
}

/* Issue 12: one writer per WAL; damage that is not a torn tail is refused with nothing cut;
 * crash tails are cut; ids are never issued twice; the clock never repeats a stamp. */
static void test_wal_recovery_rules(void)
{
    char path[256];
    path_in_dir(path, sizeof path, "exclusive.wal");

    /* A second handle on the same WAL is refused, naming the path, while the first (or an
     * engine keeping it alive) is open. */
    sa_store *first = NULL;
    if (OK(sa_store_open(path, SA_FAST, &first))) {
        sa_store *second;
        POISON(second);
        EXPECT(sa_store_open(path, SA_FAST, &second), SA_ERR_IN_USE, "in use");
        CHECK(UNTOUCHED(second));
        CHECK(strstr(sa_last_error_message(), path) != NULL);
        sa_sync_config config = config_for("node-a", true);
        sa_sync *engine = new_engine(first, &config);
        sa_store_free(first); /* the engine keeps the store, and its lock, alive */
        EXPECT(sa_store_open(path, SA_DURABLE, &second), SA_ERR_IN_USE, "in use");
        CHECK(UNTOUCHED(second));
        sa_sync_free(engine);
        second = NULL;
        if (OK(sa_store_open(path, SA_FAST, &second))) { /* released on free */
            sa_store_free(second);
        }
    }

    /* The high byte of the first record's length flipped: refused, nothing truncated. */
    char damaged[256];
    path_in_dir(damaged, sizeof damaged, "length.wal");
    long starts[4];
    if (CHECK(write_puts(damaged, 3, starts))) {
        long size = file_size(damaged);
        CHECK(flip_byte(damaged, starts[0] + 3));
        sa_store *store;
        POISON(store);
        EXPECT(sa_store_open(damaged, SA_FAST, &store), SA_ERR_CORRUPT, "valid record follows");
        CHECK(UNTOUCHED(store));
        CHECK(has_number(sa_last_error_message(), (uint64_t)starts[0]));
        CHECK(file_size(damaged) == size);
        CHECK(flip_byte(damaged, starts[0] + 3)); /* undo */
        /* The same in the last record: its bytes still form a complete record. */
        CHECK(flip_byte(damaged, starts[2] + 3));
        EXPECT(sa_store_open(damaged, SA_FAST, &store), SA_ERR_CORRUPT, "length field");
        CHECK(UNTOUCHED(store));
        CHECK(file_size(damaged) == size);
    }

    /* A last record whose final bytes never landed, followed by preallocated zeros: cut and
     * reported; the id of the cut record is not issued again. */
    char zeros[256];
    path_in_dir(zeros, sizeof zeros, "zeros.wal");
    if (CHECK(write_puts(zeros, 3, starts))) {
        /* The record's second half: it holds the value, so zeros there always change it. */
        for (long at = starts[2] + (starts[3] - starts[2]) / 2; at < starts[3]; at++) {
            CHECK(set_byte(zeros, at, 0));
        }
        const uint8_t pad[64] = {0};
        CHECK(append_bytes(zeros, pad, sizeof pad));
        sa_store *store = NULL;
        if (OK(sa_store_open(zeros, SA_FAST, &store))) {
            sa_replay_report report = {.struct_size = sizeof report};
            if (OK(sa_store_replay_report(store, &report))) {
                CHECK(report.records == 2);
                CHECK(report.dropped_bytes == (uint64_t)(starts[3] - starts[2]) + sizeof pad);
            }
            CHECK(store_holds_str(store, "k2", "value"));
            CHECK(store_holds_str(store, "k3", NULL));
            sa_sync_config config = config_for("node-a", true);
            sa_sync *engine = new_engine(store, &config);
            sa_submitted next = {.struct_size = sizeof next};
            if (engine != NULL && put(engine, "k4", "value", &next)) {
                CHECK(next.version == 4 && strcmp(next.sync_id, "node-a-4") == 0);
            }
            sa_sync_free(engine);
            sa_store_free(store);
        }
    }

    /* A partial record header followed by garbage: a torn tail too. */
    char garbage[256];
    path_in_dir(garbage, sizeof garbage, "garbage.wal");
    if (CHECK(write_puts(garbage, 1, starts))) {
        const uint8_t tail[11] = {0x21, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
        CHECK(append_bytes(garbage, tail, sizeof tail));
        sa_store *store = NULL;
        if (OK(sa_store_open(garbage, SA_FAST, &store))) {
            sa_replay_report report = {.struct_size = sizeof report};
            if (OK(sa_store_replay_report(store, &report))) {
                CHECK(report.records == 1 && report.dropped_bytes == sizeof tail);
            }
            sa_store_free(store);
        }
        CHECK(file_size(garbage) == starts[1]);
    }

    /* The hybrid clock at the top of its range refuses a write instead of reusing a stamp. */
    sa_clock *clock = NULL;
    sa_store *memory = open_memory_store();
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = memory != NULL ? new_engine(memory, &config) : NULL;
    if (engine != NULL && OK(sa_clock_new_manual(UINT64_MAX, &clock)) &&
        OK(sa_sync_set_clock(engine, clock))) {
        const uint64_t top = UINT64_MAX; /* the greatest stamp: wall 2^48-1, logical 65535 */
        sa_remote_op op = remote_put("node-b-1", "node-b", 1, top, "top", "v");
        sa_apply_result result = {.struct_size = sizeof result};
        if (OK(sa_sync_receive_remote(engine, &op, &result))) {
            CHECK(result.outcome == SA_APPLIED);
        }
        sa_submitted sub = {.struct_size = sizeof sub};
        POISON_OUT(sub);
        EXPECT(sa_sync_submit(engine, SA_OP_PUT, "after", (const uint8_t *)"x", 1, &sub),
               SA_ERR_STORE_APPLY, "clock is exhausted");
        CHECK(UNTOUCHED_OUT(sub));
        CHECK(state_of(engine).outbox_size == 0);
    }
    sa_sync_free(engine);
    sa_store_free(memory);
    sa_clock_free(clock);
}

/* A durable engine on a WAL store: a second engine on the same store is refused; the store
 * handle may be freed first. */
static void test_wal_second_engine(void)
{
    char path[256];
    path_in_dir(path, sizeof path, "second.wal");
    sa_store *store = NULL;
    if (!OK(sa_store_open(path, SA_DURABLE, &store))) {
        return;
    }
    sa_sync_config config = {.struct_size = sizeof config};
    OK(sa_sync_config_durable("node-a", &config));
    sa_sync *first = new_engine(store, &config);
    sa_sync *second;
    POISON(second);
    EXPECT(sa_sync_new(store, &config, &second), SA_ERR_INVALID_CONTEXT, NULL);
    CHECK(UNTOUCHED(second));
    sa_sync_config other = {.struct_size = sizeof other};
    OK(sa_sync_config_fast("node-z", &other));
    EXPECT(sa_sync_new(store, &other, &second), SA_ERR_INVALID_CONTEXT, NULL);
    CHECK(UNTOUCHED(second));
    sa_store_free(store);
    if (first != NULL) {
        sa_submitted s = {.struct_size = sizeof s};
        CHECK(put(first, "x", "y", &s));
        CHECK(state_of(first).outbox_size == 1);
    }
    sa_sync_free(first);
}

/* ---------------------------------------------------------------------------------------- */
/* ACK tracker                                                                               */
/* ---------------------------------------------------------------------------------------- */

static void test_ack_tracker(void)
{
    sa_ack_tracker *t;
    POISON(t);
    EXPECT_NULL_ARG(sa_ack_tracker_new(NULL, NULL), "out_tracker");

    /* With the system clock. */
    t = NULL;
    if (OK(sa_ack_tracker_new(NULL, &t))) {
        CHECK(t != NULL);
        OK(sa_ack_tracker_track(t, "sys-1", 3600000));
        bool waiting = false;
        if (OK(sa_ack_tracker_is_waiting(t, "sys-1", &waiting))) {
            CHECK(waiting == true);
        }
        size_t expired = 99;
        if (OK(sa_ack_tracker_collect_expired(t, &expired))) {
            CHECK(expired == 0);
        }
    }
    sa_ack_tracker_free(t);

    sa_clock *clock = NULL;
    if (!OK(sa_clock_new_manual(T0, &clock))) {
        return;
    }
    t = NULL;
    if (!OK(sa_ack_tracker_new(clock, &t))) {
        sa_clock_free(clock);
        return;
    }
    bool flag;

    /* NULL and invalid arguments. */
    EXPECT(sa_ack_tracker_track(NULL, "a", 10), SA_ERR_INVALID_ARGUMENT, "tracker");
    CHECK(strstr(g_msg, "is NULL") != NULL);
    EXPECT_NULL_ARG(sa_ack_tracker_track(t, NULL, 10), "sync_id");
    EXPECT(sa_ack_tracker_track(t, "", 10), SA_ERR_ACK_TRACKING, NULL);
    EXPECT(sa_ack_tracker_track(t, BAD_UTF8, 10), SA_ERR_ACK_TRACKING, NULL);
    CHECK(sa_ack_tracker_size(t) == 0);

    typedef sa_status (*query_fn)(const sa_ack_tracker *, const char *, bool *);
    const struct {
        query_fn fn;
        const char *out_name;
    } queries[] = {
        {sa_ack_tracker_ack, "out_known"},
        {sa_ack_tracker_is_waiting, "out_waiting"},
        {sa_ack_tracker_acknowledged, "out_acknowledged"},
        {sa_ack_tracker_erase, "out_known"},
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        POISON(flag);
        EXPECT(queries[i].fn(NULL, "a", &flag), SA_ERR_INVALID_ARGUMENT, "tracker");
        CHECK(strstr(g_msg, "is NULL") != NULL);
        CHECK(UNTOUCHED(flag));
        EXPECT(queries[i].fn(t, NULL, &flag), SA_ERR_INVALID_ARGUMENT, "sync_id is NULL");
        CHECK(UNTOUCHED(flag));
        EXPECT(queries[i].fn(t, BAD_UTF8, &flag), SA_ERR_ACK_TRACKING, NULL);
        CHECK(UNTOUCHED(flag));
        EXPECT(queries[i].fn(t, "a", NULL), SA_ERR_INVALID_ARGUMENT, "is NULL");
        /* The message names the header's parameter. */
        if (!CHECK(strstr(g_msg, queries[i].out_name) != NULL)) {
            fprintf(stderr, "    message \"%s\" does not name %s\n", g_msg, queries[i].out_name);
        }
    }
    size_t count;
    POISON(count);
    EXPECT(sa_ack_tracker_collect_expired(NULL, &count), SA_ERR_INVALID_ARGUMENT, "tracker");
    CHECK(UNTOUCHED(count));
    EXPECT(sa_ack_tracker_prune_received(NULL, &count), SA_ERR_INVALID_ARGUMENT, "tracker");
    CHECK(UNTOUCHED(count));
    EXPECT(sa_ack_tracker_clear(NULL), SA_ERR_INVALID_ARGUMENT, "tracker");
    CHECK(strstr(g_msg, "is NULL") != NULL);
    CHECK(sa_ack_tracker_size(NULL) == 0);

    /* Flow. */
    OK(sa_ack_tracker_track(t, "a", 100));
    OK(sa_ack_tracker_track(t, "b", 200));
    OK(sa_ack_tracker_track(t, "c", 300));
    CHECK(sa_ack_tracker_size(t) == 3);
    if (OK(sa_ack_tracker_is_waiting(t, "a", &flag))) CHECK(flag == true);
    if (OK(sa_ack_tracker_is_waiting(t, "zz", &flag))) CHECK(flag == false);
    if (OK(sa_ack_tracker_acknowledged(t, "a", &flag))) CHECK(flag == false);
    if (OK(sa_ack_tracker_ack(t, "a", &flag))) CHECK(flag == true);
    if (OK(sa_ack_tracker_ack(t, "zz", &flag))) CHECK(flag == false);
    if (OK(sa_ack_tracker_acknowledged(t, "a", &flag))) CHECK(flag == true);
    if (OK(sa_ack_tracker_is_waiting(t, "a", &flag))) CHECK(flag == false);
    /* Acking twice is fine. */
    if (OK(sa_ack_tracker_ack(t, "a", &flag))) CHECK(flag == true);

    /* Expiry on the manual clock: deadlines at T0+200 (b) and T0+300 (c). */
    OK(sa_clock_advance(clock, 199));
    if (OK(sa_ack_tracker_collect_expired(t, &count))) CHECK(count == 0);
    OK(sa_clock_advance(clock, 1));
    if (OK(sa_ack_tracker_collect_expired(t, &count))) CHECK(count == 1);
    if (OK(sa_ack_tracker_is_waiting(t, "b", &flag))) CHECK(flag == false);
    if (OK(sa_ack_tracker_acknowledged(t, "b", &flag))) CHECK(flag == false);
    if (OK(sa_ack_tracker_collect_expired(t, &count))) CHECK(count == 0); /* only once */
    if (OK(sa_ack_tracker_is_waiting(t, "c", &flag))) CHECK(flag == true);
    OK(sa_clock_advance(clock, 1000));
    OK(sa_ack_tracker_collect_expired(t, NULL));
    if (OK(sa_ack_tracker_is_waiting(t, "c", &flag))) CHECK(flag == false);
    CHECK(sa_ack_tracker_size(t) == 3); /* timed-out ids stay tracked */
    /* A late ACK of a timed-out id. */
    if (OK(sa_ack_tracker_ack(t, "c", &flag))) CHECK(flag == true);

    /* Pruning forgets acknowledged ids (a and c). */
    if (OK(sa_ack_tracker_prune_received(t, &count))) CHECK(count == 2);
    if (OK(sa_ack_tracker_prune_received(t, &count))) CHECK(count == 0);
    OK(sa_ack_tracker_prune_received(t, NULL));
    CHECK(sa_ack_tracker_size(t) == 1);
    if (OK(sa_ack_tracker_acknowledged(t, "a", &flag))) CHECK(flag == false);

    /* Erase. */
    if (OK(sa_ack_tracker_erase(t, "b", &flag))) CHECK(flag == true);
    if (OK(sa_ack_tracker_erase(t, "b", &flag))) CHECK(flag == false);
    CHECK(sa_ack_tracker_size(t) == 0);

    /* Tracking again replaces the entry (new deadline, waiting again). */
    OK(sa_ack_tracker_track(t, "r", 50));
    OK(sa_ack_tracker_ack(t, "r", &flag));
    OK(sa_ack_tracker_track(t, "r", 50));
    CHECK(sa_ack_tracker_size(t) == 1);
    if (OK(sa_ack_tracker_is_waiting(t, "r", &flag))) CHECK(flag == true);
    if (OK(sa_ack_tracker_acknowledged(t, "r", &flag))) CHECK(flag == false);
    OK(sa_ack_tracker_track(t, "r", 500)); /* replaced: the old deadline no longer applies */
    OK(sa_clock_advance(clock, 50));
    if (OK(sa_ack_tracker_collect_expired(t, &count))) CHECK(count == 0);
    /* A timeout of 0 expires at once. */
    OK(sa_ack_tracker_track(t, "zero", 0));
    if (OK(sa_ack_tracker_collect_expired(t, &count))) CHECK(count == 1);

    /* Clear. */
    OK(sa_ack_tracker_clear(t));
    CHECK(sa_ack_tracker_size(t) == 0);

    /* The tracker keeps the clock alive. */
    OK(sa_ack_tracker_track(t, "late", 10));
    OK(sa_clock_advance(clock, 10));
    sa_clock_free(clock);
    if (OK(sa_ack_tracker_collect_expired(t, &count))) CHECK(count == 1);
    sa_ack_tracker_free(t);
}

/* ---------------------------------------------------------------------------------------- */
/* Standalone conflict resolution                                                            */
/* ---------------------------------------------------------------------------------------- */

static void expect_resolution(int line, int32_t policy, bool has_local, uint64_t ls,
                              const char *ln, uint64_t rs, const char *rn, bool conflict,
                              bool apply, int32_t reason)
{
    sa_resolution r;
    POISON_OUT(r);
    sa_status st = sa_conflict_resolve(policy, has_local, ls, ln, rs, rn, &r);
    bool ok = expect_status(__FILE__, line, "sa_conflict_resolve(...)", st, SA_OK, NULL);
    if (!ok) {
        return;
    }
    bool good = r.conflict_detected == conflict && r.apply_remote == apply &&
                r.keep_local == !apply && r.reason == reason;
    if (!record(good, __FILE__, line, "resolution matches")) {
        fprintf(stderr,
                "    policy %d local %s@%" PRIu64 " remote %s@%" PRIu64
                ": got conflict %d apply %d keep %d reason %d, expected %d %d %d %d\n",
                (int)policy, ln, ls, rn, rs, r.conflict_detected, r.apply_remote, r.keep_local,
                (int)r.reason, conflict, apply, !apply, (int)reason);
    }
    /* Deterministic. */
    sa_resolution again = {.struct_size = sizeof again};
    if (sa_conflict_resolve(policy, has_local, ls, ln, rs, rn, &again) == SA_OK) {
        record(again.conflict_detected == r.conflict_detected &&
                   again.apply_remote == r.apply_remote && again.keep_local == r.keep_local &&
                   again.reason == r.reason,
               __FILE__, line, "same inputs, same decision");
    }
}

static void test_conflict_resolve(void)
{
    const uint64_t s10 = STAMP(T0 + 10), s20 = STAMP(T0 + 20);
    const int32_t policies[] = {SA_POLICY_LAST_WRITE_WINS, SA_POLICY_KEEP_LOCAL,
                                SA_POLICY_KEEP_REMOTE};
    /* No local entry: applied under every policy, no conflict. */
    for (size_t i = 0; i < 3; i++) {
        expect_resolution(__LINE__, policies[i], false, s20, "node-a", s10, "node-b", false, true,
                          SA_REASON_NO_LOCAL_ENTRY);
    }
    /* Last-write-wins. */
    expect_resolution(__LINE__, SA_POLICY_LAST_WRITE_WINS, true, s10, "node-a", s20, "node-b",
                      true, true, SA_REASON_REMOTE_WINS);
    expect_resolution(__LINE__, SA_POLICY_LAST_WRITE_WINS, true, s20, "node-a", s10, "node-b",
                      true, false, SA_REASON_LOCAL_WINS);
    /* Tie on the stamp: the greater node id wins, both ways. */
    expect_resolution(__LINE__, SA_POLICY_LAST_WRITE_WINS, true, s10, "node-a", s10, "node-b",
                      true, true, SA_REASON_REMOTE_WINS);
    expect_resolution(__LINE__, SA_POLICY_LAST_WRITE_WINS, true, s10, "node-b", s10, "node-a",
                      true, false, SA_REASON_LOCAL_WINS);
    /* The logical counter orders within a millisecond. */
    expect_resolution(__LINE__, SA_POLICY_LAST_WRITE_WINS, true, s10 + 1, "node-a", s10, "node-z",
                      true, false, SA_REASON_LOCAL_WINS);
    /* Keep-local, keep-remote. */
    expect_resolution(__LINE__, SA_POLICY_KEEP_LOCAL, true, s10, "node-a", s20, "node-b", true,
                      false, SA_REASON_POLICY_KEEP_LOCAL);
    expect_resolution(__LINE__, SA_POLICY_KEEP_LOCAL, true, s20, "node-a", s10, "node-b", true,
                      false, SA_REASON_POLICY_KEEP_LOCAL);
    expect_resolution(__LINE__, SA_POLICY_KEEP_REMOTE, true, s20, "node-a", s10, "node-b", true,
                      true, SA_REASON_POLICY_KEEP_REMOTE);
    expect_resolution(__LINE__, SA_POLICY_KEEP_REMOTE, true, s10, "node-a", s20, "node-b", true,
                      true, SA_REASON_POLICY_KEEP_REMOTE);
    /* Same origin: ordered by stamp, never a conflict, whatever the policy. */
    for (size_t i = 0; i < 3; i++) {
        expect_resolution(__LINE__, policies[i], true, s10, "node-a", s20, "node-a", false, true,
                          SA_REASON_SAME_ORIGIN_NEWER);
        expect_resolution(__LINE__, policies[i], true, s20, "node-a", s10, "node-a", false,
                          false, SA_REASON_SAME_ORIGIN_OLDER);
        expect_resolution(__LINE__, policies[i], true, s10, "node-a", s10, "node-a", false,
                          false, SA_REASON_SAME_WRITE);
    }

    /* Errors. */
    sa_resolution r = {.struct_size = sizeof r};
    const int32_t bad_policies[] = {0, 4, -1};
    for (size_t i = 0; i < 3; i++) {
        POISON_OUT(r);
        EXPECT(sa_conflict_resolve(bad_policies[i], true, s10, "node-a", s20, "node-b", &r),
               SA_ERR_INVALID_ARGUMENT, "policy");
        CHECK(UNTOUCHED_OUT(r));
    }
    /* Without a local write, local_node is not needed. */
    expect_resolution(__LINE__, SA_POLICY_KEEP_LOCAL, false, 0, NULL, s20, "node-b", false, true,
                      SA_REASON_NO_LOCAL_ENTRY);
    POISON_OUT(r);
    EXPECT_NULL_ARG(sa_conflict_resolve(SA_POLICY_KEEP_LOCAL, true, s10, NULL, s20, "node-b", &r),
                    "local_node");
    CHECK(UNTOUCHED_OUT(r));
    EXPECT_NULL_ARG(sa_conflict_resolve(SA_POLICY_KEEP_LOCAL, true, s10, "node-a", s20, NULL, &r),
                    "remote_node");
    CHECK(UNTOUCHED_OUT(r));
    EXPECT_NULL_ARG(
        sa_conflict_resolve(SA_POLICY_KEEP_LOCAL, true, s10, "node-a", s20, "node-b", NULL),
        "out_resolution");
    const char *bad_ids[] = {"", "node a", BAD_UTF8};
    for (size_t i = 0; i < 3; i++) {
        EXPECT(sa_conflict_resolve(SA_POLICY_LAST_WRITE_WINS, true, s10, bad_ids[i], s20,
                                   "node-b", &r),
               SA_ERR_INVALID_NODE_ID, NULL);
        CHECK(UNTOUCHED_OUT(r));
        EXPECT(sa_conflict_resolve(SA_POLICY_LAST_WRITE_WINS, true, s10, "node-a", s20,
                                   bad_ids[i], &r),
               SA_ERR_INVALID_NODE_ID, NULL);
        CHECK(UNTOUCHED_OUT(r));
    }
}

/* ---------------------------------------------------------------------------------------- */

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    CHECK(rmdir(dir) == 0);
}

/* Direct store writes: local, stamped by the store, refused cleanly on bad input. */
static void test_store_direct_writes(void)
{
    sa_store *store = open_memory_store();
    if (store == NULL) {
        return;
    }
    sa_store_write_result r = {.struct_size = sizeof r};
    sa_store_write_result r2 = {.struct_size = sizeof r2};
    if (OK(sa_store_put(store, "user:1", (const uint8_t *)"Gaspard", 7, &r))) {
        CHECK(r.created && !r.updated && !r.deleted);
        CHECK(r.version > 0 && r.stamp > 0);
        CHECK(store_holds_str(store, "user:1", "Gaspard"));
    }
    if (OK(sa_store_apply(store, SA_OP_PUT, "user:1", (const uint8_t *)"Ada", 3, &r2))) {
        CHECK(r2.updated && !r2.created && !r2.deleted);
        CHECK(r2.version > r.version && r2.stamp > r.stamp);
    }
    /* An empty value, with a NULL pointer, is a value. */
    if (OK(sa_store_put(store, "empty", NULL, 0, &r))) {
        CHECK(r.created && store_holds(store, "empty", "", 0));
    }
    if (OK(sa_store_remove(store, "user:1", &r))) {
        CHECK(r.deleted && !r.created && !r.updated);
        CHECK(store_holds(store, "user:1", NULL, 0));
    }
    if (OK(sa_store_remove(store, "never", &r2))) {
        CHECK(!r2.deleted && !r2.created && !r2.updated && r2.version > r.version);
    }
    if (OK(sa_store_apply(store, SA_OP_DELETE, "empty", NULL, 0, &r))) {
        CHECK(r.deleted);
    }
    CHECK(store_len(store) == 0);

    /* Every refusal leaves the store and the out-struct untouched. */
    OK(sa_store_put(store, "keep", (const uint8_t *)"v", 1, &r));
    size_t len_before = store_len(store);
    POISON_OUT(r);
    EXPECT_NULL_ARG(sa_store_put(NULL, "k", (const uint8_t *)"v", 1, &r), "store");
    EXPECT_NULL_ARG(sa_store_put(store, NULL, (const uint8_t *)"v", 1, &r), "key");
    EXPECT_NULL_ARG(sa_store_put(store, "k", NULL, 1, &r), "value");
    EXPECT_NULL_ARG(sa_store_put(store, "k", (const uint8_t *)"v", 1, NULL), "out_result");
    EXPECT_NULL_ARG(sa_store_remove(NULL, "keep", &r), "store");
    EXPECT_NULL_ARG(sa_store_remove(store, NULL, &r), "key");
    EXPECT_NULL_ARG(sa_store_remove(store, "keep", NULL), "out_result");
    EXPECT_NULL_ARG(sa_store_apply(NULL, SA_OP_PUT, "k", (const uint8_t *)"v", 1, &r), "store");
    EXPECT_NULL_ARG(sa_store_apply(store, SA_OP_PUT, NULL, (const uint8_t *)"v", 1, &r), "key");
    EXPECT_NULL_ARG(sa_store_apply(store, SA_OP_PUT, "k", NULL, 1, &r), "value");
    EXPECT_NULL_ARG(sa_store_apply(store, SA_OP_DELETE, "keep", NULL, 0, NULL), "out_result");
    EXPECT(sa_store_put(store, BAD_UTF8, (const uint8_t *)"v", 1, &r), SA_ERR_INVALID_OPERATION,
           "not valid UTF-8 (bad byte at offset 2)");
    EXPECT(sa_store_remove(store, BAD_UTF8, &r), SA_ERR_INVALID_OPERATION, "not valid UTF-8");
    EXPECT(sa_store_put(store, "", (const uint8_t *)"v", 1, &r), SA_ERR_INVALID_OPERATION,
           "key is empty");
    EXPECT(sa_store_apply(store, 0, "keep", NULL, 0, &r), SA_ERR_INVALID_OPERATION,
           "operation type 0");
    EXPECT(sa_store_apply(store, 7, "keep", NULL, 0, &r), SA_ERR_INVALID_OPERATION,
           "operation type 7");
    EXPECT(sa_store_apply(store, SA_OP_DELETE, "keep", (const uint8_t *)"v", 1, &r),
           SA_ERR_INVALID_OPERATION, "carries a 1-byte value");
    /* The length is checked before the memory: a 1-byte buffer with a huge length is safe. */
    EXPECT(sa_store_put(store, "k", (const uint8_t *)"v", (size_t)64 * 1024 * 1024 + 1, &r),
           SA_ERR_INVALID_OPERATION, "67108865 bytes");
    const size_t long_len = 64 * 1024 + 1;
    char *long_key = malloc(long_len + 1);
    if (CHECK(long_key != NULL)) {
        memset(long_key, 'k', long_len);
        long_key[long_len] = '\0';
        EXPECT(sa_store_put(store, long_key, (const uint8_t *)"v", 1, &r),
               SA_ERR_INVALID_OPERATION, "65537 bytes");
        long_key[long_len - 1] = '\0'; /* exactly the limit is accepted */
        sa_store_write_result ok_r = {.struct_size = sizeof ok_r};
        OK(sa_store_put(store, long_key, (const uint8_t *)"v", 1, &ok_r));
        OK(sa_store_remove(store, long_key, &ok_r));
        free(long_key);
    }
    CHECK(UNTOUCHED_OUT(r));
    CHECK(store_len(store) == len_before);
    CHECK(store_holds_str(store, "keep", "v"));

    /* A caller built against a shorter result gets only its bytes; a bad size writes nothing. */
    sa_store_write_result cut;
    poison(&cut, sizeof cut);
    const uint32_t cut_size = (uint32_t)offsetof(sa_store_write_result, created);
    cut.struct_size = cut_size;
    if (OK(sa_store_put(store, "cut", (const uint8_t *)"v", 1, &cut))) {
        CHECK(cut.version > 0 && cut.stamp > 0);
        CHECK(poisoned((const char *)&cut + cut_size, sizeof cut - cut_size));
    }
    POISON(cut);
    cut.struct_size = (uint32_t)sizeof cut + 8;
    EXPECT(sa_store_put(store, "never", (const uint8_t *)"v", 1, &cut), SA_ERR_INVALID_ARGUMENT,
           "struct_size");
    CHECK(store_holds_str(store, "never", NULL));
    sa_store_free(store);
}

/* Direct writes are not sync work; a later submit carries the direct write it replaced; both
 * survive a reopen. */
static void test_store_direct_writes_and_sync(void)
{
    char wal[128];
    path_in_dir(wal, sizeof wal, "direct.wal");
    sa_store *store = NULL;
    if (!OK(sa_store_open(wal, SA_DURABLE, &store))) {
        return;
    }
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = new_engine(store, &config);
    sa_store_write_result direct = {.struct_size = sizeof direct};
    sa_submitted s;
    if (engine != NULL && OK(sa_store_put(store, "doc", (const uint8_t *)"local", 5, &direct))) {
        CHECK(state_of(engine).outbox_size == 0);
        if (put(engine, "doc", "synced", &s)) {
            CHECK(s.has_replaces && s.replaces_stamp == direct.stamp);
            CHECK(s.replaces_origin[0] == '\0');
            CHECK(state_of(engine).outbox_size == 1);
        }
    }
    sa_sync_free(engine);
    sa_store_free(store);
    store = NULL;
    if (OK(sa_store_open(wal, SA_DURABLE, &store))) {
        CHECK(store_holds_str(store, "doc", "synced"));
        engine = new_engine(store, &config);
        CHECK(engine != NULL && state_of(engine).outbox_size == 1);
        sa_sync_free(engine);
    }
    sa_store_free(store);
}

/* Collects up to `max` keys from a prefix iteration into `out` (joined by ','). */
static size_t iter_keys(const sa_store *store, const char *prefix, char *out, size_t size)
{
    out[0] = '\0';
    sa_store_iter *iter = NULL;
    if (!OK(sa_store_iter_new(store, prefix, &iter))) {
        return (size_t)-1;
    }
    size_t count = 0;
    for (;;) {
        sa_entry_view v = {.struct_size = sizeof v};
        bool has = false;
        if (!OK(sa_store_iter_next(iter, &v, &has)) || !has) {
            break;
        }
        CHECK(v.key.ptr[v.key.len] == '\0');
        CHECK(v.value.ptr != NULL && v.origin.ptr != NULL);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", count > 0 ? "," : "", v.key.ptr);
        count++;
    }
    sa_store_iter_free(iter);
    return count;
}

static void test_store_iter(void)
{
    sa_store *store = open_memory_store();
    if (store == NULL) {
        return;
    }
    sa_store_write_result r = {.struct_size = sizeof r};
    const char *keys[] = {"user:2", "order:1", "user:10", "user:1", "users", "use"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        OK(sa_store_put(store, keys[i], (const uint8_t *)keys[i], strlen(keys[i]), &r));
    }
    OK(sa_store_remove(store, "user:2", &r));
    char got[512];
    CHECK(iter_keys(store, "user:", got, sizeof got) == 2 && strcmp(got, "user:1,user:10") == 0);
    CHECK(iter_keys(store, "", got, sizeof got) == 5 &&
          strcmp(got, "order:1,use,user:1,user:10,users") == 0);
    CHECK(iter_keys(store, "zzz", got, sizeof got) == 0);

    /* An entry's fields, from a sync write: origin and stamp are visible. */
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = new_engine(store, &config);
    sa_submitted s;
    if (engine != NULL && put(engine, "order:1", "paid", &s)) {
        sa_store_iter *iter = NULL;
        sa_entry_view v = {.struct_size = sizeof v};
        bool has = false;
        if (OK(sa_store_iter_new(store, "order:", &iter)) && OK(sa_store_iter_next(iter, &v, &has)) &&
            CHECK(has)) {
            CHECK(str_is(v.key, "order:1") && str_is(v.origin, "node-a"));
            CHECK(v.value.len == 4 && memcmp(v.value.ptr, "paid", 4) == 0);
            CHECK(v.version == s.version || v.version > 0);
            CHECK(v.stamp == s.stamp);
            /* The end, and it stays the end; the view is left unchanged. */
            sa_entry_view end = {.struct_size = sizeof end};
            POISON_OUT(end);
            OK(sa_store_iter_next(iter, &end, &has));
            CHECK(!has && UNTOUCHED_OUT(end));
            OK(sa_store_iter_next(iter, &end, &has));
            CHECK(!has);
        }
        sa_store_iter_free(iter);
    }
    sa_sync_free(engine);

    /* Writes during an iteration: no crash, ascending keys, each at most once; and the
     * iterator outlives its store handle. */
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "n:%05d", i * 2);
        OK(sa_store_put(store, key, (const uint8_t *)"v", 1, &r));
    }
    sa_store_iter *iter = NULL;
    if (OK(sa_store_iter_new(store, "n:", &iter))) {
        char last[32] = "";
        int seen = 0;
        bool ordered = true;
        for (;;) {
            sa_entry_view v = {.struct_size = sizeof v};
            bool has = false;
            if (!OK(sa_store_iter_next(iter, &v, &has)) || !has) {
                break;
            }
            ordered = ordered && strcmp(last, v.key.ptr) < 0;
            snprintf(last, sizeof last, "%s", v.key.ptr);
            snprintf(key, sizeof key, "n:%05d", seen * 2 + 1);
            sa_store_put(store, key, (const uint8_t *)"x", 1, &r);
            snprintf(key, sizeof key, "n:%05d", 598 - seen);
            sa_store_remove(store, key, &r);
            if (++seen == 10) {
                sa_store_free(store); /* the iterator keeps the store alive */
                store = NULL;
            }
        }
        CHECK(ordered && seen > 10);
    }
    sa_entry_view v = {.struct_size = sizeof v};
    bool has = false;
    POISON_OUT(v);
    EXPECT_NULL_ARG(sa_store_iter_next(NULL, &v, &has), "iter");
    EXPECT_NULL_ARG(sa_store_iter_next(iter, NULL, &has), "out_entry");
    EXPECT_NULL_ARG(sa_store_iter_next(iter, &v, NULL), "out_has_item");
    CHECK(UNTOUCHED_OUT(v));
    sa_store_iter_free(iter);
    sa_store_iter_free(NULL);
    sa_store_free(store);

    /* Bad arguments to sa_store_iter_new. */
    store = open_memory_store();
    sa_store_iter *bad = (sa_store_iter *)&r;
    EXPECT_NULL_ARG(sa_store_iter_new(NULL, "", &bad), "store");
    EXPECT_NULL_ARG(sa_store_iter_new(store, NULL, &bad), "prefix");
    EXPECT_NULL_ARG(sa_store_iter_new(store, "", NULL), "out_iter");
    EXPECT(sa_store_iter_new(store, BAD_UTF8, &bad), SA_ERR_INVALID_ARGUMENT,
           "prefix is not valid UTF-8 (bad byte at offset 2)");
    CHECK(bad == (sa_store_iter *)&r);
    sa_store_free(store);
}

/* Output structs: a caller built against a shorter struct gets only its bytes written; a bad
 * size is refused before any work is done. */
static void test_output_struct_sizes(void)
{
    sa_store *store = open_memory_store();
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = new_engine(store, &config);
    if (engine == NULL) {
        sa_store_free(store);
        return;
    }
    CHECK(put(engine, "k", "v", NULL));
    /* An older sa_sync_state_info that ended before outbox_bytes. */
    sa_sync_state_info st;
    poison(&st, sizeof st);
    const uint32_t cut = (uint32_t)offsetof(sa_sync_state_info, outbox_bytes);
    st.struct_size = cut;
    if (OK(sa_sync_state(engine, &st))) {
        CHECK(st.struct_size == cut);
        CHECK(st.outbox_size == 1 && st.queued_count == 1 && st.failed_count == 0);
        CHECK(poisoned((const char *)&st + cut, sizeof st - cut));
    }
    /* An sa_submitted that ends after stamp: the write happens, its sync id is not written. */
    sa_submitted s;
    poison(&s, sizeof s);
    const uint32_t cut_s = (uint32_t)offsetof(sa_submitted, sync_id);
    s.struct_size = cut_s;
    if (OK(sa_sync_submit(engine, SA_OP_PUT, "k2", (const uint8_t *)"v", 1, &s))) {
        CHECK(s.version == 2 && s.stamp != 0);
        CHECK(poisoned((const char *)&s + cut_s, sizeof s - cut_s));
    }
    /* Refused sizes change nothing: too small, inside a field, larger than this library's. */
    const uint32_t bad[] = {0, (uint32_t)offsetof(sa_submitted, stamp) + 2,
                            (uint32_t)sizeof s + 8};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        POISON(s);
        s.struct_size = bad[i];
        EXPECT(sa_sync_submit(engine, SA_OP_PUT, "never", (const uint8_t *)"v", 1, &s),
               SA_ERR_INVALID_ARGUMENT, "struct_size");
        CHECK(poisoned((const char *)&s + 4, sizeof s - 4));
    }
    st.struct_size = sizeof st;
    if (OK(sa_sync_state(engine, &st))) {
        CHECK(st.outbox_size == 2 && st.last_submitted_version == 2);
    }
    /* An input struct from a caller built before the replaced-write fields: they are not read
     * (poison there would be an invalid bool and a wild pointer), and mean "none". */
    sa_remote_op op;
    poison(&op, sizeof op);
    op.struct_size = (uint32_t)offsetof(sa_remote_op, has_replaces);
    op.sync_id = "node-c-1";
    op.origin = "node-c";
    op.version = 1;
    op.stamp = STAMP(T0);
    op.op_type = SA_OP_PUT;
    op.key = "from-c";
    op.value = (const uint8_t *)"c";
    op.value_len = 1;
    sa_apply_result r = {.struct_size = sizeof r};
    if (OK(sa_sync_receive_remote(engine, &op, &r))) {
        CHECK(r.outcome == SA_APPLIED && r.reason == SA_REASON_NO_LOCAL_ENTRY);
    }
    op.struct_size = (uint32_t)offsetof(sa_remote_op, value_len); /* without a needed field */
    EXPECT(sa_sync_receive_remote(engine, &op, &r), SA_ERR_INVALID_ARGUMENT, "struct_size");
    /* The tick hands out a batch the caller must free: its struct must hold the pointer. */
    sa_tick_result tick;
    POISON(tick);
    tick.struct_size = (uint32_t)offsetof(sa_tick_result, batch);
    EXPECT(sa_sync_tick(engine, true, &tick), SA_ERR_INVALID_ARGUMENT, "struct_size");
    sa_sync_free(engine);
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Compaction (issue 10): store config, explicit compaction, statistics                      */
/* ---------------------------------------------------------------------------------------- */

static sa_store_config store_config_default(void)
{
    sa_store_config config = {.struct_size = sizeof config};
    OK(sa_store_config_default(&config));
    return config;
}

static sa_compaction_stats compaction_stats_of(const sa_store *store)
{
    sa_compaction_stats stats = {.struct_size = sizeof stats};
    OK(sa_store_compaction_stats(store, &stats, NULL));
    return stats;
}

/* The defaults come from the library (no number here but "positive"); bad input changes
 * nothing and names the problem. */
static void test_store_config(void)
{
    sa_store_config config = store_config_default();
    CHECK(config.struct_size == sizeof config);
    CHECK(config.wal_path == NULL);
    CHECK(config.durability == SA_DURABLE);
    CHECK(!config.read_only);
    CHECK(config.compact_threshold_bytes > 0);
    CHECK(config.tombstone_retention_ms > 0);

    EXPECT_NULL_ARG(sa_store_config_default(NULL), "out_config");
    sa_store_config bad;
    POISON(bad);
    bad.struct_size = 2;
    EXPECT(sa_store_config_default(&bad), SA_ERR_INVALID_ARGUMENT, "struct_size is 2");
    CHECK(bad.struct_size == 2 && poisoned((const char *)&bad + 4, sizeof bad - 4));
    POISON(bad);
    bad.struct_size = sizeof bad + 8;
    EXPECT(sa_store_config_default(&bad), SA_ERR_INVALID_ARGUMENT, "newer header");
    /* An older caller's struct (up to wal_path) gets only what it knows. */
    POISON(bad);
    bad.struct_size = (uint32_t)offsetof(sa_store_config, durability);
    OK(sa_store_config_default(&bad));
    CHECK(bad.wal_path == NULL);
    CHECK(poisoned((const char *)&bad + offsetof(sa_store_config, durability),
                   sizeof bad - offsetof(sa_store_config, durability)));

    sa_store *store;
    POISON(store);
    EXPECT_NULL_ARG(sa_store_open_with(NULL, &store), "config");
    EXPECT_NULL_ARG(sa_store_open_with(&config, NULL), "out_store");
    config.durability = 7;
    EXPECT(sa_store_open_with(&config, &store), SA_ERR_INVALID_ARGUMENT, "durability 7");
    CHECK(UNTOUCHED(store));
    config = store_config_default();
    config.struct_size = 4; /* without wal_path, which has no default to fall back on */
    EXPECT(sa_store_open_with(&config, &store), SA_ERR_INVALID_ARGUMENT, "struct_size is 4");
    CHECK(UNTOUCHED(store));
    char path[256];
    path_in_dir(path, sizeof path, "never" BAD_UTF8 ".wal");
    config = store_config_default();
    config.wal_path = path;
    EXPECT(sa_store_open_with(&config, &store), SA_ERR_INVALID_ARGUMENT, "wal_path");
    CHECK(UNTOUCHED(store));
    CHECK(file_size(path) == -1); /* nothing created */

    /* A caller built before the compaction fields: they take the library's defaults. */
    config = store_config_default();
    config.struct_size = (uint32_t)offsetof(sa_store_config, read_only);
    config.compact_threshold_bytes = 0; /* beyond its struct_size: not read */
    store = NULL;
    if (OK(sa_store_open_with(&config, &store))) {
        CHECK(store != NULL);
        OK(sa_store_compact(store, NULL)); /* memory only: nothing to do */
    }
    sa_store_free(store);
}

/* Explicit compaction through the sync engine: the log shrinks to the live state, a
 * tombstone is kept within its retention and collected after it, a reopen reads it all back;
 * bad input changes nothing; a read-only store refuses and the failure shows in the stats. */
static void test_compaction(void)
{
    char path[256], ckpt[300];
    path_in_dir(path, sizeof path, "compact.wal");
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", path);
    sa_clock *clock = NULL;
    OK(sa_clock_new_manual(T0, &clock));

    sa_store_config config = store_config_default();
    config.wal_path = path;
    config.durability = SA_FAST;
    config.compact_threshold_bytes = 0; /* explicit compactions only */
    config.tombstone_retention_ms = 1000;
    sa_store *store = NULL;
    if (!OK(sa_store_open_with(&config, &store))) {
        sa_clock_free(clock);
        return;
    }
    OK(sa_store_set_clock(store, clock));
    sa_sync_config sync_config = config_for("node-a", false); /* a batch counts as acked */
    sa_sync *engine = new_engine(store, &sync_config);
    for (int round = 0; engine != NULL && round < 50; round++) {
        char value[32];
        snprintf(value, sizeof value, "v%d", round);
        put(engine, "hot", value, NULL);
    }
    put(engine, "gone", "soon", NULL);
    sa_submitted removed = {.struct_size = sizeof removed};
    OK(sa_sync_submit(engine, SA_OP_DELETE, "gone", NULL, 0, &removed));
    sa_batch *batch = NULL;
    OK(sa_sync_next_batch(engine, &batch));
    sa_batch_free(batch);

    /* Bad input: nothing runs. */
    sa_compaction_report report;
    POISON(report);
    EXPECT_NULL_ARG(sa_sync_compact(NULL, &report), "sync");
    EXPECT_NULL_ARG(sa_store_compact(NULL, &report), "store");
    report.struct_size = 12; /* inside a field */
    EXPECT(sa_sync_compact(engine, &report), SA_ERR_INVALID_ARGUMENT, "struct_size is 12");
    EXPECT(sa_store_compact(store, &report), SA_ERR_INVALID_ARGUMENT, "struct_size is 12");
    CHECK(poisoned((const char *)&report + 4, sizeof report - 4));
    CHECK(compaction_stats_of(store).runs == 0);
    CHECK(file_size(ckpt) == -1);

    /* Within the retention: the tombstone stays. */
    long wal_before = file_size(path);
    POISON_OUT(report);
    if (OK(sa_sync_compact(engine, &report))) {
        CHECK(report.struct_size == sizeof report);
        CHECK(report.records_folded >= 53);
        CHECK(report.checkpoint_bytes > 0 && (long)report.checkpoint_bytes == file_size(ckpt));
        CHECK(report.bytes_before >= (uint64_t)wal_before);
        CHECK(report.bytes_after < report.bytes_before);
        CHECK(report.tombstones_collected == 0);
        CHECK(report.duration_us >= report.rotation_pause_us);
    }
    /* Past it, and acknowledged: collected. */
    OK(sa_clock_advance(clock, 5000));
    POISON_OUT(report);
    if (OK(sa_sync_compact(engine, &report))) {
        CHECK(report.tombstones_collected == 1);
    }
    OK(sa_store_compact(store, NULL)); /* the report is optional */
    sa_buf message;
    POISON(message);
    sa_compaction_stats stats = {.struct_size = sizeof stats};
    if (OK(sa_store_compaction_stats(store, &stats, &message))) {
        CHECK(stats.runs == 3 && stats.failures == 0 && !stats.last_failed);
        CHECK(message.ptr == NULL && message.len == 0);
    }
    POISON(stats);
    EXPECT_NULL_ARG(sa_store_compaction_stats(NULL, &stats, NULL), "store");
    EXPECT_NULL_ARG(sa_store_compaction_stats(store, NULL, NULL), "out_stats");
    stats.struct_size = 1;
    EXPECT(sa_store_compaction_stats(store, &stats, &message), SA_ERR_INVALID_ARGUMENT,
           "struct_size is 1");
    CHECK(stats.struct_size == 1 && poisoned((const char *)&stats + 4, sizeof stats - 4));
    sa_sync_free(engine);
    sa_store_free(store);

    /* Reopen: the checkpoint and the log after it give everything back. */
    long ckpt_size = file_size(ckpt), wal_size = file_size(path);
    config.read_only = true;
    store = NULL;
    if (OK(sa_store_open_with(&config, &store))) {
        CHECK(store_holds_str(store, "hot", "v49"));
        CHECK(store_holds_str(store, "gone", NULL));
        CHECK(store_len(store) == 1);
        /* Read-only: refused, named, counted; the files are untouched. */
        POISON_OUT(report);
        EXPECT(sa_store_compact(store, &report), SA_ERR_IO, "read-only");
        CHECK(strstr(g_msg, path) != NULL);
        CHECK(UNTOUCHED_OUT(report));
        CHECK(file_size(ckpt) == ckpt_size && file_size(path) == wal_size);
        POISON(message);
        stats.struct_size = sizeof stats;
        if (OK(sa_store_compaction_stats(store, &stats, &message))) {
            CHECK(stats.runs == 1 && stats.failures == 1 && stats.last_failed);
            CHECK(message.ptr != NULL && message.len > 0);
            CHECK(message.ptr != NULL && memchr(message.ptr, 'r', message.len) != NULL);
            char text[512] = {0};
            memcpy(text, message.ptr, message.len < sizeof text - 1 ? message.len : 0);
            CHECK(strstr(text, "read-only") != NULL);
        }
        sa_buf_free(&message);
        CHECK(message.ptr == NULL && message.len == 0);
    }
    sa_store_free(store);
    sa_clock_free(clock);
}

/* An automatic compaction runs on its own once the log passes the threshold; its outcome is
 * read from the statistics (nobody waits for it). */
static void test_automatic_compaction(void)
{
    char path[256], ckpt[300];
    path_in_dir(path, sizeof path, "auto.wal");
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", path);
    sa_store_config config = store_config_default();
    config.wal_path = path;
    config.durability = SA_FAST;
    config.compact_threshold_bytes = 512;
    sa_store *store = NULL;
    if (!OK(sa_store_open_with(&config, &store))) {
        return;
    }
    sa_sync_config sync_config = config_for("node-a", false);
    sa_sync *engine = new_engine(store, &sync_config);
    for (int i = 0; engine != NULL && i < 200; i++) {
        put(engine, "key", "a value of some length", NULL);
    }
    /* Bounded wait for the background thread (not a speed check: 20 s on a loaded machine). */
    sa_compaction_stats stats = compaction_stats_of(store);
    for (int tries = 0; stats.runs == 0 && tries < 2000; tries++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
        stats = compaction_stats_of(store);
    }
    CHECK(stats.runs >= 1 && stats.failures == 0 && !stats.last_failed);
    OK(sa_sync_compact(engine, NULL)); /* waits for a running one; leaves a checkpoint */
    CHECK(file_size(ckpt) > 0);
    sa_sync_free(engine);
    sa_store_free(store);
    store = NULL;
    config.read_only = true;
    if (OK(sa_store_open_with(&config, &store))) {
        CHECK(store_holds_str(store, "key", "a value of some length"));
    }
    sa_store_free(store);
}

/* ---------------------------------------------------------------------------------------- */
/* Batch calls: sa_sync_submit_many, sa_sync_ack_many                                        */
/* ---------------------------------------------------------------------------------------- */

static sa_local_op local_op(int32_t op_type, const char *key, const char *value)
{
    sa_local_op op = {.struct_size = sizeof op, .op_type = op_type, .key = key};
    op.value = (const uint8_t *)value;
    op.value_len = value != NULL ? strlen(value) : 0;
    return op;
}

static void test_submit_many(void)
{
    sa_store *store = open_memory_store();
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = store != NULL ? new_engine(store, &config) : NULL;
    if (engine == NULL) {
        sa_store_free(store);
        return;
    }
    CHECK(put(engine, "k", "before", NULL));
    sa_local_op ops[3] = {local_op(SA_OP_PUT, "k", "one"), local_op(SA_OP_PUT, "j", "x"),
                          local_op(SA_OP_DELETE, "k", NULL)};
    sa_submitted out[3];
    for (size_t i = 0; i < 3; i++) {
        out[i].struct_size = sizeof out[i];
    }
    if (OK(sa_sync_submit_many(engine, ops, 3, out))) {
        CHECK(strcmp(out[0].sync_id, "node-a-2") == 0 && out[0].version == 2);
        CHECK(strcmp(out[2].sync_id, "node-a-4") == 0 && out[2].version == 4);
        CHECK(out[0].stamp < out[1].stamp && out[1].stamp < out[2].stamp);
        /* The delete replaces the put of the same call. */
        CHECK(out[2].has_replaces && out[2].replaces_stamp == out[0].stamp &&
              strcmp(out[2].replaces_origin, "node-a") == 0);
        CHECK(!out[1].has_replaces);
        CHECK(out[0].struct_size == sizeof out[0]);
    }
    CHECK(store_holds(store, "j", (const uint8_t *)"x", 1));
    CHECK(state_of(engine).queued_count == 4);
    /* Results not wanted; an empty call does nothing, even with NULL arrays. */
    sa_local_op more = local_op(SA_OP_PUT, "m", "1");
    OK(sa_sync_submit_many(engine, &more, 1, NULL));
    OK(sa_sync_submit_many(engine, NULL, 0, NULL));
    CHECK(state_of(engine).queued_count == 5);
    size_t len = store_len(store);

    /* Any bad operation refuses the whole call, naming it; nothing changes. */
    sa_local_op bad[3] = {local_op(SA_OP_PUT, "a", "1"), local_op(SA_OP_PUT, "b", "2"),
                          local_op(SA_OP_PUT, "", "3")};
    POISON_OUT(out[0]);
    EXPECT(sa_sync_submit_many(engine, bad, 3, out), SA_ERR_INVALID_OPERATION, "operation 2: ");
    CHECK(UNTOUCHED_OUT(out[0]));
    bad[2] = local_op(SA_OP_PUT, BAD_UTF8, "3");
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_OPERATION, "operation 2: ");
    bad[2] = local_op(7, "c", "3");
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_OPERATION, "operation 2: ");
    bad[2] = local_op(SA_OP_DELETE, "c", "3");
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_OPERATION, "operation 2: ");
    bad[2] = local_op(SA_OP_PUT, NULL, "3");
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_ARGUMENT,
           "operation 2: key is NULL");
    bad[1].value = NULL;
    bad[2] = local_op(SA_OP_PUT, "c", "3");
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_ARGUMENT,
           "operation 1: value is NULL");
    bad[1] = local_op(SA_OP_PUT, "b", "2");
    /* Every element states the array's stride. */
    bad[2].struct_size = sizeof bad[2] - 8;
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_ARGUMENT,
           "ops[2].struct_size");
    bad[2].struct_size = sizeof bad[2];
    bad[0].struct_size = 8;
    EXPECT(sa_sync_submit_many(engine, bad, 3, NULL), SA_ERR_INVALID_ARGUMENT,
           "ops[0]->struct_size is 8");
    bad[0].struct_size = sizeof bad[0];
    out[1].struct_size = 3;
    EXPECT(sa_sync_submit_many(engine, bad, 3, out), SA_ERR_INVALID_ARGUMENT,
           "out_submitted[1].struct_size is 3");
    EXPECT_NULL_ARG(sa_sync_submit_many(engine, NULL, 1, NULL), "ops");
    EXPECT_NULL_ARG(sa_sync_submit_many(NULL, bad, 3, NULL), "sync");
    CHECK(state_of(engine).queued_count == 5);
    CHECK(store_len(store) == len); /* the refused calls wrote nothing */

    /* Results cut to an older, smaller sa_submitted: each element keeps its stride and
     * nothing past its size is written. */
    struct {
        sa_submitted cut;
        unsigned char after[8];
    } older[2];
    size_t cut_size = offsetof(sa_submitted, sync_id) + SA_SYNC_ID_MAX;
    memset(older, SENTINEL, sizeof older);
    /* Pack the two cut structs at a stride of cut_size. */
    unsigned char *packed = (unsigned char *)older;
    sa_submitted *first = (sa_submitted *)packed;
    sa_submitted *second = (sa_submitted *)(packed + cut_size);
    uint32_t size32 = (uint32_t)cut_size;
    memcpy(&first->struct_size, &size32, 4);
    memcpy(&second->struct_size, &size32, 4);
    sa_local_op two[2] = {local_op(SA_OP_PUT, "p", "1"), local_op(SA_OP_PUT, "q", "2")};
    if (OK(sa_sync_submit_many(engine, two, 2, first))) {
        CHECK(strcmp(second->sync_id, "node-a-7") == 0);
        CHECK(poisoned(packed + 2 * cut_size, sizeof older - 2 * cut_size));
    }
    sa_sync_free(engine);
    sa_store_free(store);
}

static void test_ack_many(void)
{
    sa_store *store = open_memory_store();
    sa_sync_config config = config_for("node-a", true);
    sa_sync *engine = store != NULL ? new_engine(store, &config) : NULL;
    if (engine == NULL) {
        sa_store_free(store);
        return;
    }
    sa_local_op ops[3] = {local_op(SA_OP_PUT, "a", "1"), local_op(SA_OP_PUT, "b", "2"),
                          local_op(SA_OP_PUT, "c", "3")};
    OK(sa_sync_submit_many(engine, ops, 3, NULL));
    sa_batch *batch = NULL;
    OK(sa_sync_next_batch(engine, &batch));
    sa_batch_free(batch);

    const char *ids[] = {"node-a-1", "node-a-2", "node-a-2", "node-a-99"};
    sa_ack_report report = {.struct_size = sizeof report};
    if (OK(sa_sync_ack_many(engine, ids, 4, &report))) {
        CHECK(report.acknowledged == 2);
        CHECK(report.already_acknowledged == 1);
        CHECK(report.unknown == 1);
    }
    CHECK(state_of(engine).acknowledged_count == 2);
    OK(sa_sync_ack_many(engine, ids, 1, &report));
    CHECK(report.acknowledged == 0 && report.already_acknowledged == 1);
    OK(sa_sync_ack_many(engine, NULL, 0, NULL));

    /* A bad id refuses the whole call, naming it: the third operation stays in flight. */
    const char *bad[] = {"node-a-3", NULL};
    POISON_OUT(report);
    EXPECT(sa_sync_ack_many(engine, bad, 2, &report), SA_ERR_INVALID_ARGUMENT,
           "operation 1: sync id is NULL");
    CHECK(UNTOUCHED_OUT(report));
    bad[1] = BAD_UTF8;
    EXPECT(sa_sync_ack_many(engine, bad, 2, NULL), SA_ERR_NOT_FOUND, "operation 1: ");
    EXPECT_NULL_ARG(sa_sync_ack_many(engine, NULL, 2, NULL), "sync_ids");
    EXPECT_NULL_ARG(sa_sync_ack_many(NULL, bad, 1, NULL), "sync");
    report.struct_size = 2;
    EXPECT(sa_sync_ack_many(engine, bad, 1, &report), SA_ERR_INVALID_ARGUMENT, "struct_size");
    CHECK(state_of(engine).in_flight_count == 1);
    sa_sync_free(engine);
    sa_store_free(store);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/sa_test_api_XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        printf("0 passed, 1 failed\n");
        return 1;
    }

    test_meta();
    test_clock();
    test_config_presets();
    test_sync_new_validation();
    test_store_basics();
    test_store_direct_writes();
    test_store_direct_writes_and_sync();
    test_store_iter();
    test_submit_errors();
    test_submit_many();
    test_ack_many();
    test_large_values();
    test_capacity();
    test_queue_batch_ack();
    test_no_ack_batches();
    test_retry_and_failure();
    test_tick();
    test_remote_errors();
    test_remote_apply();
    test_conflicts_in_engine();
    test_causal_successor();
    test_handle_lifetimes();
    test_wal_reopen();
    test_wal_second_engine();
    test_wal_recovery_rules();
    test_ack_tracker();
    test_conflict_resolve();
    test_output_struct_sizes();
    test_store_config();
    test_compaction();
    test_automatic_compaction();

    remove_dir(g_dir);
    printf("%lu passed, %lu failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
