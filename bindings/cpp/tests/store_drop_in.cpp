// The store used directly, as a program written against the C++ module's StoreEngine does:
//   StoreEngine::put / remove / apply_operation -> ApplyResult{success, version, created,
//   updated, deleted}; StoreEngine::get -> std::optional<Entry>; StoreEngine::entries().
// The first part uses only those names, so it compiles against the C++ module too and switches
// by relinking. The rest checks this wrapper's additions: scan(prefix), keys(prefix), errors
// kept in last_error(), and that direct writes are local (not sync work).
// The last line of its output is "<passed> passed, <failed> failed"; it exits 0 only if none
// failed.

#include <softadastra/store/Store.hpp>
#include <softadastra/sync/Sync.hpp>

#include "check.hpp"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace
{
  // Written against the C++ module's API only.
  void module_program(const std::string &wal_path)
  {
    using namespace softadastra::store;
    core::StoreConfig config;
    config.wal_path = wal_path;
    engine::StoreEngine store(config);

    types::Key key{"user"};
    auto r1 = store.put(key, types::Value::from_string("Gaspard"));
    CHECK(r1.success);
    CHECK(r1.created);
    CHECK(!r1.updated && !r1.deleted);

    auto entry = store.get(key);
    CHECK(entry.has_value());
    CHECK(entry.has_value() && entry->value.size() == 7);
    CHECK(entry.has_value() && entry->version == r1.version);

    core::Operation op;
    op.type = types::OperationType::Put;
    op.key = key;
    op.value = types::Value::from_string("Ada");
    engine::ApplyResult r2 = store.apply_operation(op);
    CHECK(r2.success && r2.updated);
    CHECK(r2.version > r1.version);

    store.put(types::Key{"other"}, types::Value::from_string("x"));
    std::size_t seen = 0;
    for (const auto &[name, e] : store.entries())
    {
      CHECK(name == e.key.str());
      ++seen;
    }
    CHECK(seen == 2);

    auto r3 = store.remove(key);
    CHECK(r3.success);
    CHECK(r3.deleted);
    CHECK(!store.get(key).has_value());
  }
} // namespace

int main()
{
  using namespace softadastra;
  const std::string wal = "store_drop_in_test.wal";
  std::remove(wal.c_str());
  module_program(wal);

  {
    // Direct writes survived the restart.
    store::engine::StoreEngine store{store::core::StoreConfig::durable(wal)};
    CHECK(store.is_open());
    CHECK(!store.contains(store::types::Key{"user"}));
    CHECK(store.get(store::types::Key{"other"}).has_value());
    CHECK(store.size() == 1);
  }
  std::remove(wal.c_str());

  store::engine::StoreEngine store{store::core::StoreConfig::memory()};
  for (const char *k : {"user:2", "order:1", "user:10", "user:1", "users"})
  {
    CHECK(store.put(store::types::Key{k}, store::types::Value::from_string(k)).success);
  }
  CHECK(store.remove(store::types::Key{"user:2"}).success);

  // scan(prefix): sorted, deleted keys skipped, every field filled.
  std::vector<std::string> names;
  for (const auto &entry : store.scan("user:"))
  {
    names.push_back(entry.key.str());
    CHECK(entry.value.str() == entry.key.str());
    CHECK(entry.version > 0 && entry.timestamp > 0 && entry.origin.empty());
  }
  CHECK((names == std::vector<std::string>{"user:1", "user:10"}));
  const auto all = store.keys();
  CHECK(all.size() == 4 && all.front().str() == "order:1" && all.back().str() == "users");
  CHECK(store.keys("nothing").empty());
  auto range = store.scan("order:");
  auto first = range.next();
  CHECK(first.has_value() && first->key.str() == "order:1");
  CHECK(!range.next().has_value() && !range.error().has_value());

  // Writes while iterating are safe; keys come once, in order.
  std::string last;
  bool ordered = true;
  int steps = 0;
  for (const auto &entry : store.scan())
  {
    ordered = ordered && last < entry.key.str();
    last = entry.key.str();
    store.put(store::types::Key{last + "+"}, store::types::Value::from_string("new"));
    store.remove(store::types::Key{"users"});
    ++steps;
  }
  CHECK(ordered && steps >= 3);

  // Refused writes: success false, nothing changed, the error kept in last_error().
  const std::size_t size_before = store.size();
  store.clear_last_error();
  auto bad = store.put(store::types::Key{""}, store::types::Value::from_string("v"));
  CHECK(!bad.success);
  CHECK(store.last_error().has_value() &&
        store.last_error()->code() == core::errors::ErrorCode::InvalidOperation);
  store::core::Operation unknown;
  unknown.key = store::types::Key{"k"};
  CHECK(!store.apply_operation(unknown).success);
  auto delete_with_value = store::core::Operation::remove(store::types::Key{"order:1"});
  delete_with_value.value = store::types::Value::from_string("v");
  auto refused = store.try_apply(delete_with_value);
  CHECK(refused.is_err() && refused.error().message().find("carries a 1-byte value") != std::string::npos);
  CHECK(store.try_apply(store::core::Operation::put(store::types::Key{std::string("a\0b", 3)},
                                                     store::types::Value::from_string("v")))
            .is_err());
  CHECK(store.try_apply(store::core::Operation::put(store::types::Key{std::string("ab\xff")},
                                                     store::types::Value::from_string("v")))
            .is_err());
  CHECK(store.size() == size_before);
  auto nul_prefix = store.scan(std::string("a\0", 2));
  CHECK(nul_prefix.begin() == nul_prefix.end() && nul_prefix.error().has_value());

  // Direct writes are local: the sync engine on the same store has nothing to send.
  auto config = sync::core::SyncConfig::fast("node-a");
  sync::core::SyncContext context{store, config};
  sync::engine::SyncEngine engine{context};
  CHECK(store.put(store::types::Key{"direct"}, store::types::Value::from_string("v")).success);
  CHECK(engine.state().outbox_size == 0);

  // A moved-from store refuses writes without crashing.
  store::engine::StoreEngine moved = std::move(store);
  CHECK(!store.put(store::types::Key{"k"}, store::types::Value::from_string("v")).success);
  auto closed = store.scan();
  CHECK(closed.begin() == closed.end() && closed.error().has_value());
  CHECK(moved.put(store::types::Key{"k"}, store::types::Value::from_string("v")).success);

  return check::summary();
}
