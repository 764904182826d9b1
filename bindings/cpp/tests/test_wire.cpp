// Tests of the C++ wire functions (bindings/cpp/include/softadastra/sync/Wire.hpp): V2 frames
// between two engines, V1 frames against the reference spec's vectors (tests/vectors/wire.txt),
// malformed input, JSON views. The last line is "<passed> passed, <failed> failed".

#include <softadastra/store/Store.hpp>
#include <softadastra/sync/Sync.hpp>
#include <softadastra/sync/Wire.hpp>

#include "check.hpp"

#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

using namespace softadastra;

namespace
{
  using store::core::Operation;
  using store::core::StoreConfig;
  using store::engine::StoreEngine;
  using store::types::Key;
  using store::types::Value;
  using sync::core::SyncConfig;
  using sync::core::SyncContext;
  using sync::engine::SyncEngine;
  using sync::wire::Frame;
  using ErrorCode = core::errors::ErrorCode;

  constexpr std::uint64_t T0 = 1700000000000ULL;

  /// name -> field -> value, from tests/vectors/wire.txt (found next to this source).
  std::map<std::string, std::map<std::string, std::string>> load_vectors()
  {
    std::string path = __FILE__;
    path = path.substr(0, path.rfind('/')) + "/../../../tests/vectors/wire.txt";
    std::ifstream in(path);
    std::map<std::string, std::map<std::string, std::string>> out;
    std::string line;
    std::string current;
    while (std::getline(in, line))
    {
      if (line.empty() || line[0] == '#')
      {
        continue;
      }
      if (line[0] == '[')
      {
        current = line.substr(1, line.find(']') - 1);
        continue;
      }
      const auto eq = line.find(" = ");
      if (eq != std::string::npos)
      {
        out[current][line.substr(0, eq)] = line.substr(eq + 3);
      }
    }
    return out;
  }

  Frame from_hex(const std::string &hex)
  {
    Frame out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    {
      out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
  }

  bool contains(const std::string &text, const std::string &needle) { return text.find(needle) != std::string::npos; }

  struct Node
  {
    StoreEngine store;
    SyncEngine engine;
    core::time::ManualClock clock{T0};

    explicit Node(const std::string &id)
        : store(StoreConfig::memory()), engine(SyncContext{store, SyncConfig::durable(id)})
    {
      engine.set_clock(clock);
    }
  };

  void test_v2_between_engines()
  {
    Node a{"node-a"};
    Node b{"node-b"};
    CHECK(a.engine.submit_local_operation(Operation::put(Key{"user:1"}, Value::from_string("Gaspard"))).is_ok());
    CHECK(a.engine.submit_local_operation(Operation::put(Key{"user:2"}, Value::from_string("Ada"))).is_ok());
    auto sent = sync::wire::next_batch_frame(a.engine);
    CHECK(sent.is_ok());
    if (!sent)
    {
      return;
    }
    CHECK(sent.value().batch.size() == 2);
    const Frame &frame = sent.value().frame;
    CHECK(frame.size() > SA_WIRE_HEADER_BYTES && frame[4] == SA_WIRE_FORMAT_VERSION);
    auto report = sync::wire::receive_frame(b.engine, frame);
    CHECK(report.is_ok());
    if (!report)
    {
      return;
    }
    CHECK(report.value().applied == 2 && report.value().invalid == 0);
    auto stored = b.store.get(Key{"user:2"});
    CHECK(stored.has_value() && stored->value.to_string() == "Ada");
    auto acked = sync::wire::ack_frame(a.engine, report.value().ack);
    CHECK(acked.is_ok() && acked.value() == 2);

    Frame bad = frame;
    bad[4] = 9;
    auto refused = sync::wire::receive_frame(b.engine, bad);
    CHECK(refused.is_err() && refused.error().code() == ErrorCode::MalformedFrame);
    CHECK(refused.is_err() && contains(refused.error().message(), "unsupported wire format version 9"));
    Frame truncated(frame.begin(), frame.end() - 1);
    CHECK(sync::wire::receive_frame(b.engine, truncated).is_err());
    CHECK(sync::wire::ack_frame(a.engine, frame).is_err());

    // One invalid operation (version 0) is reported and the frame still succeeds.
    Frame invalid = frame;
    const std::size_t at = SA_WIRE_HEADER_BYTES + 4 + (4 + 8) + (4 + 6);
    CHECK(invalid[at] == 1);
    invalid[at] = 0;
    auto partial = sync::wire::receive_frame(b.engine, invalid);
    CHECK(partial.is_ok() && partial.value().invalid == 1 && partial.value().errors.size() == 1);
    if (partial && partial.value().errors.size() == 1)
    {
      CHECK(partial.value().errors[0].index == 0 && partial.value().errors[0].sync_id == "node-a-1");
      CHECK(contains(partial.value().errors[0].message, "version 0"));
    }

    auto state = sync::wire::state_json(a.engine);
    CHECK(state.is_ok() && contains(state.value(), "\"acknowledged_count\":2"));
    auto outbox = sync::wire::outbox_json(a.engine);
    CHECK(outbox.is_ok() && contains(outbox.value(), "\"value_hex\":\"416461\""));
  }

  void test_v1_vectors()
  {
    auto vectors = load_vectors();
    CHECK(vectors.count("v1_sync_batch") == 1);
    Node a{"node-a"};
    Node b{"node-b"};
    CHECK(a.engine.submit_local_operation(Operation::put(Key{"user:1"}, Value::from_string("Gaspard"))).is_ok());
    auto batch = a.engine.next_batch();
    CHECK(batch.size() == 1);
    if (batch.size() != 1)
    {
      return;
    }
    auto frame = sync::wire::v1_frame_for_envelope(batch[0], "node-b");
    CHECK(frame.is_ok() && frame.value() == from_hex(vectors["v1_sync_batch"]["hex"]));
    CHECK(frame.is_ok() && frame.value().size() == 87);
    auto reply = sync::wire::handle_v1_frame(b.engine, frame.value());
    CHECK(reply.is_ok() && reply.value() == from_hex(vectors["v1_ack"]["hex"]));
    auto none = sync::wire::handle_v1_frame(a.engine, reply.value());
    CHECK(none.is_ok() && none.value().empty());
    CHECK(a.engine.state().acknowledged_count == 1);
    auto hello = sync::wire::v1_hello_frame("node-a");
    CHECK(hello.is_ok() && hello.value() == from_hex(vectors["v1_hello"]["hex"]));
    auto bad_id = sync::wire::v1_hello_frame("bad id");
    CHECK(bad_id.is_err() && bad_id.error().code() == ErrorCode::InvalidNodeId);
    Frame garbage{0xff, 0xff, 0xff, 0xff, 0x02};
    auto refused = sync::wire::handle_v1_frame(b.engine, garbage);
    CHECK(refused.is_err() && refused.error().code() == ErrorCode::MalformedFrame);
  }

  // A node given the sender's id refuses its operations in V2 (reported) and V1 (an error).
  void test_own_node_id_is_refused()
  {
    Node a{"node-a"};
    Node twin{"node-a"};
    CHECK(a.engine.submit_local_operation(Operation::put(Key{"k"}, Value::from_string("v"))).is_ok());
    auto batch = a.engine.next_batch();
    CHECK(batch.size() == 1);
    if (batch.size() != 1)
    {
      return;
    }
    auto frame = sync::wire::v1_frame_for_envelope(batch[0], "node-a");
    CHECK(frame.is_ok());
    if (!frame)
    {
      return;
    }
    auto refused = sync::wire::handle_v1_frame(twin.engine, frame.value());
    CHECK(refused.is_err() && refused.error().code() == ErrorCode::InvalidRemoteOperation);
    CHECK(refused.is_err() && contains(refused.error().message(), "origin node-a is this node's own id"));
    Node c{"node-c"};
    CHECK(c.engine.submit_local_operation(Operation::put(Key{"k"}, Value::from_string("v"))).is_ok());
    auto from_c = sync::wire::next_batch_frame(c.engine);
    CHECK(from_c.is_ok());
    if (!from_c)
    {
      return;
    }
    Node twin_c{"node-c"};
    auto report = sync::wire::receive_frame(twin_c.engine, from_c.value().frame);
    CHECK(report.is_ok() && report.value().invalid == 1 && report.value().applied == 0 &&
          report.value().duplicate == 0);
    if (report && report.value().errors.size() == 1)
    {
      CHECK(contains(report.value().errors[0].message, "origin node-c is this node's own id"));
    }
    CHECK(!twin_c.store.get(Key{"k"}).has_value());
  }
} // namespace

int main()
{
  test_v2_between_engines();
  test_v1_vectors();
  test_own_node_id_is_refused();
  return check::summary();
}
