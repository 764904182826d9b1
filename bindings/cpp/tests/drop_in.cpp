// Drop-in names: a program written against the C++ module's API (not only the doc's examples)
// compiles unchanged against this wrapper. Each name below once differed from the C++ module:
//   store::core::StoreConfig::memory_only()       (ours was only memory())
//   sync::core::SyncConfig::fast(node).batch_size  128, as the C++ module's fast preset
//   sync::core::SyncOperation::timestamp           a core::time::Timestamp (milliseconds)
//   sync::core::SyncConfig() / SyncConfig(node)    the C++ module's constructors
// The last line of its output is "<passed> passed, <failed> failed"; it exits 0 only if none
// failed.

#include <softadastra/store/Store.hpp>
#include <softadastra/sync/Sync.hpp>

#include "check.hpp"

#include <cstdint>
#include <iostream>
#include <string>
#include <type_traits>

using namespace softadastra;

namespace
{
  constexpr std::uint64_t T0 = 1700000000000ULL;
} // namespace

int main()
{
  // StoreConfig::memory_only(): a store without a WAL, as memory().
  store::engine::StoreEngine store{store::core::StoreConfig::memory_only()};
  CHECK(store.is_open());
  CHECK(!store::core::StoreConfig::memory_only().enable_wal);
  CHECK(store::core::StoreConfig::memory_only().wal_path == store::core::StoreConfig::memory().wal_path);

  // SyncConfig::fast batches 128 operations, as the C++ module's fast preset.
  auto config = sync::core::SyncConfig::fast("node-a");
  CHECK(config.batch_size == 128);

  // The C++ module's constructors.
  const sync::core::SyncConfig default_config;
  CHECK(default_config.node_id == "node-1");
  CHECK(default_config.require_ack);
  const sync::core::SyncConfig named{"node-b"};
  CHECK(named.node_id == "node-b");
  CHECK(named.batch_size == sync::core::SyncConfig::durable("node-b").batch_size);

  // SyncOperation::timestamp is a Timestamp in milliseconds.
  static_assert(std::is_same_v<decltype(sync::core::SyncOperation::timestamp), core::time::Timestamp>);
  static_assert(std::is_same_v<core::time::Timestamp::rep, std::int64_t>);
  core::time::ManualClock clock{T0};
  sync::core::SyncContext context{store, config};
  sync::engine::SyncEngine engine{context};
  CHECK(engine.set_clock(clock).is_ok());
  auto submitted = engine.submit_local_operation(
      store::core::Operation::put(store::types::Key{"bench:1"}, store::types::Value::from_string("v")));
  CHECK(submitted.is_ok());
  if (submitted.is_ok())
  {
    const core::time::Timestamp at = submitted.value().timestamp;
    CHECK(at.is_valid());
    CHECK(at.millis() == static_cast<core::time::Timestamp::rep>(T0));
    CHECK(at.value() == at.millis());
    CHECK(at == core::time::Timestamp::from_stamp(submitted.value().operation.timestamp));
  }
  auto batch = engine.next_batch();
  CHECK(batch.size() == 1);
  for (const auto &envelope : batch)
  {
    CHECK(envelope.operation.timestamp == core::time::Timestamp::from_millis(static_cast<std::int64_t>(T0)));
  }
  auto remote = sync::core::SyncOperation::remote(
      "node-z-1", "node-z", 1,
      store::core::Operation::put(store::types::Key{"bench:2"}, store::types::Value::from_string("w")));
  CHECK(remote.timestamp.is_valid()); // made now, as in the C++ module
  CHECK(core::time::Timestamp() < remote.timestamp);

  return check::summary();
}
