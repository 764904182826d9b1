/*
 * softadastra-sync C++ binding: the sync API of the module doc, header-only, over the C ABI
 * (<softadastra/sync.h>). Link with -lsoftadastra_sync.
 *
 *   softadastra::sync::types       ConflictPolicy, SyncStatus, RemoteOutcome, AckOutcome,
 *                                  ResolutionReason, Durability
 *   softadastra::sync::core        SyncConfig, SyncContext, SyncOperation, SyncEnvelope,
 *                                  SyncState, SyncBatch, RemoteApplyResult, WriteId
 *   softadastra::sync::engine      SyncEngine              (RAII over sa_sync)
 *   softadastra::sync::scheduler   SyncScheduler, TickResult
 *   softadastra::sync::ack         AckTracker              (RAII over sa_ack_tracker)
 *   softadastra::sync::conflict    ConflictResolver, Resolution
 *
 * Ownership: every C handle is owned by exactly one C++ object, through a std::unique_ptr
 * whose deleter is the handle's sa_*_free; the owning types are move-only (a moved-from
 * object reports "handle is empty (moved from)" errors). Batches are copied out of their C handle (which is freed
 * at once), so a SyncEnvelope / SyncOperation owns all its fields: the SyncOperation of an
 * envelope can be handed as is to another engine's receive_remote_operation (stamp, origin,
 * version and the write it replaced travel with it).
 *
 * Errors: fallible calls return core::types::Result (is_ok / is_err / value / error), whose
 * error carries the library's code and the message of sa_last_error_message(), captured at
 * once. Calls the module doc uses with plain return types keep them (next_batch returns a
 * SyncBatch that also carries an error, retry_expired / prune_* return counts, state()
 * returns a SyncState); their errors are never dropped: each is kept in the object's
 * last_error() until clear_last_error(), and the try_* variants return a Result.
 *
 * Exceptions: none, except Result::value()/error() on the wrong alternative (logic_error)
 * and std::bad_alloc. Constructors do not throw: a SyncEngine that could not be created
 * (invalid context, store already in use, ...) reports is_valid() == false, error() says
 * why, and every call on it returns that error (counts are 0, batches are empty with an
 * error, state() is all zeros). The doc checks SyncContext::is_valid() before building the
 * engine; that check covers the node id, every config field and the store.
 *
 * Threads: the C handles are thread-safe and the only mutable state of a wrapper object is
 * its last_error() (behind a mutex), so several threads may call methods on one SyncEngine /
 * AckTracker / StoreEngine at once; only moving, assigning or destroying an object must not
 * race with other calls.
 */
#ifndef SOFTADASTRA_CPP_SYNC_HPP
#define SOFTADASTRA_CPP_SYNC_HPP

#include <softadastra/sync.h>

#include <softadastra/core/Core.hpp>
#include <softadastra/store/Store.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace softadastra::sync
{
  /// The library version, e.g. "0.2.0".
  inline const char *version() noexcept { return sa_version(); }

  /// Implementation details; not part of the API.
  namespace detail
  {
    using Duration = ::softadastra::core::time::Duration;
    using Timestamp = ::softadastra::core::time::Timestamp;
    using ManualClock = ::softadastra::core::time::ManualClock;
    using Error = ::softadastra::core::errors::Error;
    using ErrorCode = ::softadastra::core::errors::ErrorCode;
    template <typename T>
    using Result = ::softadastra::core::types::Result<T>;
    using StoreEngine = ::softadastra::store::engine::StoreEngine;
    using Operation = ::softadastra::store::core::Operation;
    using Entry = ::softadastra::store::core::Entry;
    using Key = ::softadastra::store::types::Key;
    using Value = ::softadastra::store::types::Value;
    using OperationType = ::softadastra::store::types::OperationType;

    using ::softadastra::detail::from_ms;
    using ::softadastra::detail::has_nul;
    using ::softadastra::detail::last_error;
    using ::softadastra::detail::nul_error;
    using ::softadastra::detail::to_ms;

    /// A borrowed C string view as an owned std::string.
    inline std::string copy(sa_str s) { return s.ptr == nullptr ? std::string() : std::string(s.ptr, s.len); }

    /// A NUL-terminated buffer of at most `size` bytes as a std::string.
    inline std::string copy_buffer(const char *buffer, std::size_t size)
    {
      const void *nul = std::memchr(buffer, '\0', size);
      return std::string(buffer, nul == nullptr ? size : static_cast<std::size_t>(static_cast<const char *>(nul) - buffer));
    }
  } // namespace detail
} // namespace softadastra::sync

namespace softadastra::sync::types
{
  /// How a conflict (a remote write concurrent with the local one) is decided.
  enum class ConflictPolicy : std::int32_t
  {
    Unknown = 0,
    /// The greater (stamp, origin node id) wins: every node reaches the same value.
    LastWriteWins = SA_POLICY_LAST_WRITE_WINS,
    /// The local value is kept.
    KeepLocal = SA_POLICY_KEEP_LOCAL,
    /// The remote value is applied.
    KeepRemote = SA_POLICY_KEEP_REMOTE,
    /// The module doc's name for KeepRemote.
    ApplyRemote = SA_POLICY_KEEP_REMOTE,
  };

  inline const char *to_string(ConflictPolicy policy) noexcept
  {
    switch (policy)
    {
    case ConflictPolicy::LastWriteWins:
      return "last-write-wins";
    case ConflictPolicy::KeepLocal:
      return "keep-local";
    case ConflictPolicy::KeepRemote:
      return "keep-remote";
    default:
      return "unknown";
    }
  }

  /// Where an operation stands in the outbox.
  enum class SyncStatus : std::int32_t
  {
    Unknown = 0,
    Pending = SA_STATUS_PENDING,
    Queued = SA_STATUS_QUEUED,
    InFlight = SA_STATUS_IN_FLIGHT,
    Acknowledged = SA_STATUS_ACKNOWLEDGED,
    Failed = SA_STATUS_FAILED,
  };

  inline const char *to_string(SyncStatus status) noexcept
  {
    switch (status)
    {
    case SyncStatus::Pending:
      return "pending";
    case SyncStatus::Queued:
      return "queued";
    case SyncStatus::InFlight:
      return "in-flight";
    case SyncStatus::Acknowledged:
      return "acknowledged";
    case SyncStatus::Failed:
      return "failed";
    default:
      return "unknown";
    }
  }

  /// What receiving a remote operation did.
  enum class RemoteOutcome : std::int32_t
  {
    Applied = SA_APPLIED,
    Ignored = SA_IGNORED,
    Duplicate = SA_DUPLICATE,
  };

  /// What an ACK did.
  enum class AckOutcome : std::int32_t
  {
    Acknowledged = SA_ACK_ACKNOWLEDGED,
    AlreadyAcknowledged = SA_ACK_ALREADY_ACKNOWLEDGED,
  };

  /// Why a conflict resolution came out as it did.
  enum class ResolutionReason : std::int32_t
  {
    /// No reason (a duplicate caught by deduplication, or an error).
    None = 0,
    NoLocalEntry = SA_REASON_NO_LOCAL_ENTRY,
    SameWrite = SA_REASON_SAME_WRITE,
    CausalSuccessor = SA_REASON_CAUSAL_SUCCESSOR,
    SameOriginNewer = SA_REASON_SAME_ORIGIN_NEWER,
    SameOriginOlder = SA_REASON_SAME_ORIGIN_OLDER,
    RemoteWins = SA_REASON_REMOTE_WINS,
    LocalWins = SA_REASON_LOCAL_WINS,
    PolicyKeepLocal = SA_REASON_POLICY_KEEP_LOCAL,
    PolicyKeepRemote = SA_REASON_POLICY_KEEP_REMOTE,
  };

  using Durability = ::softadastra::store::types::Durability;
} // namespace softadastra::sync::types

namespace softadastra::sync::core
{
  /// Sync settings. Start from durable(node) or fast(node), then change fields. Every preset
  /// value (batch size, retries, timeouts, caps) comes from the library
  /// (sa_sync_config_durable / sa_sync_config_fast): none is written here.
  struct SyncConfig
  {
    /// This node's id: 1–256 bytes of UTF-8, no whitespace or control characters.
    std::string node_id{};
    /// When a submitted write returns: on disk (Durable) or handed to the OS (Fast).
    types::Durability durability{};
    /// Queue operations as they are submitted (otherwise call queue_operation).
    bool auto_queue{};
    /// Keep sent operations in flight until acknowledged.
    bool require_ack{};
    /// How long a sent operation waits for its ACK.
    detail::Duration ack_timeout{};
    /// Wait before the first re-send; each later re-send waits twice as long, up to
    /// retry_backoff_max.
    detail::Duration retry_interval{};
    /// The longest wait between two re-sends.
    detail::Duration retry_backoff_max{};
    /// Re-sends allowed after the first send; past that an expired operation is failed.
    std::uint32_t max_retries{};
    types::ConflictPolicy conflict_policy{};
    /// Most operations per batch (1–65536).
    std::size_t batch_size{};
    /// Most operations the outbox holds (acknowledged ones count until pruned).
    std::uint64_t max_outbox_operations{};
    /// Most key + value bytes the outbox holds.
    std::uint64_t max_outbox_bytes{};
    /// Remote stamps further ahead of the local clock are rejected.
    detail::Duration max_clock_skew{};

    /// The C++ module's default: node "node-1" with the durable preset.
    SyncConfig() : SyncConfig(std::string("node-1")) {}

    /// The durable preset for `local_node_id` (as the C++ module's SyncConfig(node_id)).
    explicit SyncConfig(std::string local_node_id) : SyncConfig(durable(std::move(local_node_id))) {}

    /// Writes on disk before they return, ACKs required (the library's durable preset).
    static SyncConfig durable(std::string node_id) { return preset(std::move(node_id), &sa_sync_config_durable); }

    /// Writes handed to the OS before they return, no ACKs required, larger batches (the
    /// library's fast preset).
    static SyncConfig fast(std::string node_id) { return preset(std::move(node_id), &sa_sync_config_fast); }

    /// The same settings as a C struct.
    static SyncConfig from_c(const sa_sync_config &c) { return SyncConfig(c); }

    /// These settings as a C struct for sa_sync_new. Fails for a node id the library rejects
    /// and for values the C struct cannot hold (negative durations, a batch_size over 32
    /// bits); the other fields are checked by validate() and by the library.
    detail::Result<sa_sync_config> to_c() const
    {
      using R = detail::Result<sa_sync_config>;
      if (detail::has_nul(node_id))
      {
        return R::err(detail::nul_error(detail::ErrorCode::InvalidNodeId, "node id", node_id));
      }
      sa_sync_config c{};
      c.struct_size = sizeof c; // the size this wrapper was compiled with
      const sa_status status = sa_sync_config_durable(node_id.c_str(), &c);
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      const std::pair<const char *, detail::Duration> durations[] = {
          {"ack_timeout", ack_timeout},
          {"retry_interval", retry_interval},
          {"retry_backoff_max", retry_backoff_max},
          {"max_clock_skew", max_clock_skew},
      };
      for (const auto &[name, d] : durations)
      {
        if (d.is_negative())
        {
          return R::err(field_error(name, "must not be negative"));
        }
      }
      if (batch_size > std::numeric_limits<std::uint32_t>::max())
      {
        return R::err(field_error("batch_size", "must be at most 65536"));
      }
      c.durability = static_cast<std::int32_t>(durability);
      c.auto_queue = auto_queue;
      c.require_ack = require_ack;
      c.ack_timeout_ms = detail::to_ms(ack_timeout);
      c.retry_interval_ms = detail::to_ms(retry_interval);
      c.retry_backoff_max_ms = detail::to_ms(retry_backoff_max);
      c.max_retries = max_retries;
      c.conflict_policy = static_cast<std::int32_t>(conflict_policy);
      c.batch_size = static_cast<std::uint32_t>(batch_size);
      c.max_outbox_operations = max_outbox_operations;
      c.max_outbox_bytes = max_outbox_bytes;
      c.max_clock_skew_ms = detail::to_ms(max_clock_skew);
      return R::ok(c);
    }

    /// Checks every field as sa_sync_new does; the error names the first bad one.
    /// The library checks every field (sa_sync_config_validate), exactly as the engine will.
    detail::Result<void> validate() const
    {
      using R = detail::Result<void>;
      auto c = to_c();
      if (c.is_err())
      {
        return R::err(c.error());
      }
      const sa_status status = sa_sync_config_validate(&c.value());
      return status == SA_OK ? R::ok() : R::err(detail::last_error(status));
    }

    bool is_valid() const { return validate().is_ok(); }

  private:
    static detail::Error field_error(const char *field, const std::string &why)
    {
      return detail::Error(detail::ErrorCode::InvalidContext,
                           std::string("invalid sync context: config field ") + field + " " + why);
    }

    explicit SyncConfig(const sa_sync_config &c)
        : node_id(detail::copy_buffer(c.node_id, sizeof c.node_id)),
          durability(static_cast<types::Durability>(c.durability)), auto_queue(c.auto_queue),
          require_ack(c.require_ack), ack_timeout(detail::from_ms(c.ack_timeout_ms)),
          retry_interval(detail::from_ms(c.retry_interval_ms)),
          retry_backoff_max(detail::from_ms(c.retry_backoff_max_ms)), max_retries(c.max_retries),
          conflict_policy(static_cast<types::ConflictPolicy>(c.conflict_policy)), batch_size(c.batch_size),
          max_outbox_operations(c.max_outbox_operations), max_outbox_bytes(c.max_outbox_bytes),
          max_clock_skew(detail::from_ms(c.max_clock_skew_ms))
    {
    }

    static SyncConfig preset(std::string node_id, sa_status (*fill)(const char *, sa_sync_config *))
    {
      // Read with a placeholder node id, so that any node id (even an invalid one, reported
      // later by validate / the engine) gets the preset's values. The call cannot fail (a
      // valid id, a non-NULL struct); if it did, the zeroed struct fails validate().
      sa_sync_config c{};
      c.struct_size = sizeof c; // the size this wrapper was compiled with
      if (fill("node", &c) != SA_OK)
      {
        c = sa_sync_config{};
      }
      SyncConfig config(c);
      config.node_id = std::move(node_id);
      return config;
    }
  };

  /// Wires a sync engine to its store and settings. The store is referenced, not owned: it
  /// must outlive the context (the engine built from it keeps the C store alive itself).
  class SyncContext
  {
  public:
    SyncContext(detail::StoreEngine &store, SyncConfig config) : store_(&store), config_(std::move(config)) {}

    /// The store is open and the config passes SyncConfig::validate().
    detail::Result<void> validate() const
    {
      using R = detail::Result<void>;
      if (store_ == nullptr || !store_->is_open())
      {
        const auto why = store_ == nullptr ? detail::Error() : store_->error();
        return R::err(detail::Error(detail::ErrorCode::InvalidContext, "store is not open: " + why.message()));
      }
      return config_.validate();
    }

    bool is_valid() const { return validate().is_ok(); }

    detail::StoreEngine &store_engine() const noexcept { return *store_; }

    const SyncConfig &config() const noexcept { return config_; }

    SyncConfig &config() noexcept { return config_; }

    const std::string &node_id() const noexcept { return config_.node_id; }

  private:
    detail::StoreEngine *store_;
    SyncConfig config_;
  };

  /// Identifies one write: its hybrid-clock stamp and its origin node (empty: a direct store
  /// write).
  struct WriteId
  {
    std::uint64_t stamp{0};
    std::string origin{};

    friend bool operator==(const WriteId &a, const WriteId &b) { return a.stamp == b.stamp && a.origin == b.origin; }
    friend bool operator!=(const WriteId &a, const WriteId &b) { return !(a == b); }
  };

  /// The propagation unit: a store operation with its sync metadata. The write's stamp (what
  /// orders it) is operation.timestamp. `timestamp` is the sync-level time in milliseconds, as
  /// in the C++ module: for an operation the library made (submit_local_operation, batches)
  /// the wall-clock time of the write's stamp; for local() / remote() the time of the call.
  /// It is informational: receive_remote_operation orders writes by operation.timestamp.
  /// `replaces` names the write this one overwrote at its origin (it lets the receiver tell a
  /// causal update from a conflict); operations from a batch carry it.
  struct SyncOperation
  {
    std::string sync_id{};
    std::string origin_node_id{};
    std::uint64_t version{0};
    detail::Operation operation{};
    detail::Timestamp timestamp{};
    std::optional<WriteId> replaces{};

    SyncOperation() = default;

    SyncOperation(std::string id, std::string origin, std::uint64_t operation_version, detail::Operation store_operation,
                  detail::Timestamp sync_timestamp = detail::Timestamp())
        : sync_id(std::move(id)), origin_node_id(std::move(origin)), version(operation_version),
          operation(std::move(store_operation)), timestamp(sync_timestamp)
    {
    }

    /// An operation received from `origin` (its stamp is store_operation.timestamp), made now.
    static SyncOperation remote(std::string id, std::string origin, std::uint64_t operation_version,
                                detail::Operation store_operation)
    {
      return SyncOperation(std::move(id), std::move(origin), operation_version, std::move(store_operation),
                           detail::Timestamp::now());
    }

    /// A local operation, made now.
    static SyncOperation local(std::string id, std::string origin, std::uint64_t operation_version,
                               detail::Operation store_operation)
    {
      return SyncOperation(std::move(id), std::move(origin), operation_version, std::move(store_operation),
                           detail::Timestamp::now());
    }

    /// The write's hybrid-clock stamp.
    std::uint64_t stamp() const noexcept { return operation.timestamp; }

    bool has_sync_id() const noexcept { return !sync_id.empty(); }

    bool has_origin() const noexcept { return !origin_node_id.empty(); }

    bool has_version() const noexcept { return version > 0; }

    /// Non-empty id and origin, a version, a valid store operation.
    bool is_valid() const noexcept
    {
      return has_sync_id() && has_origin() && has_version() && operation.is_valid();
    }
  };

  /// One outbox entry as handed out in a batch (or listed by SyncEngine::outbox()).
  struct SyncEnvelope
  {
    SyncOperation operation{};
    /// The status when the batch was made.
    types::SyncStatus status{types::SyncStatus::Unknown};
    /// Re-sends after the first send.
    std::uint32_t retry_count{0};

    bool is_pending() const noexcept { return status == types::SyncStatus::Pending; }
    bool is_queued() const noexcept { return status == types::SyncStatus::Queued; }
    bool is_in_flight() const noexcept { return status == types::SyncStatus::InFlight; }
    bool is_acknowledged() const noexcept { return status == types::SyncStatus::Acknowledged; }
    bool is_failed() const noexcept { return status == types::SyncStatus::Failed; }

    /// A copy of the view's fields (the view borrows a batch that is freed afterwards).
    static SyncEnvelope from_view(const sa_envelope_view &v)
    {
      SyncEnvelope e;
      e.operation.sync_id = detail::copy(v.sync_id);
      e.operation.origin_node_id = detail::copy(v.origin);
      e.operation.version = v.version;
      e.operation.operation.type = static_cast<detail::OperationType>(v.op_type);
      e.operation.operation.key = detail::Key(detail::copy(v.key));
      e.operation.operation.value = detail::Value::from_bytes(v.value.ptr, v.value.len);
      e.operation.operation.timestamp = v.stamp;
      e.operation.timestamp = detail::Timestamp::from_stamp(v.stamp);
      if (v.has_replaces)
      {
        e.operation.replaces = WriteId{v.replaces_stamp, detail::copy(v.replaces_origin)};
      }
      e.status = static_cast<types::SyncStatus>(v.status);
      e.retry_count = v.retry_count;
      return e;
    }
  };

  /// Every counter of the engine.
  struct SyncState
  {
    std::uint64_t outbox_size{0};
    std::uint64_t pending_count{0};
    std::uint64_t queued_count{0};
    std::uint64_t in_flight_count{0};
    std::uint64_t acknowledged_count{0};
    std::uint64_t failed_count{0};
    std::uint64_t outbox_bytes{0};
    std::uint64_t last_submitted_version{0};
    std::uint64_t last_applied_remote_version{0};
    std::uint64_t total_retries{0};
    std::uint64_t remote_applied_count{0};
    std::uint64_t remote_ignored_count{0};
    std::uint64_t remote_duplicate_count{0};
    std::uint64_t conflict_count{0};
    /// Key + value bytes of the operations not acknowledged yet.
    std::uint64_t unacknowledged_bytes{0};
    /// How long ago the oldest unacknowledged operation was submitted (0 when none).
    std::uint64_t oldest_unacknowledged_age_ms{0};

    static SyncState from_c(const sa_sync_state_info &s)
    {
      SyncState out;
      out.outbox_size = s.outbox_size;
      out.pending_count = s.pending_count;
      out.queued_count = s.queued_count;
      out.in_flight_count = s.in_flight_count;
      out.acknowledged_count = s.acknowledged_count;
      out.failed_count = s.failed_count;
      out.outbox_bytes = s.outbox_bytes;
      out.last_submitted_version = s.last_submitted_version;
      out.last_applied_remote_version = s.last_applied_remote_version;
      out.total_retries = s.total_retries;
      out.remote_applied_count = s.remote_applied_count;
      out.remote_ignored_count = s.remote_ignored_count;
      out.remote_duplicate_count = s.remote_duplicate_count;
      out.conflict_count = s.conflict_count;
      out.unacknowledged_bytes = s.unacknowledged_bytes;
      out.oldest_unacknowledged_age_ms = s.oldest_unacknowledged_age_ms;
      return out;
    }
  };

  /// A batch of envelopes (a std::vector<SyncEnvelope>, so it converts to one), plus the
  /// error of the call that made it, if any (then it is empty).
  class SyncBatch : public std::vector<SyncEnvelope>
  {
  public:
    SyncBatch() = default;

    static SyncBatch failed(detail::Error error)
    {
      SyncBatch b;
      b.error_ = std::move(error);
      return b;
    }

    /// Copies every envelope of `batch`, then frees it (it may be NULL).
    static SyncBatch take(sa_batch *batch)
    {
      const ::softadastra::detail::Handle<sa_batch, &sa_batch_free> owned(batch);
      SyncBatch out;
      const std::size_t len = sa_batch_len(owned.get());
      out.reserve(len);
      for (std::size_t i = 0; i < len; ++i)
      {
        sa_envelope_view view{};
        view.struct_size = sizeof view;
        const sa_status status = sa_batch_get(owned.get(), i, &view);
        if (status != SA_OK)
        {
          return failed(detail::last_error(status));
        }
        out.push_back(SyncEnvelope::from_view(view));
      }
      return out;
    }

    bool is_ok() const noexcept { return !error_.has_value(); }

    bool is_err() const noexcept { return error_.has_value(); }

    /// The error (an Error with code None when there is none).
    detail::Error error() const { return error_.value_or(detail::Error(detail::ErrorCode::None, "")); }

  private:
    std::optional<detail::Error> error_{};
  };

  /// What receive_remote_operation did. A duplicate delivery is not applied.
  struct RemoteApplyResult
  {
    types::RemoteOutcome outcome{types::RemoteOutcome::Ignored};
    /// The call succeeded (always true in a Result's value; kept for the C++ module's API).
    bool success{true};
    /// The remote write is now the local value.
    bool applied{false};
    /// The local write was kept.
    bool ignored{false};
    /// The operation had been received before (or is this node's own): nothing changed.
    bool duplicate{false};
    bool conflict_detected{false};
    types::ResolutionReason reason{types::ResolutionReason::None};
    /// Store version of the applied write (0 when not applied).
    std::uint64_t store_version{0};

    static RemoteApplyResult from_c(const sa_apply_result &r)
    {
      RemoteApplyResult out;
      out.outcome = static_cast<types::RemoteOutcome>(r.outcome);
      out.applied = r.outcome == SA_APPLIED;
      out.ignored = r.outcome == SA_IGNORED;
      out.duplicate = r.outcome == SA_DUPLICATE;
      out.conflict_detected = r.conflict_detected;
      out.reason = static_cast<types::ResolutionReason>(r.reason);
      out.store_version = r.store_version;
      return out;
    }
  };
} // namespace softadastra::sync::core

namespace softadastra::sync::engine
{
  /// The sync engine (RAII over sa_sync). Move-only.
  ///
  /// The constructor does not throw. If the engine cannot be built (see SyncContext::validate,
  /// or a store already serving another engine), is_valid() is false, error() gives the
  /// library's error, and every call returns that error instead of crashing.
  class SyncEngine
  {
  public:
    using SubmitResult = detail::Result<core::SyncOperation>;
    using RemoteResult = detail::Result<core::RemoteApplyResult>;

    explicit SyncEngine(const core::SyncContext &context) : config_(context.config())
    {
      const auto &store = context.store_engine();
      if (!store.is_open())
      {
        error_ = std::make_unique<const detail::Error>(detail::ErrorCode::InvalidContext,
                                                       "store is not open: " + store.error().message());
        return;
      }
      auto c = config_.to_c();
      if (c.is_err())
      {
        error_ = std::make_unique<const detail::Error>(c.error());
        return;
      }
      sa_status status = SA_OK;
      sync_ = ::softadastra::detail::make_handle<sa_sync, &sa_sync_free>(status, &sa_sync_new, store.handle(),
                                                                          &c.value());
      if (status != SA_OK)
      {
        error_ = std::make_unique<const detail::Error>(detail::last_error(status));
      }
    }

    /// The engine was built (and not moved from).
    bool is_valid() const noexcept { return sync_ != nullptr; }

    /// Why the engine was not created, as the library reported it (code None when it was).
    detail::Error error() const
    {
      if (sync_ != nullptr)
      {
        return detail::Error(detail::ErrorCode::None, "");
      }
      return error_ == nullptr ? unusable() : *error_;
    }

    /// The latest error of a call whose module-doc signature has no room for one
    /// (retry_expired, prune_completed, prune_failed, state: they then return 0 / zeros),
    /// kept until clear_last_error(), so a later success does not hide it; std::nullopt when
    /// none failed. The try_* variants return the error as a Result instead.
    std::optional<detail::Error> last_error() const { return latch_.get(); }

    void clear_last_error() noexcept { latch_.clear(); }

    /// OK when the engine is usable, else the error every call returns.
    detail::Result<void> check() const
    {
      return sync_ != nullptr ? detail::Result<void>::ok() : detail::Result<void>::err(unusable());
    }

    const std::string &node_id() const noexcept { return config_.node_id; }

    const core::SyncConfig &config() const noexcept { return config_; }

    /// Applies a local put or delete to the store and tracks it for propagation (queued at
    /// once with auto_queue). On success the value is the sync operation: its sync_id
    /// ("<node>-<version>"), version, origin and stamped store operation. On error nothing
    /// changed (an invalid key — empty, not UTF-8, with a NUL byte, over 64 KiB — is an
    /// InvalidOperation error).
    SubmitResult submit_local_operation(const detail::Operation &operation)
    {
      if (sync_ == nullptr)
      {
        return SubmitResult::err(unusable());
      }
      const std::string &key = operation.key.str();
      if (detail::has_nul(key))
      {
        return SubmitResult::err(detail::nul_error(detail::ErrorCode::InvalidOperation, "key", key));
      }
      sa_submitted submitted{};
      submitted.struct_size = sizeof submitted;
      const sa_status status = sa_sync_submit(sync_.get(), static_cast<std::int32_t>(operation.type), key.c_str(),
                                              operation.value.data(), operation.value.size(), &submitted);
      if (status != SA_OK)
      {
        return SubmitResult::err(detail::last_error(status));
      }
      return SubmitResult::ok(submitted_operation(operation, submitted));
    }

    /// Submits several operations in one call, in order: one engine lock and one WAL record
    /// (after a crash all of them are there or none; one fdatasync in durable mode). The
    /// value lists the sync operations in the same order. Any invalid operation refuses the
    /// whole call and changes nothing; the error names it ("operation 3: ...").
    detail::Result<std::vector<core::SyncOperation>> submit_local_operations(
        const std::vector<detail::Operation> &operations)
    {
      using R = detail::Result<std::vector<core::SyncOperation>>;
      if (sync_ == nullptr)
      {
        return R::err(unusable());
      }
      std::vector<sa_local_op> ops(operations.size());
      for (std::size_t i = 0; i < operations.size(); ++i)
      {
        const detail::Operation &operation = operations[i];
        const std::string &key = operation.key.str();
        if (detail::has_nul(key))
        {
          return R::err(at_operation(i, detail::nul_error(detail::ErrorCode::InvalidOperation, "key", key)));
        }
        ops[i].struct_size = sizeof(sa_local_op);
        ops[i].op_type = static_cast<std::int32_t>(operation.type);
        ops[i].key = key.c_str();
        ops[i].value = operation.value.data();
        ops[i].value_len = operation.value.size();
      }
      std::vector<sa_submitted> submitted(operations.size());
      for (sa_submitted &s : submitted)
      {
        s.struct_size = sizeof s;
      }
      const sa_status status = sa_sync_submit_many(sync_.get(), ops.data(), ops.size(), submitted.data());
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      std::vector<core::SyncOperation> out;
      out.reserve(operations.size());
      for (std::size_t i = 0; i < operations.size(); ++i)
      {
        out.push_back(submitted_operation(operations[i], submitted[i]));
      }
      return R::ok(std::move(out));
    }

    /// Queues a pending operation (submitted with auto_queue off); a queued one is left as
    /// is. Errors: NotFound ("sync operation not found: <id>"), QueueFailed (in flight,
    /// acknowledged or failed).
    detail::Result<void> queue_operation(const std::string &sync_id)
    {
      return id_call(sync_id, [](const sa_sync *s, const char *id) { return sa_sync_queue(s, id); });
    }

    /// Hands out up to batch_size queued operations, oldest first. With require_ack they are
    /// in flight until acknowledged; without, they count as acknowledged.
    core::SyncBatch next_batch()
    {
      if (sync_ == nullptr)
      {
        return core::SyncBatch::failed(unusable());
      }
      sa_batch *batch = nullptr;
      const sa_status status = sa_sync_next_batch(sync_.get(), &batch);
      if (status != SA_OK)
      {
        return core::SyncBatch::failed(detail::last_error(status));
      }
      return core::SyncBatch::take(batch);
    }

    /// Every outbox entry, oldest first, with its current status (O(outbox); changes nothing).
    core::SyncBatch outbox() const
    {
      if (sync_ == nullptr)
      {
        return core::SyncBatch::failed(unusable());
      }
      sa_batch *batch = nullptr;
      const sa_status status = sa_sync_outbox(sync_.get(), &batch);
      if (status != SA_OK)
      {
        return core::SyncBatch::failed(detail::last_error(status));
      }
      return core::SyncBatch::take(batch);
    }

    /// Marks `sync_id` acknowledged (a late ACK still counts). Errors: NotFound.
    detail::Result<types::AckOutcome> receive_ack(const std::string &sync_id)
    {
      using R = detail::Result<types::AckOutcome>;
      std::int32_t outcome = 0;
      auto result = id_call(sync_id, [&outcome](const sa_sync *s, const char *id) { return sa_sync_ack(s, id, &outcome); });
      if (result.is_err())
      {
        return R::err(result.error());
      }
      return R::ok(static_cast<types::AckOutcome>(outcome));
    }

    /// What acknowledging many sync ids in one call did.
    struct AckReport
    {
      /// Operations that became acknowledged.
      std::size_t acknowledged{0};
      /// Operations that already were (a redelivered ACK, or an id listed twice).
      std::size_t already_acknowledged{0};
      /// Ids the outbox does not hold (pruned since, or never this node's).
      std::size_t unknown{0};
    };

    /// Acknowledges every id of `sync_ids` in one call (one engine lock, one logged
    /// transition). Unknown ids are counted, not refused. An id with a NUL byte or not UTF-8
    /// refuses the whole call and changes nothing; the error names it ("operation 3: ...").
    detail::Result<AckReport> receive_acks(const std::vector<std::string> &sync_ids)
    {
      using R = detail::Result<AckReport>;
      if (sync_ == nullptr)
      {
        return R::err(unusable());
      }
      std::vector<const char *> ids(sync_ids.size());
      for (std::size_t i = 0; i < sync_ids.size(); ++i)
      {
        if (detail::has_nul(sync_ids[i]))
        {
          return R::err(at_operation(i, detail::nul_error(detail::ErrorCode::NotFound, "sync id", sync_ids[i])));
        }
        ids[i] = sync_ids[i].c_str();
      }
      sa_ack_report report{};
      report.struct_size = sizeof report;
      const sa_status status = sa_sync_ack_many(sync_.get(), ids.data(), ids.size(), &report);
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      return R::ok(AckReport{report.acknowledged, report.already_acknowledged, report.unknown});
    }

    /// Re-queues in-flight operations whose ACK timeout passed (while retries remain; the
    /// others become failed); returns how many were re-queued (0 on error, kept in
    /// last_error(); try_retry_expired returns it).
    std::size_t retry_expired() { return latch_.value_or_keep(try_retry_expired(), std::size_t{0}); }

    detail::Result<std::size_t> try_retry_expired() { return count_call(&sa_sync_retry_expired); }

    /// Queues a failed operation again, with a fresh retry budget. Errors: NotFound,
    /// RetryFailed (not failed).
    detail::Result<void> requeue_failed(const std::string &sync_id)
    {
      return id_call(sync_id, [](const sa_sync *s, const char *id) { return sa_sync_requeue_failed(s, id); });
    }

    /// Queues every failed operation again; returns how many.
    detail::Result<std::size_t> requeue_all_failed() { return count_call(&sa_sync_requeue_all_failed); }

    /// Removes acknowledged operations from the outbox; returns how many (0 on error, kept in
    /// last_error()).
    std::size_t prune_completed() { return latch_.value_or_keep(try_prune_completed(), std::size_t{0}); }

    detail::Result<std::size_t> try_prune_completed() { return count_call(&sa_sync_prune_completed); }

    /// Removes failed operations from the outbox (their local writes stay); returns how many
    /// (0 on error, kept in last_error()).
    std::size_t prune_failed() { return latch_.value_or_keep(try_prune_failed(), std::size_t{0}); }

    detail::Result<std::size_t> try_prune_failed() { return count_call(&sa_sync_prune_failed); }

    /// Validates and applies an operation from another node, deciding conflicts with the
    /// configured policy. A redelivered operation is a duplicate: not applied, nothing
    /// changes. Errors: InvalidRemoteOperation (empty sync id, bad origin, version 0, stamp
    /// too far ahead, bad key/value/type, a NUL byte in a string); the store is untouched.
    RemoteResult receive_remote_operation(const core::SyncOperation &remote)
    {
      if (sync_ == nullptr)
      {
        return RemoteResult::err(unusable());
      }
      const auto invalid = detail::ErrorCode::InvalidRemoteOperation;
      const std::pair<const char *, const std::string *> strings[] = {
          {"sync id", &remote.sync_id},
          {"origin", &remote.origin_node_id},
          {"key", &remote.operation.key.str()},
          {"replaces origin", remote.replaces ? &remote.replaces->origin : nullptr},
      };
      for (const auto &[what, text] : strings)
      {
        if (text != nullptr && detail::has_nul(*text))
        {
          return RemoteResult::err(detail::nul_error(invalid, what, *text));
        }
      }
      sa_remote_op op{};
      op.struct_size = sizeof op;
      op.sync_id = remote.sync_id.c_str();
      op.origin = remote.origin_node_id.c_str();
      op.version = remote.version;
      op.stamp = remote.operation.timestamp;
      op.op_type = static_cast<std::int32_t>(remote.operation.type);
      op.key = remote.operation.key.str().c_str();
      op.value = remote.operation.value.data();
      op.value_len = remote.operation.value.size();
      op.has_replaces = remote.replaces.has_value();
      op.replaces_stamp = remote.replaces ? remote.replaces->stamp : 0;
      op.replaces_origin = remote.replaces ? remote.replaces->origin.c_str() : nullptr;
      sa_apply_result result{};
      result.struct_size = sizeof result;
      const sa_status status = sa_sync_receive_remote(sync_.get(), &op, &result);
      if (status != SA_OK)
      {
        return RemoteResult::err(detail::last_error(status));
      }
      return RemoteResult::ok(core::RemoteApplyResult::from_c(result));
    }

    /// Compacts the store's log through the engine (sa_sync_compact): the outbox that is not
    /// pruned, dedup ranges and versions go into the checkpoint; a tombstone is collected once
    /// its delete is acknowledged and it is older than the store's tombstone_retention. Writers
    /// keep going. On error the previous state stands and the failure is counted in the
    /// store's compaction_stats().
    detail::Result<::softadastra::store::core::CompactionReport> compact() const
    {
      if (sync_ == nullptr)
      {
        return detail::Result<::softadastra::store::core::CompactionReport>::err(unusable());
      }
      return ::softadastra::detail::compact(&sa_sync_compact, sync_.get());
    }

    /// Every counter (all zeros on error, kept in last_error(); try_state returns it).
    core::SyncState state() const { return latch_.value_or_keep(try_state(), core::SyncState{}); }

    detail::Result<core::SyncState> try_state() const
    {
      using R = detail::Result<core::SyncState>;
      if (sync_ == nullptr)
      {
        return R::err(unusable());
      }
      sa_sync_state_info info{};
      info.struct_size = sizeof info;
      const sa_status status = sa_sync_state(sync_.get(), &info);
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      return R::ok(core::SyncState::from_c(info));
    }

    /// Makes the engine (and its store) read physical time from `clock`.
    detail::Result<void> set_clock(const detail::ManualClock &clock)
    {
      if (sync_ == nullptr)
      {
        return detail::Result<void>::err(unusable());
      }
      const sa_status status = sa_sync_set_clock(sync_.get(), clock.handle());
      if (status != SA_OK)
      {
        return detail::Result<void>::err(detail::last_error(status));
      }
      return detail::Result<void>::ok();
    }

    /// The C handle (borrowed; NULL when not valid).
    const sa_sync *handle() const noexcept { return sync_.get(); }

  private:
    detail::Error unusable() const
    {
      if (error_ == nullptr)
      {
        return detail::Error(detail::ErrorCode::InvalidArgument, "sync engine handle is empty (moved from)");
      }
      return detail::Error(error_->code(), "sync engine was not created: " + error_->message());
    }

    /// `e` about element `index` of a batch call, named as the library names it.
    static detail::Error at_operation(std::size_t index, const detail::Error &e)
    {
      return detail::Error(e.code(), "operation " + std::to_string(index) + ": " + e.message());
    }

    /// The sync operation `operation` became, from what the library assigned.
    core::SyncOperation submitted_operation(const detail::Operation &operation, const sa_submitted &submitted) const
    {
      detail::Operation stamped = operation;
      stamped.timestamp = submitted.stamp;
      core::SyncOperation local(detail::copy_buffer(submitted.sync_id, sizeof submitted.sync_id), config_.node_id,
                                submitted.version, std::move(stamped), detail::Timestamp::from_stamp(submitted.stamp));
      if (submitted.has_replaces)
      {
        local.replaces = core::WriteId{submitted.replaces_stamp,
                                 detail::copy_buffer(submitted.replaces_origin, sizeof submitted.replaces_origin)};
      }
      return local;
    }

    template <typename F>
    detail::Result<void> id_call(const std::string &sync_id, F call)
    {
      using R = detail::Result<void>;
      if (sync_ == nullptr)
      {
        return R::err(unusable());
      }
      if (detail::has_nul(sync_id))
      {
        return R::err(detail::nul_error(detail::ErrorCode::NotFound, "sync id", sync_id));
      }
      const sa_status status = call(sync_.get(), sync_id.c_str());
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      return R::ok();
    }

    detail::Result<std::size_t> count_call(sa_status (*call)(const sa_sync *, std::size_t *))
    {
      using R = detail::Result<std::size_t>;
      if (sync_ == nullptr)
      {
        return R::err(unusable());
      }
      std::size_t count = 0;
      const sa_status status = call(sync_.get(), &count);
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      return R::ok(count);
    }

    ::softadastra::detail::Handle<sa_sync, &sa_sync_free> sync_;
    core::SyncConfig config_;
    /// Why creating the engine failed (moving the engine moves it: a moved-from engine has
    /// none).
    std::unique_ptr<const detail::Error> error_;
    mutable ::softadastra::detail::ErrorLatch latch_;
  };
} // namespace softadastra::sync::engine

namespace softadastra::sync::scheduler
{
  /// What one tick did.
  struct TickResult
  {
    /// Expired operations re-queued.
    std::size_t retried_count{0};
    /// Acknowledged operations pruned (when asked).
    std::size_t pruned_count{0};
    /// The batch to send (empty, with its error set, when the tick failed).
    core::SyncBatch batch{};

    std::size_t batch_size() const noexcept { return batch.size(); }

    /// There is a batch to send (the C ABI's definition: the batch is not empty).
    bool has_work() const noexcept { return !batch.empty(); }

    bool is_ok() const noexcept { return batch.is_ok(); }

    bool is_err() const noexcept { return batch.is_err(); }

    detail::Error error() const { return batch.error(); }
  };

  /// Runs manual sync ticks on an engine (not owned: it must outlive the scheduler).
  class SyncScheduler
  {
  public:
    using TickResult = scheduler::TickResult;

    explicit SyncScheduler(engine::SyncEngine &engine) noexcept : engine_(&engine) {}

    /// One tick: retry expired operations, prune acknowledged ones if `prune_completed`, then
    /// take the next batch.
    TickResult tick(bool prune_completed = false)
    {
      TickResult result;
      auto usable = engine_->check();
      if (usable.is_err())
      {
        result.batch = core::SyncBatch::failed(usable.error());
        return result;
      }
      sa_tick_result tick{};
      tick.struct_size = sizeof tick;
      const sa_status status = sa_sync_tick(engine_->handle(), prune_completed, &tick);
      if (status != SA_OK)
      {
        result.batch = core::SyncBatch::failed(detail::last_error(status));
        return result;
      }
      result.retried_count = static_cast<std::size_t>(tick.retried_count);
      result.pruned_count = static_cast<std::size_t>(tick.pruned_count);
      result.batch = core::SyncBatch::take(tick.batch);
      return result;
    }

    std::size_t retry_only() { return engine_->retry_expired(); }

    core::SyncBatch next_batch() { return engine_->next_batch(); }

    std::size_t prune_completed() { return engine_->prune_completed(); }

    std::size_t prune_failed() { return engine_->prune_failed(); }

    engine::SyncEngine &engine() noexcept { return *engine_; }

    const engine::SyncEngine &engine() const noexcept { return *engine_; }

  private:
    engine::SyncEngine *engine_;
  };
} // namespace softadastra::sync::scheduler

namespace softadastra::sync::ack
{
  /// Tracks sync ids waiting for an ACK, each with a deadline (RAII over sa_ack_tracker).
  /// Move-only; thread-safe like the C handle. Ids with a NUL byte are never tracked: track
  /// returns an AckTracking error, the queries return false.
  class AckTracker
  {
  public:
    /// A tracker on the system clock.
    AckTracker() noexcept { create(nullptr); }

    /// A tracker on a manual clock (it keeps its own reference to it).
    explicit AckTracker(const detail::ManualClock &clock) noexcept { create(clock.handle()); }

    bool is_valid() const noexcept { return tracker_ != nullptr; }

    /// The latest error of a call that returns a plain bool or count (on a moved-from
    /// tracker: those calls then return false / 0), kept until clear_last_error();
    /// std::nullopt when none failed. An id never tracked is not an error (ack returns false).
    std::optional<detail::Error> last_error() const { return latch_.get(); }

    void clear_last_error() noexcept { latch_.clear(); }

    /// Tracks `sync_id` for `timeout` from now; tracking an id again replaces its entry.
    /// Errors: AckTracking (empty id, NUL byte, not UTF-8), InvalidArgument (negative timeout).
    detail::Result<void> track(const std::string &sync_id, detail::Duration timeout)
    {
      using R = detail::Result<void>;
      if (tracker_ == nullptr)
      {
        return R::err(empty_handle());
      }
      if (detail::has_nul(sync_id))
      {
        return R::err(detail::nul_error(detail::ErrorCode::AckTracking, "sync id", sync_id));
      }
      if (timeout.is_negative())
      {
        return R::err(detail::Error(detail::ErrorCode::InvalidArgument, "ACK timeout must not be negative"));
      }
      const sa_status status = sa_ack_tracker_track(tracker_.get(), sync_id.c_str(), detail::to_ms(timeout));
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      return R::ok();
    }

    /// Marks `sync_id` acknowledged; false if it was not tracked.
    bool ack(const std::string &sync_id) { return flag_call(sync_id, &sa_ack_tracker_ack); }

    /// `sync_id` is tracked and neither acknowledged nor timed out.
    bool is_waiting(const std::string &sync_id) const { return flag_call(sync_id, &sa_ack_tracker_is_waiting); }

    /// `sync_id` was acknowledged and not pruned yet.
    bool acknowledged(const std::string &sync_id) const { return flag_call(sync_id, &sa_ack_tracker_acknowledged); }

    /// Stops tracking `sync_id`; false if it was not tracked.
    bool erase(const std::string &sync_id) { return flag_call(sync_id, &sa_ack_tracker_erase); }

    /// Marks every waiting id whose deadline passed as timed out; returns how many.
    std::size_t collect_expired() { return count_call(&sa_ack_tracker_collect_expired); }

    /// Forgets acknowledged ids; returns how many.
    std::size_t prune_received() { return count_call(&sa_ack_tracker_prune_received); }

    /// Forgets every id (nothing to forget on a moved-from tracker).
    void clear() noexcept
    {
      if (tracker_ != nullptr)
      {
        sa_ack_tracker_clear(tracker_.get());
      }
    }

    /// Tracked ids, in every status (0 for a moved-from tracker).
    std::size_t size() const noexcept { return sa_ack_tracker_size(tracker_.get()); }

    bool empty() const noexcept { return size() == 0; }

    const sa_ack_tracker *handle() const noexcept { return tracker_.get(); }

  private:
    void create(const sa_clock *clock) noexcept
    {
      sa_status status = SA_OK;
      tracker_ = ::softadastra::detail::make_handle<sa_ack_tracker, &sa_ack_tracker_free>(status, &sa_ack_tracker_new,
                                                                                          clock);
    }

    static detail::Error empty_handle()
    {
      return detail::Error(detail::ErrorCode::InvalidArgument, "ACK tracker handle is empty (moved from)");
    }

    /// The flag `call` reports for `sync_id`; false, with the error kept, when it fails. An id
    /// with a NUL byte is never tracked: false, not an error.
    bool flag_call(const std::string &sync_id, sa_status (*call)(const sa_ack_tracker *, const char *, bool *)) const
    {
      if (tracker_ == nullptr)
      {
        latch_.set(empty_handle());
        return false;
      }
      if (detail::has_nul(sync_id))
      {
        return false;
      }
      bool flag = false;
      const sa_status status = call(tracker_.get(), sync_id.c_str(), &flag);
      if (status != SA_OK)
      {
        latch_.set(detail::last_error(status));
        return false;
      }
      return flag;
    }

    /// The count `call` reports; 0, with the error kept, when it fails.
    std::size_t count_call(sa_status (*call)(const sa_ack_tracker *, std::size_t *)) const
    {
      if (tracker_ == nullptr)
      {
        latch_.set(empty_handle());
        return 0;
      }
      std::size_t count = 0;
      const sa_status status = call(tracker_.get(), &count);
      if (status != SA_OK)
      {
        latch_.set(detail::last_error(status));
        return 0;
      }
      return count;
    }

    ::softadastra::detail::Handle<sa_ack_tracker, &sa_ack_tracker_free> tracker_;
    mutable ::softadastra::detail::ErrorLatch latch_;
  };
} // namespace softadastra::sync::ack

namespace softadastra::sync::conflict
{
  /// A conflict decision: exactly one of apply_remote and keep_local is true when it is
  /// valid. A resolution that failed (bad node id, unknown policy, keys that differ) has
  /// neither set, is_valid() false, and `error` says why.
  struct Resolution
  {
    bool conflict_detected{false};
    bool apply_remote{false};
    bool keep_local{false};
    types::ResolutionReason reason{types::ResolutionReason::None};
    std::optional<detail::Error> error{};

    bool is_valid() const noexcept { return apply_remote != keep_local; }

    bool has_error() const noexcept { return error.has_value(); }
  };

  /// Decides whether a remote write replaces the local one. Deterministic: same inputs, same
  /// decision. Writes are ordered by (stamp, origin node id): the local write is
  /// (local_entry->timestamp, local_entry->origin or local_node), the remote one
  /// (remote_operation.timestamp, remote_node). Same-origin writes are ordered by stamp
  /// without a conflict; the policy decides real conflicts.
  class ConflictResolver
  {
  public:
    using Resolution = conflict::Resolution;

    static Resolution resolve(const std::optional<detail::Entry> &local_entry, const detail::Operation &remote_operation,
                              types::ConflictPolicy policy, const std::string &local_node,
                              const std::string &remote_node)
    {
      auto result = try_resolve(local_entry, remote_operation, policy, local_node, remote_node);
      if (result.is_err())
      {
        Resolution failed;
        failed.error = result.error();
        return failed;
      }
      return result.value();
    }

    /// The remote write of a sync operation: its stamp and origin.
    static Resolution resolve(const std::optional<detail::Entry> &local_entry, const core::SyncOperation &remote,
                              types::ConflictPolicy policy, const std::string &local_node)
    {
      return resolve(local_entry, remote.operation, policy, local_node, remote.origin_node_id);
    }

    static detail::Result<Resolution> try_resolve(const std::optional<detail::Entry> &local_entry,
                                                  const detail::Operation &remote_operation,
                                                  types::ConflictPolicy policy, const std::string &local_node,
                                                  const std::string &remote_node)
    {
      using R = detail::Result<Resolution>;
      const auto bad_node = detail::ErrorCode::InvalidNodeId;
      if (detail::has_nul(local_node))
      {
        return R::err(detail::nul_error(bad_node, "local node id", local_node));
      }
      if (detail::has_nul(remote_node))
      {
        return R::err(detail::nul_error(bad_node, "remote node id", remote_node));
      }
      const auto c_policy = static_cast<std::int32_t>(policy);
      sa_resolution r{};
      r.struct_size = sizeof r;
      // Checks both node ids and the policy, whatever the entry says.
      sa_status status = sa_conflict_resolve(c_policy, false, 0, local_node.c_str(), 0, remote_node.c_str(), &r);
      if (status != SA_OK)
      {
        return R::err(detail::last_error(status));
      }
      if (local_entry.has_value())
      {
        if (local_entry->key != remote_operation.key)
        {
          return R::err(detail::Error(detail::ErrorCode::Conflict, "local entry key \"" + local_entry->key.str() +
                                                                       "\" differs from remote operation key \"" +
                                                                       remote_operation.key.str() + "\""));
        }
        const std::string &origin = local_entry->origin.empty() ? local_node : local_entry->origin;
        if (detail::has_nul(origin))
        {
          return R::err(detail::nul_error(bad_node, "local entry origin", origin));
        }
        status = sa_conflict_resolve(c_policy, true, local_entry->timestamp, origin.c_str(), remote_operation.timestamp,
                                     remote_node.c_str(), &r);
        if (status != SA_OK)
        {
          return R::err(detail::last_error(status));
        }
      }
      Resolution out;
      out.conflict_detected = r.conflict_detected;
      out.apply_remote = r.apply_remote;
      out.keep_local = r.keep_local;
      out.reason = static_cast<types::ResolutionReason>(r.reason);
      return R::ok(out);
    }
  };
} // namespace softadastra::sync::conflict

#endif // SOFTADASTRA_CPP_SYNC_HPP
