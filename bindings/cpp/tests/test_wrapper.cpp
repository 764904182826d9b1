// Tests of the C++ wrapper (bindings/cpp/include) beyond the module doc's seven examples:
// the rest of the API surface, error paths, RAII/moves, and interop between two engines.
//
//   g++ -std=c++17 -Wall -Wextra -Werror -Iinclude -Ibindings/cpp/include
//       bindings/cpp/tests/test_wrapper.cpp -Ltarget/debug -lsoftadastra_sync -o test_wrapper
//
// Run it from a scratch directory (it writes WAL files in the current directory). The last
// line of its output is "<passed> passed, <failed> failed"; it exits 0 only if none failed.

#include <softadastra/store/Store.hpp>
#include <softadastra/sync/Sync.hpp>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/resource.h>

using namespace softadastra;

namespace
{
  int passed = 0;
  int failed = 0;
  const char *current_test = "";

  void record(bool ok, const char *expr, int line, const std::string &detail = std::string())
  {
    if (ok)
    {
      ++passed;
      return;
    }
    ++failed;
    std::cout << "FAIL [" << current_test << "] line " << line << ": " << expr;
    if (!detail.empty())
    {
      std::cout << " (" << detail << ")";
    }
    std::cout << "\n";
  }

  template <typename A, typename B>
  std::string show_pair(const A &a, const B &b)
  {
    std::ostringstream os;
    os << "got " << a << ", expected " << b;
    return os.str();
  }

#define CHECK(cond) record(static_cast<bool>(cond), #cond, __LINE__)
  // Evaluates each side once.
  template <typename A, typename B>
  void check_eq(const A &a, const B &b, const char *expr, int line)
  {
    record(a == b, expr, line, a == b ? std::string() : show_pair(a, b));
  }

#define CHECK_EQ(a, b) check_eq((a), (b), #a " == " #b, __LINE__)

  template <typename R>
  std::string message_of(const R &result)
  {
    return result.is_err() ? result.error().message() : std::string("(no error)");
  }

  using store::core::Entry;
  using store::core::Operation;
  using store::core::StoreConfig;
  using store::engine::StoreEngine;
  using store::types::Key;
  using store::types::Value;
  using sync::core::SyncConfig;
  using sync::core::SyncContext;
  using sync::core::SyncOperation;
  using sync::engine::SyncEngine;
  using sync::types::ConflictPolicy;
  using sync::types::SyncStatus;
  using ErrorCode = core::errors::ErrorCode;
  using core::time::Duration;
  using core::time::ManualClock;

  constexpr std::uint64_t T0 = 1700000000000ULL;

  Operation put(const std::string &key, const std::string &value)
  {
    return Operation::put(Key{key}, Value::from_string(value));
  }

  // ---------------------------------------------------------------------------------------

  void test_types()
  {
    current_test = "types";
    CHECK_EQ(Duration::from_seconds(10).millis(), 10000);
    CHECK_EQ(Duration::from_millis(7).millis(), 7);
    CHECK(Duration::from_minutes(1) == Duration::from_seconds(60));
    CHECK(Duration().is_zero());
    CHECK(Duration::from_chrono(std::chrono::seconds(2)) == Duration::from_millis(2000));
    CHECK_EQ(core::time::stamp_millis(core::time::make_stamp(T0, 5)), T0);
    CHECK_EQ(core::time::stamp_logical(core::time::make_stamp(T0, 5)), 5);
    CHECK(core::time::Timestamp::from_stamp(core::time::make_stamp(T0, 5)) ==
          core::time::Timestamp::from_millis(static_cast<std::int64_t>(T0)));
    CHECK(!core::time::Timestamp().is_valid());
    CHECK(core::time::Timestamp(7) < core::time::Timestamp(8));
    CHECK(core::time::Timestamp::from_time_point(std::chrono::system_clock::time_point(std::chrono::seconds(2))) ==
          core::time::Timestamp(2000));

    CHECK_EQ(Value::from_string("Gaspard").to_string(), std::string("Gaspard"));
    const std::string binary("a\0b\xff", 4);
    CHECK_EQ(Value::from_string(binary).size(), 4u);
    CHECK(Value::from_string(binary).to_string() == binary);
    CHECK(Value::from_bytes(std::vector<std::uint8_t>{1, 2, 3}).bytes() == (std::vector<std::uint8_t>{1, 2, 3}));
    CHECK(Key{"user:1"}.is_valid());
    CHECK(!Key{""}.is_valid());
    CHECK(!Key{std::string("a\0b", 3)}.is_valid());
    CHECK(!Key{std::string("ab\xff")}.is_valid());
    CHECK(Key{std::string("cl\xc3\xa9")}.is_valid());
    CHECK(!Key{std::string(65537, 'k')}.is_valid());
    CHECK(Key{"a"} < Key{"b"});

    auto op = put("k", "v");
    CHECK(op.is_put() && op.is_valid());
    CHECK_EQ(op.timestamp, 0u);
    auto del = Operation::remove(Key{"k"});
    CHECK(del.is_delete() && del.is_valid() && del.value.empty());
    auto entry = Entry::make(Key{"k"}, Value::from_string("v"), 3);
    CHECK(entry.version == 3 && entry.timestamp == 0 && entry.origin.empty());

    // Result: explicit bool, value() on an error throws logic_error, error() on a value too.
    using R = core::types::Result<int>;
    auto ok = R::ok(4);
    auto err = R::err(core::errors::Error(ErrorCode::NotFound, "nope"));
    CHECK(ok && ok.is_ok() && ok.value() == 4);
    CHECK(!err && err.is_err() && err.error().message() == "nope");
    CHECK_EQ(err.value_or(9), 9);
    CHECK(std::string(err.error().code_name()) == "SA_ERR_NOT_FOUND");
    bool threw = false;
    try
    {
      (void)err.value();
    }
    catch (const std::logic_error &)
    {
      threw = true;
    }
    CHECK(threw);
    threw = false;
    try
    {
      (void)ok.error();
    }
    catch (const std::logic_error &)
    {
      threw = true;
    }
    CHECK(threw);
    CHECK(!std::is_copy_constructible_v<StoreEngine>);
    CHECK(!std::is_copy_constructible_v<SyncEngine>);
    CHECK(!std::is_copy_constructible_v<sync::ack::AckTracker>);
    CHECK(!std::is_copy_constructible_v<ManualClock>);
    CHECK(std::is_nothrow_move_constructible_v<SyncEngine>);
    CHECK(std::string(sync::version()) ==
          std::to_string(SA_SYNC_VERSION_MAJOR) + "." + std::to_string(SA_SYNC_VERSION_MINOR) +
              "." + std::to_string(SA_SYNC_VERSION_PATCH));
  }

  // The two C structs hold the same settings.
  bool same_settings(const sa_sync_config &a, const sa_sync_config &b)
  {
    return a.struct_size == b.struct_size && std::string(a.node_id) == std::string(b.node_id) &&
           a.durability == b.durability && a.auto_queue == b.auto_queue && a.require_ack == b.require_ack &&
           a.ack_timeout_ms == b.ack_timeout_ms && a.retry_interval_ms == b.retry_interval_ms &&
           a.max_retries == b.max_retries && a.conflict_policy == b.conflict_policy &&
           a.batch_size == b.batch_size && a.max_outbox_operations == b.max_outbox_operations &&
           a.max_outbox_bytes == b.max_outbox_bytes && a.max_clock_skew_ms == b.max_clock_skew_ms &&
           a.retry_backoff_max_ms == b.retry_backoff_max_ms;
  }

  // The C++ config of `config`, as a C struct (a zeroed struct when it cannot be one).
  sa_sync_config c_of(const SyncConfig &config)
  {
    auto c = config.to_c();
    return c.is_ok() ? c.value() : sa_sync_config{};
  }

  // The presets' values come from the library (sa_sync_config_durable / _fast): the wrapper
  // holds exactly the C structs, and no number of its own.
  void test_config_presets()
  {
    current_test = "config presets";
    sa_sync_config durable_c{};
    durable_c.struct_size = sizeof durable_c;
    sa_sync_config fast_c{};
    fast_c.struct_size = sizeof fast_c;
    CHECK(sa_sync_config_durable("node-a", &durable_c) == SA_OK);
    CHECK(sa_sync_config_fast("node-a", &fast_c) == SA_OK);
    auto d = SyncConfig::durable("node-a");
    CHECK(same_settings(c_of(d), durable_c));
    CHECK_EQ(d.node_id, std::string("node-a"));
    CHECK(d.durability == sync::types::Durability::Durable);
    CHECK(d.require_ack && d.auto_queue);
    CHECK(d.conflict_policy == ConflictPolicy::LastWriteWins);
    CHECK(d.is_valid());
    auto f = SyncConfig::fast("node-a");
    CHECK(same_settings(c_of(f), fast_c));
    CHECK(f.durability == sync::types::Durability::Fast);
    CHECK(!f.require_ack);
    CHECK(f.is_valid());
    // The C++ module's constructors: the durable preset, node "node-1" by default.
    sa_sync_config node_1{};
    node_1.struct_size = sizeof node_1;
    CHECK(sa_sync_config_durable("node-1", &node_1) == SA_OK);
    CHECK(same_settings(c_of(SyncConfig()), node_1));
    CHECK(same_settings(c_of(SyncConfig("node-a")), durable_c));
    CHECK(same_settings(c_of(SyncConfig::from_c(fast_c)), fast_c));
    // A preset for a bad node id still has the preset values; validation reports the id.
    auto bad = SyncConfig::durable("");
    CHECK_EQ(bad.batch_size, d.batch_size);
    CHECK_EQ(bad.max_retries, d.max_retries);
    auto v = bad.validate();
    CHECK(v.is_err() && v.error().code() == ErrorCode::InvalidNodeId);
  }

  // A bad config is reported by SyncContext::is_valid (before any engine) and the engine
  // agrees: the replicated checks match what sa_sync_new enforces.
  void test_invalid_context()
  {
    current_test = "invalid context";
    StoreEngine store{StoreConfig::memory()};
    CHECK(store.is_open());

    struct Case
    {
      const char *what;
      SyncConfig config;
      ErrorCode code;
    };
    std::vector<Case> cases;
    cases.push_back({"empty node id", SyncConfig::durable(""), ErrorCode::InvalidNodeId});
    cases.push_back({"node id with a space", SyncConfig::durable("node a"), ErrorCode::InvalidNodeId});
    cases.push_back({"node id with a control char", SyncConfig::durable("node\x01"), ErrorCode::InvalidNodeId});
    cases.push_back({"node id too long", SyncConfig::durable(std::string(257, 'n')), ErrorCode::InvalidNodeId});
    cases.push_back({"node id not UTF-8", SyncConfig::durable("node\xff"), ErrorCode::InvalidNodeId});
    cases.push_back({"node id with NUL", SyncConfig::durable(std::string("node\0a", 6)), ErrorCode::InvalidNodeId});
    {
      auto c = SyncConfig::durable("node-a");
      c.batch_size = 0;
      cases.push_back({"batch_size 0", c, ErrorCode::InvalidContext});
      c.batch_size = 65537;
      cases.push_back({"batch_size 65537", c, ErrorCode::InvalidContext});
    }
    {
      auto c = SyncConfig::durable("node-a");
      c.ack_timeout = Duration::from_millis(0);
      cases.push_back({"zero ack_timeout with require_ack", c, ErrorCode::InvalidContext});
      c.ack_timeout = Duration::from_millis(-5);
      cases.push_back({"negative ack_timeout", c, ErrorCode::InvalidContext});
    }
    {
      auto c = SyncConfig::durable("node-a");
      c.conflict_policy = ConflictPolicy::Unknown;
      cases.push_back({"unknown policy", c, ErrorCode::InvalidContext});
    }
    {
      auto c = SyncConfig::durable("node-a");
      c.max_outbox_operations = 0;
      cases.push_back({"max_outbox_operations 0", c, ErrorCode::InvalidContext});
    }
    {
      auto c = SyncConfig::durable("node-a");
      c.max_outbox_bytes = 0;
      cases.push_back({"max_outbox_bytes 0", c, ErrorCode::InvalidContext});
    }
    {
      auto c = SyncConfig::durable("node-a");
      c.durability = static_cast<sync::types::Durability>(7);
      cases.push_back({"unknown durability", c, ErrorCode::InvalidContext});
    }
    for (const auto &c : cases)
    {
      SyncContext context{store, c.config};
      const auto v = context.validate();
      record(!context.is_valid() && v.is_err() && v.error().code() == c.code, c.what, __LINE__,
             "context: " + message_of(v));
      SyncEngine engine{context};
      if (std::getenv("SHOW_MESSAGES"))
      {
        std::cout << c.what << "\n  context: " << message_of(v) << "\n  engine:  " << engine.error().message() << "\n";
      }
      record(!engine.is_valid() && engine.error().code() == c.code, c.what, __LINE__,
             "engine: " + engine.error().to_string());
      // Every call on an engine that was not created returns an error; nothing crashes.
      auto submitted = engine.submit_local_operation(put("k", "v"));
      CHECK(submitted.is_err() && submitted.error().code() == c.code);
      CHECK(submitted.error().message().find("sync engine was not created") != std::string::npos);
      CHECK(!engine.queue_operation("node-a-1"));
      CHECK(engine.next_batch().is_err());
      CHECK(engine.next_batch().empty());
      CHECK(engine.outbox().is_err());
      CHECK(engine.receive_ack("node-a-1").is_err());
      CHECK_EQ(engine.retry_expired(), 0u);
      CHECK(engine.try_retry_expired().is_err());
      CHECK_EQ(engine.prune_completed(), 0u);
      CHECK_EQ(engine.prune_failed(), 0u);
      CHECK(engine.requeue_failed("node-a-1").is_err());
      CHECK(engine.requeue_all_failed().is_err());
      CHECK(engine.receive_remote_operation(SyncOperation::remote("node-b-1", "node-b", 1, put("k", "v"))).is_err());
      CHECK_EQ(engine.state().outbox_size, 0u);
      CHECK(engine.try_state().is_err());
      ManualClock clock{T0};
      CHECK(engine.set_clock(clock).is_err());
      sync::scheduler::SyncScheduler scheduler{engine};
      auto tick = scheduler.tick(true);
      CHECK(tick.is_err() && !tick.has_work() && tick.batch_size() == 0);
    }
    // The messages name the bad field.
    auto c = SyncConfig::durable("node-a");
    c.batch_size = 0;
    SyncContext context{store, c};
    CHECK(message_of(context.validate()).find("batch_size") != std::string::npos);
    SyncEngine engine{context};
    CHECK(engine.error().message().find("batch_size") != std::string::npos);
    // Nothing was written to the store.
    CHECK_EQ(store.size(), 0u);
    // A valid config on the same store works.
    SyncContext good{store, SyncConfig::durable("node-a")};
    CHECK(good.is_valid());
    SyncEngine ok_engine{good};
    CHECK(ok_engine.is_valid());
    CHECK(ok_engine.error().code() == ErrorCode::None);
  }

  void test_store_open_failure()
  {
    current_test = "store open failure";
    StoreEngine store{StoreConfig::durable("no-such-dir/sub/store.wal")};
    CHECK(!store.is_open());
    CHECK(store.error().code() == ErrorCode::Io);
    CHECK(!store.error().message().empty());
    CHECK(!store.get(Key{"k"}).has_value());
    CHECK(store.read(Key{"k"}).is_err());
    CHECK_EQ(store.size(), 0u);
    CHECK(store.replay_report().is_err());
    SyncContext context{store, SyncConfig::durable("node-a")};
    CHECK(!context.is_valid());
    CHECK(message_of(context.validate()).find("store is not open") != std::string::npos);
    SyncEngine engine{context};
    CHECK(!engine.is_valid());
    CHECK(engine.submit_local_operation(put("k", "v")).is_err());

    StoreEngine nul_path{StoreConfig::durable(std::string("a\0b.wal", 7))};
    CHECK(!nul_path.is_open());
    CHECK(nul_path.error().message().find("NUL") != std::string::npos);

    // One handle per WAL: a second one is refused while the first is open.
    const std::string wal = "in_use.wal";
    std::filesystem::remove(wal);
    {
      StoreEngine first{StoreConfig::durable(wal)};
      CHECK(first.is_open());
      StoreEngine second{StoreConfig::fast(wal)};
      CHECK(!second.is_open());
      CHECK(second.error().code() == ErrorCode::InUse);
      CHECK(second.error().message().find(wal) != std::string::npos);
    }
    StoreEngine again{StoreConfig::durable(wal)};
    CHECK(again.is_open());
  }

  void test_batch_calls()
  {
    current_test = "batch calls";
    StoreEngine store{StoreConfig::memory()};
    SyncContext context{store, SyncConfig::durable("node-a")};
    SyncEngine engine{context};
    auto submitted = engine.submit_local_operations({put("k", "one"), put("j", "x"), put("k", "two")});
    CHECK(submitted.is_ok());
    if (submitted.is_ok())
    {
      const auto &ops = submitted.value();
      CHECK_EQ(ops.size(), std::size_t{3});
      CHECK_EQ(ops[0].sync_id, std::string("node-a-1"));
      CHECK_EQ(ops[2].sync_id, std::string("node-a-3"));
      CHECK_EQ(ops[1].operation.key.str(), std::string("j"));
      CHECK(ops[2].replaces.has_value() && ops[2].replaces->stamp == ops[0].stamp());
      CHECK(!ops[1].replaces.has_value());
    }
    CHECK(engine.submit_local_operations({}).is_ok());
    CHECK_EQ(engine.state().queued_count, 3u);

    // A bad operation refuses the whole call, naming it.
    auto refused = engine.submit_local_operations({put("a", "1"), put("", "2")});
    CHECK(refused.is_err() && refused.error().code() == ErrorCode::InvalidOperation);
    CHECK(refused.error().message().find("operation 1: ") != std::string::npos);
    auto nul = engine.submit_local_operations({put(std::string("n\0ul", 4), "2")});
    CHECK(nul.is_err() && nul.error().message().find("operation 0: ") != std::string::npos);
    CHECK_EQ(engine.state().queued_count, 3u);

    CHECK_EQ(engine.next_batch().size(), std::size_t{3});
    auto report = engine.receive_acks({"node-a-1", "node-a-2", "node-a-2", "node-a-99"});
    CHECK(report.is_ok());
    if (report.is_ok())
    {
      CHECK_EQ(report.value().acknowledged, std::size_t{2});
      CHECK_EQ(report.value().already_acknowledged, std::size_t{1});
      CHECK_EQ(report.value().unknown, std::size_t{1});
    }
    auto bad_id = engine.receive_acks({"node-a-3", std::string("x\0y", 3)});
    CHECK(bad_id.is_err() && bad_id.error().message().find("operation 1: ") != std::string::npos);
    CHECK_EQ(engine.state().in_flight_count, 1u);
  }

  void test_submit_and_batch()
  {
    current_test = "submit and batch";
    StoreEngine store{StoreConfig::memory()};
    SyncContext context{store, SyncConfig::durable("node-a")};
    SyncEngine engine{context};
    ManualClock clock{T0};
    CHECK(engine.set_clock(clock).is_ok());
    CHECK_EQ(engine.node_id(), std::string("node-a"));

    auto submitted = engine.submit_local_operation(put("user:1", "Gaspard"));
    CHECK(submitted.is_ok());
    const auto &op = submitted.value();
    CHECK_EQ(op.sync_id, std::string("node-a-1"));
    CHECK_EQ(op.origin_node_id, std::string("node-a"));
    CHECK_EQ(op.version, 1u);
    CHECK_EQ(core::time::stamp_millis(op.stamp()), T0);
    CHECK(op.operation.is_put() && op.operation.key.str() == "user:1");
    auto state = engine.state();
    CHECK_EQ(state.outbox_size, 1u);
    CHECK_EQ(state.queued_count, 1u);
    CHECK_EQ(state.last_submitted_version, 1u);
    CHECK_EQ(state.outbox_bytes, 13u);

    // Bad keys are errors at submit, never crashes, and change nothing.
    auto nul_key = engine.submit_local_operation(put(std::string("us\0er", 5), "v"));
    CHECK(nul_key.is_err() && nul_key.error().code() == ErrorCode::InvalidOperation);
    CHECK(message_of(nul_key).find("NUL byte at offset 2") != std::string::npos);
    auto bad_utf8 = engine.submit_local_operation(put("ab\xff", "v"));
    CHECK(bad_utf8.is_err() && bad_utf8.error().code() == ErrorCode::InvalidOperation);
    CHECK(message_of(bad_utf8).find("UTF-8") != std::string::npos);
    auto empty_key = engine.submit_local_operation(put("", "v"));
    CHECK(empty_key.is_err() && empty_key.error().code() == ErrorCode::InvalidOperation);
    auto long_key = engine.submit_local_operation(put(std::string(65537, 'k'), "v"));
    CHECK(long_key.is_err() && long_key.error().code() == ErrorCode::InvalidOperation);
    auto del_with_value = Operation::remove(Key{"user:1"});
    del_with_value.value = Value::from_string("x");
    CHECK(engine.submit_local_operation(del_with_value).is_err());
    Operation unknown;
    unknown.key = Key{"user:1"};
    auto unknown_result = engine.submit_local_operation(unknown);
    CHECK(unknown_result.is_err() && unknown_result.error().code() == ErrorCode::InvalidOperation);
    CHECK_EQ(engine.state().outbox_size, 1u);
    CHECK_EQ(engine.state().last_submitted_version, 1u);

    // A binary value with NUL bytes and a UTF-8 key go through unchanged.
    const std::string binary("\0\x01zero\0", 7);
    auto second = engine.submit_local_operation(put("cl\xc3\xa9:1", binary));
    CHECK(second.is_ok());
    CHECK_EQ(second.value().sync_id, std::string("node-a-2"));
    CHECK(store.get(Key{"cl\xc3\xa9:1"}).has_value());
    CHECK(store.get(Key{"cl\xc3\xa9:1"})->value.to_string() == binary);

    auto batch = engine.next_batch();
    CHECK(batch.is_ok());
    CHECK_EQ(batch.size(), 2u);
    if (batch.size() == 2)
    {
      const auto &e = batch[0];
      CHECK_EQ(e.operation.sync_id, std::string("node-a-1"));
      CHECK_EQ(e.operation.origin_node_id, std::string("node-a"));
      CHECK_EQ(e.operation.version, 1u);
      CHECK(e.operation.operation.key == Key{"user:1"});
      CHECK_EQ(e.operation.operation.value.to_string(), std::string("Gaspard"));
      CHECK_EQ(e.operation.operation.timestamp, op.stamp());
      CHECK(e.status == SyncStatus::InFlight && e.is_in_flight());
      CHECK_EQ(e.retry_count, 0u);
      CHECK(!e.operation.replaces.has_value());
      CHECK(batch[1].operation.operation.value.to_string() == binary);
    }
    // A batch converts to a std::vector (the C++ module's return type).
    std::vector<sync::core::SyncEnvelope> as_vector = engine.next_batch();
    CHECK(as_vector.empty());
    CHECK_EQ(engine.state().in_flight_count, 2u);

    // ACKs: unknown ids are NotFound with the doc's message.
    auto unknown_ack = engine.receive_ack("node-a-42");
    CHECK(unknown_ack.is_err() && unknown_ack.error().code() == ErrorCode::NotFound);
    CHECK_EQ(message_of(unknown_ack), std::string("sync operation not found: node-a-42"));
    auto acked = engine.receive_ack("node-a-1");
    CHECK(acked && acked.value() == sync::types::AckOutcome::Acknowledged);
    auto again = engine.receive_ack("node-a-1");
    CHECK(again && again.value() == sync::types::AckOutcome::AlreadyAcknowledged);
    CHECK(engine.receive_ack(std::string("node-a-1\0x", 10)).is_err());
    CHECK_EQ(engine.state().acknowledged_count, 1u);
    CHECK_EQ(engine.state().in_flight_count, 1u);

    // The outbox lists every entry with its current status.
    auto outbox = engine.outbox();
    CHECK_EQ(outbox.size(), 2u);
    if (outbox.size() == 2)
    {
      CHECK(outbox[0].is_acknowledged());
      CHECK(outbox[1].is_in_flight());
    }
    CHECK_EQ(engine.prune_completed(), 1u);
    CHECK_EQ(engine.state().outbox_size, 1u);
    auto pruned = engine.try_prune_completed();
    CHECK(pruned.is_ok() && pruned.value() == 0u);

    // Delete goes through too.
    auto removed = engine.submit_local_operation(Operation::remove(Key{"user:1"}));
    CHECK(removed.is_ok());
    CHECK(!store.get(Key{"user:1"}).has_value());
    auto read = store.read(Key{"user:1"});
    CHECK(read.is_ok() && !read.value().has_value());
    CHECK(store.read(Key{std::string("a\0", 2)}).is_err());
    CHECK(store.read(Key{"ab\xff"}).is_err());
    CHECK(store.read(Key{""}).is_err());
  }

  void test_manual_queue()
  {
    current_test = "manual queue";
    StoreEngine store{StoreConfig::memory()};
    auto config = SyncConfig::durable("node-a");
    config.auto_queue = false;
    SyncContext context{store, config};
    SyncEngine engine{context};
    auto submitted = engine.submit_local_operation(put("manual:key", "manual-value"));
    CHECK(submitted.is_ok());
    CHECK_EQ(engine.state().pending_count, 1u);
    CHECK_EQ(engine.state().queued_count, 0u);
    CHECK(engine.next_batch().empty());

    auto missing = engine.queue_operation("node-a-42");
    CHECK(!missing && missing.error().code() == ErrorCode::NotFound);
    CHECK_EQ(message_of(missing), std::string("sync operation not found: node-a-42"));
    auto nul_id = engine.queue_operation(std::string("node-a-1\0", 9));
    CHECK(!nul_id && nul_id.error().code() == ErrorCode::NotFound);

    CHECK(engine.queue_operation(submitted.value().sync_id));
    CHECK_EQ(engine.state().queued_count, 1u);
    CHECK(engine.queue_operation(submitted.value().sync_id)); // already queued: left as is
    CHECK_EQ(engine.next_batch().size(), 1u);
    auto in_flight = engine.queue_operation(submitted.value().sync_id);
    CHECK(!in_flight && in_flight.error().code() == ErrorCode::QueueFailed);
  }

  void test_remote_apply_and_errors()
  {
    current_test = "remote apply";
    StoreEngine store{StoreConfig::memory()};
    SyncContext context{store, SyncConfig::durable("node-local")};
    SyncEngine engine{context};
    ManualClock clock{T0};
    CHECK(engine.set_clock(clock).is_ok());

    auto op = put("remote:user:1", "Remote value");
    op.timestamp = core::time::make_stamp(T0 - 10);
    auto remote = SyncOperation::remote("node-remote-1", "node-remote", 1, op);
    CHECK(remote.is_valid());
    auto result = engine.receive_remote_operation(remote);
    CHECK(result.is_ok());
    if (result.is_ok())
    {
      CHECK(result.value().applied && !result.value().duplicate && !result.value().ignored);
      CHECK(result.value().outcome == sync::types::RemoteOutcome::Applied);
      CHECK(result.value().reason == sync::types::ResolutionReason::NoLocalEntry);
      CHECK(!result.value().conflict_detected);
      CHECK(result.value().store_version > 0);
    }
    auto entry = store.get(Key{"remote:user:1"});
    CHECK(entry.has_value());
    if (entry)
    {
      CHECK_EQ(entry->value.to_string(), std::string("Remote value"));
      CHECK_EQ(entry->origin, std::string("node-remote"));
      CHECK_EQ(entry->timestamp, op.timestamp);
    }
    CHECK_EQ(engine.state().last_applied_remote_version, 1u);

    // A duplicate delivery is reported as not applied.
    auto dup = engine.receive_remote_operation(remote);
    CHECK(dup.is_ok() && dup.value().duplicate && !dup.value().applied);
    CHECK_EQ(engine.state().remote_duplicate_count, 1u);
    CHECK_EQ(engine.state().remote_applied_count, 1u);

    // Invalid remote operations are errors and leave the store untouched.
    const auto size_before = store.size();
    auto expect_invalid = [&](const SyncOperation &bad, const char *what, const char *needle) {
      auto r = engine.receive_remote_operation(bad);
      const bool ok = r.is_err() && r.error().code() == ErrorCode::InvalidRemoteOperation &&
                      r.error().message().find(needle) != std::string::npos;
      record(ok, what, __LINE__, message_of(r));
    };
    expect_invalid(SyncOperation::remote("", "node-remote", 2, put("k", "v")), "empty sync id", "empty sync id");
    expect_invalid(SyncOperation::remote("node-remote-2", "", 2, put("k", "v")), "empty origin", "origin");
    expect_invalid(SyncOperation::remote("node-remote-2", "node remote", 2, put("k", "v")), "origin with space",
                   "origin");
    expect_invalid(SyncOperation::remote("node-remote-0", "node-remote", 0, put("k", "v")), "version 0",
                   "version 0");
    expect_invalid(SyncOperation::remote("node-remote-2", "node-remote", 2, put(std::string("k\0", 2), "v")),
                   "key with NUL", "NUL");
    expect_invalid(SyncOperation::remote(std::string("id\0", 3), "node-remote", 2, put("k", "v")),
                   "sync id with NUL", "NUL");
    expect_invalid(SyncOperation::remote("node-remote-2", "node-remote", 2, put("k\xff", "v")), "key not UTF-8",
                   "UTF-8");
    expect_invalid(SyncOperation::remote("node-remote-2", "node-remote", 2, put("", "v")), "empty key", "key");
    {
      auto del = Operation::remove(Key{"k"});
      del.value = Value::from_string("x");
      expect_invalid(SyncOperation::remote("node-remote-2", "node-remote", 2, del), "delete with a value",
                     "carries a value");
    }
    {
      Operation unknown;
      unknown.key = Key{"k"};
      expect_invalid(SyncOperation::remote("node-remote-2", "node-remote", 2, unknown), "unknown type",
                     "operation type");
    }
    {
      auto ahead = put("k", "v");
      ahead.timestamp = core::time::make_stamp(T0 + 61000);
      expect_invalid(SyncOperation::remote("node-remote-2", "node-remote", 2, ahead), "clock skew", "ahead");
    }
    {
      auto bad_replaces = SyncOperation::remote("node-remote-2", "node-remote", 2, put("k", "v"));
      bad_replaces.replaces = sync::core::WriteId{1, "bad origin"};
      expect_invalid(bad_replaces, "bad replaces origin", "");
      bad_replaces.replaces = sync::core::WriteId{1, std::string("a\0", 2)};
      expect_invalid(bad_replaces, "replaces origin with NUL", "NUL");
    }
    CHECK_EQ(store.size(), size_before);
    CHECK(!store.get(Key{"k"}).has_value());

    // An operation whose origin is this node's own id is refused, naming the id.
    expect_invalid(SyncOperation::remote("node-local-9", "node-local", 9, put("k", "v")), "own node id",
                   "origin node-local is this node's own id");
    CHECK_EQ(store.size(), size_before);
  }

  // Sends every envelope of `batch` to `to`, and each ACK back to `from`. Returns outcomes.
  std::vector<sync::core::RemoteApplyResult> deliver(const sync::core::SyncBatch &batch, SyncEngine &to,
                                                     SyncEngine &from, bool ack = true)
  {
    std::vector<sync::core::RemoteApplyResult> outcomes;
    for (const auto &envelope : batch)
    {
      auto r = to.receive_remote_operation(envelope.operation);
      record(r.is_ok(), "delivery accepted", __LINE__, message_of(r));
      if (r.is_ok())
      {
        outcomes.push_back(r.value());
        if (ack)
        {
          record(from.receive_ack(envelope.operation.sync_id).is_ok(), "ack accepted", __LINE__);
        }
      }
    }
    return outcomes;
  }

  void test_two_engines_converge()
  {
    current_test = "two engines";
    std::filesystem::remove("node_a.wal");
    std::filesystem::remove("node_b.wal");
    StoreEngine store_a{StoreConfig::durable("node_a.wal")};
    StoreEngine store_b{StoreConfig::fast("node_b.wal")};
    SyncContext context_a{store_a, SyncConfig::durable("node-a")};
    SyncContext context_b{store_b, SyncConfig::fast("node-b")};
    SyncEngine a{context_a};
    SyncEngine b{context_b};
    ManualClock clock_a{T0};
    ManualClock clock_b{T0};
    CHECK(a.set_clock(clock_a).is_ok());
    CHECK(store_b.set_clock(clock_b).is_ok()); // the store's clock is the engine's too

    // Offline: both write doc:1; node-b writes 5 ms later, so it wins under LWW everywhere.
    CHECK(a.submit_local_operation(put("user:1", "Gaspard")).is_ok());
    CHECK(a.submit_local_operation(put("doc:1", "draft from A")).is_ok());
    clock_b.advance(5);
    CHECK(b.submit_local_operation(put("doc:1", "draft from B")).is_ok());
    CHECK(b.submit_local_operation(put("task:1", "review")).is_ok());

    auto batch_a = a.next_batch();
    auto batch_b = b.next_batch();
    CHECK_EQ(batch_a.size(), 2u);
    CHECK_EQ(batch_b.size(), 2u);
    auto at_b = deliver(batch_a, b, a);
    auto at_a = deliver(batch_b, a, b, false); // node-b does not need ACKs (fast preset)
    CHECK_EQ(at_b.size(), 2u);
    CHECK_EQ(at_a.size(), 2u);
    if (at_b.size() == 2 && at_a.size() == 2)
    {
      CHECK(at_b[0].applied && !at_b[0].conflict_detected);
      CHECK(at_b[1].ignored && at_b[1].conflict_detected);
      CHECK(at_b[1].reason == sync::types::ResolutionReason::LocalWins);
      CHECK(at_a[0].applied && at_a[0].conflict_detected);
      CHECK(at_a[0].reason == sync::types::ResolutionReason::RemoteWins);
      CHECK(at_a[1].applied);
    }

    // Redelivering a batch (the batch handle is long gone: the envelopes own their data).
    auto again = deliver(batch_a, b, a, false);
    for (const auto &r : again)
    {
      CHECK(r.duplicate && !r.applied);
    }

    // A causal update: node-b overwrites user:1 (written by node-a); its envelope names the
    // replaced write, so node-a applies it without a conflict even under KeepLocal... here LWW.
    clock_b.advance(1);
    auto submitted_update = b.submit_local_operation(put("user:1", "Gaspard K."));
    CHECK(submitted_update.is_ok());
    // The submit result already names the replaced write, as the envelope will.
    CHECK(submitted_update.is_ok() && submitted_update.value().replaces.has_value() &&
          submitted_update.value().replaces->origin == "node-a");
    auto update = b.next_batch();
    CHECK_EQ(update.size(), 1u);
    if (update.size() == 1)
    {
      const auto &replaces = update[0].operation.replaces;
      CHECK(replaces.has_value());
      if (replaces)
      {
        CHECK_EQ(replaces->origin, std::string("node-a"));
        CHECK_EQ(replaces->stamp, store_a.get(Key{"user:1"})->timestamp);
      }
      auto r = a.receive_remote_operation(update[0].operation);
      CHECK(r.is_ok() && r.value().applied && !r.value().conflict_detected);
      CHECK(r.is_ok() && r.value().reason == sync::types::ResolutionReason::CausalSuccessor);
    }

    // Converged: same value for every key, on both nodes.
    for (const char *key : {"user:1", "doc:1", "task:1"})
    {
      auto ea = store_a.get(Key{key});
      auto eb = store_b.get(Key{key});
      CHECK(ea.has_value() && eb.has_value());
      if (ea && eb)
      {
        record(ea->value == eb->value && ea->timestamp == eb->timestamp && ea->origin == eb->origin, key,
               __LINE__, ea->value.to_string() + " / " + eb->value.to_string());
      }
    }
    CHECK_EQ(store_a.get(Key{"doc:1"})->value.to_string(), std::string("draft from B"));
    CHECK_EQ(store_a.get(Key{"user:1"})->value.to_string(), std::string("Gaspard K."));
    CHECK_EQ(store_a.size(), 3u);
    CHECK_EQ(store_b.size(), 3u);
    auto sa = a.state();
    auto sb = b.state();
    CHECK_EQ(sa.acknowledged_count, 2u);
    CHECK_EQ(sa.remote_applied_count, 3u);
    CHECK_EQ(sa.conflict_count, 1u);
    CHECK_EQ(sb.remote_ignored_count, 1u);
    CHECK_EQ(sb.remote_duplicate_count, 2u);
    CHECK_EQ(sb.conflict_count, 1u);
    CHECK_EQ(a.prune_completed(), 2u);
    CHECK_EQ(b.prune_completed(), 3u);

    // KeepLocal on a third node: a concurrent remote write is ignored.
    StoreEngine store_c{StoreConfig::memory()};
    auto config_c = SyncConfig::durable("node-c");
    config_c.conflict_policy = ConflictPolicy::KeepLocal;
    SyncContext context_c{store_c, config_c};
    SyncEngine c{context_c};
    ManualClock clock_c{T0 + 100};
    CHECK(c.set_clock(clock_c).is_ok());
    CHECK(c.submit_local_operation(put("doc:1", "draft from C")).is_ok());
    auto to_c = deliver(batch_b, c, b, false);
    CHECK_EQ(to_c.size(), 2u);
    if (to_c.size() == 2)
    {
      CHECK(to_c[0].ignored && to_c[0].conflict_detected);
      CHECK(to_c[0].reason == sync::types::ResolutionReason::PolicyKeepLocal);
      CHECK(to_c[1].applied);
    }
    CHECK_EQ(store_c.get(Key{"doc:1"})->value.to_string(), std::string("draft from C"));

    // Remote stamps too far ahead of the local clock (beyond anything it issued or accepted)
    // are rejected.
    ManualClock ahead{T0 + 120000};
    CHECK(a.set_clock(ahead).is_ok());
    CHECK(a.submit_local_operation(put("late", "x")).is_ok());
    auto late = a.next_batch();
    CHECK_EQ(late.size(), 1u);
    if (late.size() == 1)
    {
      auto r = c.receive_remote_operation(late[0].operation);
      CHECK(r.is_err() && r.error().code() == ErrorCode::InvalidRemoteOperation);
    }
  }

  void test_wal_reopen_and_single_engine()
  {
    current_test = "WAL reopen";
    const std::string wal = "reopen.wal";
    std::filesystem::remove(wal);
    {
      StoreEngine store{StoreConfig::durable(wal)};
      SyncContext context{store, SyncConfig::durable("node-a")};
      SyncEngine engine{context};
      CHECK(engine.is_valid());
      CHECK(engine.submit_local_operation(put("k1", "v1")).is_ok());
      CHECK(engine.submit_local_operation(put("k2", "v2")).is_ok());
      // One engine per store at a time.
      SyncEngine second{context};
      CHECK(!second.is_valid());
      CHECK(second.error().code() == ErrorCode::InvalidContext);
      CHECK(second.submit_local_operation(put("k3", "v3")).is_err());
    }
    {
      StoreEngine store{StoreConfig::durable(wal)};
      CHECK(store.is_open());
      auto report = store.replay_report();
      CHECK(report.is_ok() && report.value().records > 0 && report.value().dropped_bytes == 0);
      CHECK_EQ(store.size(), 2u);
      CHECK_EQ(store.get(Key{"k2"})->value.to_string(), std::string("v2"));
      SyncContext context{store, SyncConfig::durable("node-a")};
      SyncEngine engine{context};
      // The outbox survived; versions continue.
      CHECK_EQ(engine.state().outbox_size, 2u);
      auto next = engine.submit_local_operation(put("k3", "v3"));
      CHECK(next.is_ok() && next.value().sync_id == "node-a-3");
    }
    std::filesystem::remove(wal);
  }

  void test_retry_and_failed()
  {
    current_test = "retry and failed";
    StoreEngine store{StoreConfig::memory()};
    auto config = SyncConfig::durable("node-a");
    config.max_retries = 1;
    config.ack_timeout = Duration::from_millis(1000);
    config.retry_interval = Duration::from_millis(100);
    SyncContext context{store, config};
    SyncEngine engine{context};
    ManualClock clock{T0};
    CHECK(engine.set_clock(clock).is_ok());
    auto submitted = engine.submit_local_operation(put("retry:key", "retry-value"));
    CHECK(submitted.is_ok());
    const std::string id = submitted.is_ok() ? submitted.value().sync_id : std::string();
    CHECK_EQ(engine.next_batch().size(), 1u);
    CHECK_EQ(engine.retry_expired(), 0u); // not expired yet
    clock.advance(1000);
    CHECK_EQ(engine.retry_expired(), 1u);
    CHECK_EQ(engine.state().total_retries, 1u);
    CHECK_EQ(engine.state().queued_count, 1u);
    clock.advance(100); // the back-off before the re-send
    auto resend = engine.next_batch();
    CHECK_EQ(resend.size(), 1u);
    if (resend.size() == 1)
    {
      CHECK_EQ(resend[0].retry_count, 1u);
    }
    auto not_failed = engine.requeue_failed(id);
    CHECK(not_failed.is_err() && not_failed.error().code() == ErrorCode::RetryFailed);
    clock.advance(1000);
    CHECK_EQ(engine.retry_expired(), 0u); // retries exhausted: failed, never dropped
    auto state = engine.state();
    CHECK_EQ(state.failed_count, 1u);
    CHECK_EQ(state.outbox_size, 1u);
    CHECK(store.get(Key{"retry:key"}).has_value()); // the local write stays
    auto outbox = engine.outbox();
    CHECK(outbox.size() == 1 && outbox[0].is_failed());

    CHECK(engine.requeue_failed(id));
    CHECK_EQ(engine.state().queued_count, 1u);
    CHECK_EQ(engine.next_batch().size(), 1u);
    clock.advance(1000);
    CHECK_EQ(engine.retry_expired(), 1u); // a fresh retry budget
    clock.advance(100);
    CHECK_EQ(engine.next_batch().size(), 1u);
    clock.advance(1000);
    CHECK_EQ(engine.retry_expired(), 0u);
    CHECK_EQ(engine.state().failed_count, 1u);
    auto all = engine.requeue_all_failed();
    CHECK(all.is_ok() && all.value() == 1u);
    CHECK_EQ(engine.next_batch().size(), 1u);
    clock.advance(1000);
    engine.retry_expired();
    clock.advance(100);
    engine.next_batch();
    clock.advance(1000);
    engine.retry_expired();
    CHECK_EQ(engine.state().failed_count, 1u);
    CHECK_EQ(engine.prune_failed(), 1u);
    CHECK_EQ(engine.state().outbox_size, 0u);
    auto gone = engine.requeue_failed(id);
    CHECK(gone.is_err() && gone.error().code() == ErrorCode::NotFound);
  }

  void test_scheduler()
  {
    current_test = "scheduler";
    StoreEngine store{StoreConfig::memory()};
    auto config = SyncConfig::durable("node-a");
    config.ack_timeout = Duration::from_seconds(10);
    config.retry_interval = Duration::from_seconds(5);
    SyncContext context{store, config};
    SyncEngine engine{context};
    ManualClock clock{T0};
    CHECK(engine.set_clock(clock).is_ok());
    sync::scheduler::SyncScheduler scheduler{engine};

    auto idle = scheduler.tick(false);
    CHECK(idle.is_ok() && !idle.has_work() && idle.batch_size() == 0);
    CHECK(engine.submit_local_operation(put("task:1", "sync-me")).is_ok());
    CHECK(engine.submit_local_operation(put("task:2", "sync-me-too")).is_ok());
    auto tick = scheduler.tick(false);
    CHECK(tick.has_work() && tick.batch_size() == 2);
    CHECK_EQ(tick.retried_count, 0u);
    CHECK(engine.receive_ack("node-a-1"));
    clock.advance(10000);
    auto retry_tick = scheduler.tick(true);
    CHECK_EQ(retry_tick.retried_count, 1u);
    CHECK_EQ(retry_tick.pruned_count, 1u);
    CHECK(!retry_tick.has_work()); // the re-send waits for the back-off
    clock.advance(5000);
    auto resend = scheduler.tick(false);
    CHECK(resend.has_work() && resend.batch_size() == 1);
    if (resend.batch_size() == 1)
    {
      CHECK_EQ(resend.batch[0].operation.sync_id, std::string("node-a-2"));
      CHECK_EQ(resend.batch[0].retry_count, 1u);
    }
    CHECK(engine.receive_ack("node-a-2"));
    CHECK_EQ(scheduler.prune_completed(), 1u);
    CHECK_EQ(scheduler.retry_only(), 0u);
    CHECK(scheduler.next_batch().empty());
    CHECK_EQ(scheduler.prune_failed(), 0u);
    CHECK_EQ(&scheduler.engine(), &engine);
  }

  void test_moves()
  {
    current_test = "moves";
    StoreEngine store{StoreConfig::memory()};
    StoreEngine moved_store{std::move(store)};
    CHECK(!store.is_open()); // NOLINT(bugprone-use-after-move): testing the moved-from state
    CHECK(moved_store.is_open());
    CHECK(store.read(Key{"k"}).is_err());
    CHECK(message_of(store.read(Key{"k"})).find("moved from") != std::string::npos);

    SyncContext context{moved_store, SyncConfig::durable("node-a")};
    SyncEngine engine{context};
    CHECK(engine.submit_local_operation(put("k", "v")).is_ok());
    SyncEngine moved{std::move(engine)};
    CHECK(!engine.is_valid());
    auto after = engine.submit_local_operation(put("k", "v"));
    CHECK(after.is_err() && message_of(after).find("moved from") != std::string::npos);
    CHECK(engine.next_batch().is_err());
    CHECK(moved.is_valid());
    auto second = moved.submit_local_operation(put("k", "v2"));
    CHECK(second.is_ok() && second.value().sync_id == "node-a-2");

    // Move-assignment frees the target's engine first (so the store can serve a new one).
    StoreEngine other_store{StoreConfig::memory()};
    SyncContext other_context{other_store, SyncConfig::durable("node-o")};
    SyncEngine other{other_context};
    CHECK(other.is_valid());
    other = std::move(moved);
    CHECK(other.is_valid() && other.node_id() == "node-a");
    CHECK_EQ(other.state().outbox_size, 2u);
    SyncEngine reborn{other_context}; // other_store's first engine was freed
    CHECK(reborn.is_valid());

    // A store may be destroyed before the engine built on it (the engine keeps it alive).
    auto holder = std::make_unique<StoreEngine>(StoreConfig::memory());
    SyncContext held_context{*holder, SyncConfig::durable("node-h")};
    SyncEngine held{held_context};
    holder.reset();
    CHECK(held.submit_local_operation(put("k", "v")).is_ok());
    CHECK_EQ(held.state().outbox_size, 1u);

    // Clocks and trackers.
    ManualClock clock{T0};
    ManualClock moved_clock{std::move(clock)};
    CHECK(!clock.is_valid() && moved_clock.is_valid());
    CHECK_EQ(clock.now(), 0u);
    CHECK_EQ(moved_clock.now(), T0);
    CHECK(held.set_clock(moved_clock).is_ok());
    {
      ManualClock temporary{T0 + 5};
      CHECK(held.set_clock(temporary).is_ok());
    } // freed; the engine keeps its own reference
    CHECK(held.submit_local_operation(put("k", "v2")).is_ok());

    sync::ack::AckTracker tracker;
    CHECK(tracker.track("id-1", Duration::from_seconds(1)).is_ok());
    sync::ack::AckTracker moved_tracker{std::move(tracker)};
    CHECK_EQ(moved_tracker.size(), 1u);
    CHECK(!tracker.is_valid());
    CHECK_EQ(tracker.size(), 0u);
    CHECK(tracker.empty());
    CHECK(!tracker.is_waiting("id-1"));
    CHECK(tracker.track("id-1", Duration::from_seconds(1)).is_err());
    tracker.clear();
    sync::ack::AckTracker assigned;
    assigned = std::move(moved_tracker);
    CHECK(assigned.is_waiting("id-1"));
  }

  // Limits the size of the files this process writes (a write past it fails with EFBIG;
  // SIGXFSZ is ignored) while it lives: a deterministic I/O error, without privileges.
  class FileSizeLimit
  {
  public:
    explicit FileSizeLimit(std::uintmax_t bytes) : saved_signal_(std::signal(SIGXFSZ, SIG_IGN))
    {
      ok_ = getrlimit(RLIMIT_FSIZE, &saved_) == 0;
      rlimit limit = saved_;
      limit.rlim_cur = static_cast<rlim_t>(bytes);
      ok_ = ok_ && setrlimit(RLIMIT_FSIZE, &limit) == 0;
    }

    ~FileSizeLimit()
    {
      setrlimit(RLIMIT_FSIZE, &saved_);
      std::signal(SIGXFSZ, saved_signal_);
    }

    FileSizeLimit(const FileSizeLimit &) = delete;
    FileSizeLimit &operator=(const FileSizeLimit &) = delete;

    bool ok() const { return ok_; }

  private:
    void (*saved_signal_)(int);
    rlimit saved_{};
    bool ok_{false};
  };

  // retry_expired / prune_completed / prune_failed / state keep the module doc's plain return
  // types; an error (here an I/O error: the WAL cannot grow) is kept in last_error(), not
  // turned into a silent 0.
  void test_plain_calls_keep_their_errors()
  {
    current_test = "plain calls keep their errors";
    const std::string wal = "plain_errors.wal";
    std::filesystem::remove(wal);
    {
      StoreEngine store{StoreConfig::durable(wal)};
      auto config = SyncConfig::durable("node-a");
      config.ack_timeout = Duration::from_millis(1000);
      config.max_retries = 0; // an expired operation fails, and failing it is logged
      SyncContext context{store, config};
      SyncEngine engine{context};
      ManualClock clock{T0};
      CHECK(engine.set_clock(clock).is_ok());
      CHECK(engine.submit_local_operation(put("k1", "v1")).is_ok());
      CHECK(engine.submit_local_operation(put("k2", "v2")).is_ok());
      CHECK_EQ(engine.next_batch().size(), 2u);
      CHECK(engine.receive_ack("node-a-1"));
      CHECK(!engine.last_error().has_value());
      clock.advance(1000); // node-a-2's ACK deadline passes: a failure to log
      {
        FileSizeLimit full{std::filesystem::file_size(wal)};
        CHECK(full.ok());
        CHECK_EQ(engine.retry_expired(), 0u);
        auto error = engine.last_error();
        CHECK(error.has_value() && error->code() == ErrorCode::Io);
        CHECK(error.has_value() && !error->message().empty());
        engine.clear_last_error();
        CHECK(!engine.last_error().has_value());
        CHECK_EQ(engine.prune_completed(), 0u); // node-a-1 is acknowledged: a prune to log
        error = engine.last_error();
        CHECK(error.has_value() && error->code() == ErrorCode::Io);
        auto tried = engine.try_prune_completed();
        CHECK(tried.is_err() && tried.error().code() == ErrorCode::Io);
      }
      // A later success does not hide it: it stays until cleared.
      CHECK_EQ(engine.state().outbox_size, 2u);
      CHECK(engine.last_error().has_value() && engine.last_error()->code() == ErrorCode::Io);
      // Moving the engine moves its error.
      SyncEngine moved{std::move(engine)};
      CHECK(moved.last_error().has_value() && moved.last_error()->code() == ErrorCode::Io);
      CHECK(!engine.last_error().has_value()); // NOLINT(bugprone-use-after-move)
      moved.clear_last_error();
      CHECK(!moved.last_error().has_value());
      // A moved-from engine's plain calls keep their error too.
      CHECK_EQ(engine.retry_expired(), 0u);
      CHECK(engine.last_error().has_value() &&
            engine.last_error()->message().find("moved from") != std::string::npos);
      engine.clear_last_error();
      CHECK_EQ(engine.state().outbox_size, 0u);
      CHECK_EQ(engine.prune_failed(), 0u);
      CHECK(engine.last_error().has_value());
      sync::scheduler::SyncScheduler scheduler{engine};
      engine.clear_last_error();
      CHECK_EQ(scheduler.prune_completed(), 0u);
      CHECK(engine.last_error().has_value());
    }
    std::filesystem::remove(wal);

    // The store's and the ACK tracker's plain calls, likewise.
    StoreEngine store{StoreConfig::memory_only()};
    StoreEngine moved_store{std::move(store)};
    CHECK(!store.get(Key{"k"}).has_value()); // NOLINT(bugprone-use-after-move)
    CHECK(store.last_error().has_value() && store.last_error()->message().find("moved from") != std::string::npos);
    store.clear_last_error();
    CHECK_EQ(store.size(), 0u);
    CHECK(store.last_error().has_value());
    CHECK(!moved_store.get(Key{std::string("a\0b", 3)}).has_value());
    CHECK(moved_store.last_error().has_value() &&
          moved_store.last_error()->code() == ErrorCode::InvalidOperation);
    moved_store.clear_last_error();
    CHECK(!moved_store.get(Key{"absent"}).has_value()); // absent is not an error
    CHECK(!moved_store.last_error().has_value());

    sync::ack::AckTracker tracker;
    sync::ack::AckTracker moved_tracker{std::move(tracker)};
    CHECK_EQ(tracker.collect_expired(), 0u); // NOLINT(bugprone-use-after-move)
    CHECK(tracker.last_error().has_value());
    CHECK(!moved_tracker.ack("never-tracked")); // not tracked is not an error
    CHECK(!moved_tracker.last_error().has_value());
  }

  void test_ack_tracker()
  {
    current_test = "ack tracker";
    ManualClock clock{T0};
    sync::ack::AckTracker tracker{clock};
    CHECK(tracker.empty() && tracker.size() == 0);
    CHECK(tracker.track("a", Duration::from_millis(100)).is_ok());
    CHECK(tracker.track("b", Duration::from_millis(200)).is_ok());
    CHECK(tracker.track("c", Duration::from_millis(300)).is_ok());
    CHECK_EQ(tracker.size(), 3u);
    CHECK(tracker.is_waiting("a"));
    CHECK(!tracker.acknowledged("a"));
    CHECK(tracker.ack("a"));
    CHECK(!tracker.ack("missing"));
    CHECK(tracker.acknowledged("a") && !tracker.is_waiting("a"));
    clock.advance(250);
    CHECK_EQ(tracker.collect_expired(), 1u); // only b: a is acknowledged, c not due
    CHECK(!tracker.is_waiting("b") && !tracker.acknowledged("b"));
    CHECK(tracker.is_waiting("c"));
    CHECK_EQ(tracker.collect_expired(), 0u);
    CHECK_EQ(tracker.prune_received(), 1u); // only a
    CHECK_EQ(tracker.size(), 2u);
    CHECK(tracker.erase("b"));
    CHECK(!tracker.erase("b"));
    CHECK_EQ(tracker.size(), 1u);
    // Tracking again replaces the entry: an acknowledged id waits again.
    CHECK(tracker.ack("c"));
    CHECK(tracker.track("c", Duration::from_millis(100)).is_ok());
    CHECK_EQ(tracker.size(), 1u);
    CHECK(tracker.is_waiting("c"));
    auto empty_id = tracker.track("", Duration::from_millis(1));
    CHECK(empty_id.is_err() && empty_id.error().code() == ErrorCode::AckTracking);
    auto nul_id = tracker.track(std::string("x\0y", 3), Duration::from_millis(1));
    CHECK(nul_id.is_err() && nul_id.error().code() == ErrorCode::AckTracking);
    auto negative = tracker.track("n", Duration::from_millis(-1));
    CHECK(negative.is_err());
    auto bad_utf8 = tracker.track("x\xff", Duration::from_millis(1));
    CHECK(bad_utf8.is_err() && bad_utf8.error().code() == ErrorCode::AckTracking);
    CHECK(!tracker.is_waiting(std::string("c\0", 2)));
    CHECK(!tracker.ack(std::string("c\0", 2)));
    CHECK_EQ(tracker.size(), 1u);
    tracker.clear();
    CHECK(tracker.empty());
  }

  void test_conflict_resolver()
  {
    current_test = "conflict resolver";
    using sync::conflict::ConflictResolver;
    using Reason = sync::types::ResolutionReason;
    const auto stamp = [](std::uint64_t ms) { return core::time::make_stamp(T0 + ms); };
    auto local = Entry::make(Key{"doc:1"}, Value::from_string("local"), 1);
    local.timestamp = stamp(10);
    auto remote_newer = put("doc:1", "remote");
    remote_newer.timestamp = stamp(20);
    auto remote_older = put("doc:1", "remote");
    remote_older.timestamp = stamp(5);
    auto remote_same = put("doc:1", "remote");
    remote_same.timestamp = stamp(10);

    for (auto policy : {ConflictPolicy::LastWriteWins, ConflictPolicy::KeepLocal, ConflictPolicy::KeepRemote})
    {
      auto r = ConflictResolver::resolve(std::nullopt, remote_older, policy, "node-a", "node-b");
      CHECK(r.is_valid() && r.apply_remote && !r.conflict_detected && r.reason == Reason::NoLocalEntry);
    }
    auto lww_newer = ConflictResolver::resolve(local, remote_newer, ConflictPolicy::LastWriteWins, "node-a", "node-b");
    CHECK(lww_newer.apply_remote && lww_newer.conflict_detected && lww_newer.reason == Reason::RemoteWins);
    auto lww_older = ConflictResolver::resolve(local, remote_older, ConflictPolicy::LastWriteWins, "node-a", "node-b");
    CHECK(lww_older.keep_local && lww_older.conflict_detected && lww_older.reason == Reason::LocalWins);
    auto tie_b = ConflictResolver::resolve(local, remote_same, ConflictPolicy::LastWriteWins, "node-a", "node-b");
    CHECK(tie_b.apply_remote);
    auto tie_a = ConflictResolver::resolve(local, remote_same, ConflictPolicy::LastWriteWins, "node-b", "node-a");
    CHECK(tie_a.keep_local);
    auto keep_local = ConflictResolver::resolve(local, remote_newer, ConflictPolicy::KeepLocal, "node-a", "node-b");
    CHECK(keep_local.keep_local && keep_local.conflict_detected && keep_local.reason == Reason::PolicyKeepLocal);
    auto keep_remote = ConflictResolver::resolve(local, remote_older, ConflictPolicy::KeepRemote, "node-a", "node-b");
    CHECK(keep_remote.apply_remote && keep_remote.conflict_detected);
    auto apply_remote = ConflictResolver::resolve(local, remote_older, ConflictPolicy::ApplyRemote, "node-a", "node-b");
    CHECK(apply_remote.apply_remote && apply_remote.reason == Reason::PolicyKeepRemote);
    // Same origin: ordered by stamp, not a conflict, whatever the policy.
    auto same_origin = ConflictResolver::resolve(local, remote_older, ConflictPolicy::KeepRemote, "node-b", "node-b");
    CHECK(same_origin.keep_local && !same_origin.conflict_detected && same_origin.reason == Reason::SameOriginOlder);
    // The entry's own origin takes precedence over local_node.
    auto with_origin = local;
    with_origin.origin = "node-b";
    auto via_origin = ConflictResolver::resolve(with_origin, remote_newer, ConflictPolicy::KeepLocal, "node-a", "node-b");
    CHECK(via_origin.apply_remote && !via_origin.conflict_detected && via_origin.reason == Reason::SameOriginNewer);
    // Deterministic.
    auto again = ConflictResolver::resolve(local, remote_newer, ConflictPolicy::LastWriteWins, "node-a", "node-b");
    CHECK(again.apply_remote == lww_newer.apply_remote && again.reason == lww_newer.reason);
    // From a sync operation: its origin and stamp.
    auto from_sync = ConflictResolver::resolve(local, SyncOperation::remote("node-b-1", "node-b", 1, remote_newer),
                                               ConflictPolicy::LastWriteWins, "node-a");
    CHECK(from_sync.apply_remote && from_sync.reason == Reason::RemoteWins);

    // Errors: neither outcome chosen, is_valid() false, the error says why.
    auto other_key = ConflictResolver::resolve(local, put("doc:2", "x"), ConflictPolicy::KeepLocal, "node-a", "node-b");
    CHECK(!other_key.is_valid() && other_key.has_error());
    CHECK(other_key.error && other_key.error->code() == ErrorCode::Conflict);
    CHECK(other_key.error && other_key.error->message().find("doc:2") != std::string::npos);
    auto bad_node = ConflictResolver::resolve(local, remote_newer, ConflictPolicy::KeepLocal, "", "node-b");
    CHECK(!bad_node.is_valid() && bad_node.error && bad_node.error->code() == ErrorCode::InvalidNodeId);
    auto bad_remote = ConflictResolver::resolve(std::nullopt, remote_newer, ConflictPolicy::KeepLocal, "node-a", "a b");
    CHECK(!bad_remote.is_valid() && bad_remote.error && bad_remote.error->code() == ErrorCode::InvalidNodeId);
    auto nul_node = ConflictResolver::resolve(local, remote_newer, ConflictPolicy::KeepLocal, std::string("a\0", 2), "b");
    CHECK(!nul_node.is_valid() && nul_node.error && nul_node.error->code() == ErrorCode::InvalidNodeId);
    auto bad_policy = ConflictResolver::resolve(local, remote_newer, ConflictPolicy::Unknown, "node-a", "node-b");
    CHECK(!bad_policy.is_valid() && bad_policy.error && bad_policy.error->code() == ErrorCode::InvalidArgument);
    auto tried = ConflictResolver::try_resolve(local, remote_newer, ConflictPolicy::Unknown, "node-a", "node-b");
    CHECK(tried.is_err());
  }

  // One engine and one tracker used from several threads at once (the C handles are
  // thread-safe and the wrapper objects keep no mutable state of their own).
  void test_threads()
  {
    current_test = "threads";
    StoreEngine store{StoreConfig::memory()};
    auto config = SyncConfig::fast("node-t");
    config.batch_size = 7;
    SyncContext context{store, config};
    SyncEngine engine{context};
    sync::ack::AckTracker tracker;
    constexpr int threads = 4;
    constexpr int per_thread = 50;
    std::vector<std::vector<std::string>> ids(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
    {
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i)
        {
          const std::string key = "t" + std::to_string(t) + ":" + std::to_string(i);
          auto r = engine.submit_local_operation(put(key, "v"));
          if (r.is_ok())
          {
            ids[t].push_back(r.value().sync_id);
            (void)tracker.track(r.value().sync_id, Duration::from_seconds(60));
          }
          if (i % 10 == 0)
          {
            (void)engine.next_batch();
            (void)engine.state();
          }
        }
      });
    }
    for (auto &w : workers)
    {
      w.join();
    }
    std::set<std::string> unique;
    for (const auto &list : ids)
    {
      CHECK_EQ(list.size(), static_cast<std::size_t>(per_thread));
      unique.insert(list.begin(), list.end());
    }
    CHECK_EQ(unique.size(), static_cast<std::size_t>(threads * per_thread));
    CHECK_EQ(tracker.size(), static_cast<std::size_t>(threads * per_thread));
    CHECK_EQ(store.size(), static_cast<std::size_t>(threads * per_thread));
    std::size_t drained = 0;
    bool within_batch_size = true;
    for (auto batch = engine.next_batch(); !batch.empty(); batch = engine.next_batch())
    {
      within_batch_size = within_batch_size && batch.size() <= 7u;
      drained += batch.size();
    }
    CHECK(within_batch_size);
    CHECK_EQ(engine.state().acknowledged_count, static_cast<std::uint64_t>(threads * per_thread));
    CHECK(drained > 0);
  }

  // The C++ module's names: the scheduler's TickResult and the resolver's Resolution are
  // reachable as members too.
  void test_compat_names()
  {
    current_test = "compat names";
    static_assert(std::is_same_v<sync::scheduler::SyncScheduler::TickResult, sync::scheduler::TickResult>);
    static_assert(std::is_same_v<sync::conflict::ConflictResolver::Resolution, sync::conflict::Resolution>);
    static_assert(std::is_same_v<SyncEngine::SubmitResult, core::types::Result<SyncOperation>>);
    static_assert(std::is_base_of_v<std::vector<sync::core::SyncEnvelope>, sync::core::SyncBatch>);
    CHECK(std::string(sync::types::to_string(SyncStatus::InFlight)) == "in-flight");
    CHECK(std::string(sync::types::to_string(ConflictPolicy::LastWriteWins)) == "last-write-wins");
    CHECK(std::string(store::types::to_string(store::types::OperationType::Delete)) == "delete");
  }
  /// Removes a store's files (the WAL and every file beside it that starts with its name).
  void remove_store(const std::string &wal)
  {
    for (const auto &entry : std::filesystem::directory_iterator("."))
    {
      if (entry.path().filename().string().rfind(wal, 0) == 0)
      {
        std::filesystem::remove(entry.path());
      }
    }
  }

  void test_compaction()
  {
    current_test = "compaction";
    const std::string wal = "compact.wal";
    remove_store(wal);
    // The defaults are the library's (sa_store_config_default), not numbers of the wrapper.
    const StoreConfig defaults = StoreConfig::fast(wal);
    sa_store_config c{};
    c.struct_size = sizeof c;
    CHECK(sa_store_config_default(&c) == SA_OK);
    CHECK_EQ(defaults.compact_threshold_bytes, c.compact_threshold_bytes);
    CHECK_EQ(static_cast<std::uint64_t>(defaults.tombstone_retention.millis()), c.tombstone_retention_ms);
    CHECK(!defaults.read_only);

    ManualClock clock{T0};
    {
      StoreConfig config = StoreConfig::fast(wal);
      config.compact_threshold_bytes = 0; // explicit compactions only
      config.tombstone_retention = Duration::from_seconds(1);
      StoreEngine store{config};
      CHECK(store.is_open());
      CHECK(store.set_clock(clock).is_ok());
      SyncEngine engine{SyncContext(store, SyncConfig::fast("node-a"))};
      for (int i = 0; i < 30; ++i)
      {
        CHECK(engine.submit_local_operation(put("hot", "v" + std::to_string(i))).is_ok());
      }
      CHECK(engine.submit_local_operation(put("gone", "x")).is_ok());
      CHECK(engine.submit_local_operation(Operation::remove(Key{"gone"})).is_ok());
      CHECK_EQ(engine.next_batch().size(), std::size_t{32}); // fast preset: acknowledged

      auto first = engine.compact();
      CHECK(first.is_ok());
      if (first.is_ok())
      {
        const auto &r = first.value();
        CHECK(r.records_folded >= 32);
        CHECK(r.checkpoint_bytes > 0);
        CHECK_EQ(r.checkpoint_bytes, static_cast<std::uint64_t>(std::filesystem::file_size(wal + ".ckpt")));
        CHECK(r.bytes_after < r.bytes_before);
        CHECK_EQ(r.tombstones_collected, std::uint64_t{0}); // within its retention
        CHECK(r.duration >= r.rotation_pause);
      }
      CHECK(clock.advance(Duration::from_seconds(5)));
      // Past its retention and acknowledged: collected (the engine's part is registered on
      // the store, so the store's own compact() knows it too).
      auto second = store.compact();
      CHECK(second.is_ok() && second.value().tombstones_collected == 1);
      auto stats = store.compaction_stats();
      CHECK(stats.is_ok());
      if (stats.is_ok())
      {
        CHECK_EQ(stats.value().runs, std::uint64_t{2});
        CHECK_EQ(stats.value().failures, std::uint64_t{0});
        CHECK(!stats.value().last_error.has_value());
      }
    }
    {
      StoreConfig config = StoreConfig::fast(wal);
      config.read_only = true;
      StoreEngine reader{config};
      CHECK(reader.is_open());
      CHECK(reader.get(Key{"hot"}).has_value() && reader.get(Key{"hot"})->value.str() == "v29");
      CHECK(!reader.contains(Key{"gone"}));
      const auto ckpt_size = std::filesystem::file_size(wal + ".ckpt");
      auto refused = reader.compact();
      CHECK(refused.is_err());
      CHECK(refused.is_err() && refused.error().code() == ErrorCode::Io);
      CHECK(refused.is_err() && refused.error().message().find("read-only") != std::string::npos);
      CHECK_EQ(std::filesystem::file_size(wal + ".ckpt"), ckpt_size);
      auto stats = reader.compaction_stats();
      CHECK(stats.is_ok() && stats.value().failures == 1 && stats.value().last_error.has_value() &&
            stats.value().last_error->find("read-only") != std::string::npos);
    }
    {
      StoreConfig config = StoreConfig::fast(wal);
      config.tombstone_retention = Duration::from_millis(-1);
      StoreEngine bad{config};
      CHECK(!bad.is_open());
      CHECK(bad.error().message().find("tombstone_retention") != std::string::npos);
      CHECK(bad.compact().is_err());
      CHECK(bad.compaction_stats().is_err());
      SyncEngine unusable{SyncContext(bad, SyncConfig::fast("node-a"))};
      CHECK(unusable.compact().is_err());
    }
    StoreEngine memory{StoreConfig::memory()};
    auto nothing = memory.compact();
    CHECK(nothing.is_ok() && nothing.value().records_folded == 0);
    remove_store(wal);
  }
} // namespace

int main()
{
  test_types();
  test_config_presets();
  test_invalid_context();
  test_store_open_failure();
  test_submit_and_batch();
  test_batch_calls();
  test_manual_queue();
  test_remote_apply_and_errors();
  test_two_engines_converge();
  test_wal_reopen_and_single_engine();
  test_retry_and_failed();
  test_scheduler();
  test_moves();
  test_plain_calls_keep_their_errors();
  test_ack_tracker();
  test_conflict_resolver();
  test_threads();
  test_compat_names();
  test_compaction();

  std::filesystem::remove("node_a.wal");
  std::filesystem::remove("node_b.wal");
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
