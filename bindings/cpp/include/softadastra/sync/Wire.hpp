/*
 * softadastra-sync C++ binding: operations on the wire (docs/wire-format.md), header-only, over
 * the C ABI.
 *
 *   softadastra::sync::wire   Frame (bytes), ReceiveReport, OperationError,
 *                             next_batch_frame, receive_frame, ack_frame,
 *                             v1_hello_frame, v1_frame_for_envelope, handle_v1_frame,
 *                             state_json, outbox_json
 *
 * Every function returns a core::types::Result whose error carries the library's code
 * (MalformedFrame for bytes that are not a valid frame: nothing was applied) and message.
 * Buffers the library hands out are copied into std::vector and freed at once.
 */
#ifndef SOFTADASTRA_CPP_WIRE_HPP
#define SOFTADASTRA_CPP_WIRE_HPP

#include <softadastra/sync/Sync.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace softadastra::sync::wire
{
  /// Encoded bytes: one V2 or V1 frame (possibly empty for "no reply").
  using Frame = std::vector<std::uint8_t>;

  /// One refused operation of a received frame.
  struct OperationError
  {
    std::size_t index{0};
    std::string sync_id{};
    std::string message{};
  };

  /// What receive_frame did; `ack` is the V2 ACK frame to send back.
  struct ReceiveReport
  {
    std::size_t applied{0};
    std::size_t ignored{0};
    std::size_t duplicate{0};
    std::size_t invalid{0};
    std::vector<OperationError> errors{};
    Frame ack{};
  };

  /// A batch and the V2 operations frame carrying it.
  struct BatchFrame
  {
    core::SyncBatch batch{};
    Frame frame{};
  };

  namespace detail
  {
    /// Copies an sa_buf into a Frame and frees it.
    inline Frame take(sa_buf &buf)
    {
      Frame out(buf.ptr, buf.ptr + buf.len);
      sa_buf_free(&buf);
      return out;
    }

    /// Runs `call(&buf)`; the copied bytes, or the call's error.
    template <typename Call>
    ::softadastra::sync::detail::Result<Frame> buffer_call(Call call)
    {
      using R = ::softadastra::sync::detail::Result<Frame>;
      sa_buf buf{nullptr, 0};
      const sa_status status = call(&buf);
      if (status != SA_OK)
      {
        return R::err(::softadastra::sync::detail::last_error(status));
      }
      return R::ok(take(buf));
    }

    inline ::softadastra::sync::detail::Error unusable()
    {
      return ::softadastra::sync::detail::Error(::softadastra::sync::detail::ErrorCode::InvalidArgument,
                                                "the sync engine is not usable");
    }

    inline std::string text(const Frame &bytes) { return std::string(bytes.begin(), bytes.end()); }
  } // namespace detail

  template <typename T>
  using Result = ::softadastra::sync::detail::Result<T>;

  /// Takes the next batch (as engine.next_batch()) together with its V2 operations frame.
  inline Result<BatchFrame> next_batch_frame(engine::SyncEngine &engine)
  {
    using R = Result<BatchFrame>;
    if (engine.handle() == nullptr)
    {
      return R::err(detail::unusable());
    }
    sa_batch *batch = nullptr;
    sa_status status = sa_sync_next_batch(engine.handle(), &batch);
    if (status != SA_OK)
    {
      return R::err(::softadastra::sync::detail::last_error(status));
    }
    sa_buf buf{nullptr, 0};
    status = sa_batch_encode(batch, &buf);
    if (status != SA_OK)
    {
      auto error = ::softadastra::sync::detail::last_error(status);
      sa_batch_free(batch);
      return R::err(error);
    }
    BatchFrame out;
    out.frame = detail::take(buf);
    out.batch = core::SyncBatch::take(batch);
    return R::ok(std::move(out));
  }

  /// Applies every valid operation of a V2 operations frame; the report lists refused ones
  /// and carries the ACK frame to send back. Errors: MalformedFrame (nothing applied), Io.
  inline Result<ReceiveReport> receive_frame(const engine::SyncEngine &engine, const Frame &frame)
  {
    using R = Result<ReceiveReport>;
    if (engine.handle() == nullptr)
    {
      return R::err(detail::unusable());
    }
    sa_receive_report report{};
    report.struct_size = sizeof report;
    sa_buf ack{nullptr, 0};
    const sa_status status = sa_sync_receive_frame(engine.handle(), frame.data(), frame.size(), &report, &ack);
    if (status != SA_OK)
    {
      return R::err(::softadastra::sync::detail::last_error(status));
    }
    ReceiveReport out;
    out.applied = report.applied;
    out.ignored = report.ignored;
    out.duplicate = report.duplicate;
    out.invalid = report.invalid;
    out.ack = detail::take(ack);
    for (std::size_t i = 0; i < report.invalid; ++i)
    {
      sa_operation_error e{};
      e.struct_size = sizeof e;
      if (sa_last_receive_error(i, &e) == SA_OK)
      {
        out.errors.push_back({e.index, ::softadastra::sync::detail::copy(e.sync_id),
                              ::softadastra::sync::detail::copy(e.message)});
      }
    }
    return R::ok(std::move(out));
  }

  /// Acknowledges every id of a V2 ACK frame; how many became acknowledged.
  inline Result<std::size_t> ack_frame(const engine::SyncEngine &engine, const Frame &frame)
  {
    using R = Result<std::size_t>;
    if (engine.handle() == nullptr)
    {
      return R::err(detail::unusable());
    }
    std::size_t acknowledged = 0;
    const sa_status status = sa_sync_ack_frame(engine.handle(), frame.data(), frame.size(), &acknowledged);
    if (status != SA_OK)
    {
      return R::err(::softadastra::sync::detail::last_error(status));
    }
    return R::ok(acknowledged);
  }

  /// The V1 Hello frame a node sends after connecting to a C++ node.
  inline Result<Frame> v1_hello_frame(const std::string &node_id)
  {
    if (::softadastra::sync::detail::has_nul(node_id))
    {
      return Result<Frame>::err(::softadastra::sync::detail::Error(
          ::softadastra::sync::detail::ErrorCode::InvalidNodeId, "node_id contains a NUL character"));
    }
    return detail::buffer_call([&](sa_buf *out) { return sa_v1_hello_frame(node_id.c_str(), out); });
  }

  /// The V1 SyncBatch frame carrying `envelope` to the C++ node `to_node_id` (stamp
  /// milliseconds only, no replaced write: see docs/wire-format.md).
  inline Result<Frame> v1_frame_for_envelope(const core::SyncEnvelope &envelope, const std::string &to_node_id)
  {
    const core::SyncOperation &op = envelope.operation;
    const std::string &key = op.operation.key.str();
    const std::string &value = op.operation.value.str();
    sa_envelope_view view{};
    view.struct_size = sizeof view;
    view.sync_id = sa_str{op.sync_id.c_str(), op.sync_id.size()};
    view.origin = sa_str{op.origin_node_id.c_str(), op.origin_node_id.size()};
    view.version = op.version;
    view.stamp = op.operation.timestamp;
    view.op_type = static_cast<std::int32_t>(op.operation.type);
    view.key = sa_str{key.c_str(), key.size()};
    view.value = sa_bytes{reinterpret_cast<const std::uint8_t *>(value.data()), value.size()};
    view.status = static_cast<std::int32_t>(envelope.status);
    view.retry_count = envelope.retry_count;
    view.replaces_origin = sa_str{"", 0};
    return detail::buffer_call([&](sa_buf *out) { return sa_v1_frame_for_envelope(&view, to_node_id.c_str(), out); });
  }

  /// Handles one complete V1 frame like the C++ dispatcher; the reply frame (empty when none).
  inline Result<Frame> handle_v1_frame(const engine::SyncEngine &engine, const Frame &frame)
  {
    if (engine.handle() == nullptr)
    {
      return Result<Frame>::err(detail::unusable());
    }
    return detail::buffer_call(
        [&](sa_buf *out) { return sa_sync_handle_v1_frame(engine.handle(), frame.data(), frame.size(), out); });
  }

  /// The engine's counters as a JSON object (field names in the README).
  inline Result<std::string> state_json(const engine::SyncEngine &engine)
  {
    if (engine.handle() == nullptr)
    {
      return Result<std::string>::err(detail::unusable());
    }
    auto bytes = detail::buffer_call([&](sa_buf *out) { return sa_sync_state_json(engine.handle(), out); });
    if (bytes.is_err())
    {
      return Result<std::string>::err(bytes.error());
    }
    return Result<std::string>::ok(detail::text(bytes.value()));
  }

  /// Every outbox entry as a JSON array (values in "value_hex").
  inline Result<std::string> outbox_json(const engine::SyncEngine &engine)
  {
    if (engine.handle() == nullptr)
    {
      return Result<std::string>::err(detail::unusable());
    }
    auto bytes = detail::buffer_call([&](sa_buf *out) { return sa_sync_outbox_json(engine.handle(), out); });
    if (bytes.is_err())
    {
      return Result<std::string>::err(bytes.error());
    }
    return Result<std::string>::ok(detail::text(bytes.value()));
  }
} // namespace softadastra::sync::wire

#endif
