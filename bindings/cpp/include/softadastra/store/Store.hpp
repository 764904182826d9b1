/*
 * softadastra-sync C++ binding: the store API of the module doc, over the C ABI.
 *
 *   softadastra::store::types::Key / Value / OperationType / Durability
 *   softadastra::store::core::Operation / Entry / StoreConfig / ReplayReport
 *   softadastra::store::core::CompactionReport / CompactionStats
 *   softadastra::store::engine::StoreEngine  (RAII over sa_store)
 *
 * Keys and values are std::string based. A key must be non-empty UTF-8 without NUL bytes (at
 * most 64 KiB); a value is any bytes (at most 64 MiB). Bad keys are reported as errors by the
 * calls that use them, never as crashes.
 *
 * StoreEngine::put / remove / apply_operation write to the store directly, as in the C++
 * module. Such writes are LOCAL: logged and durable, but never propagated by a sync engine
 * (a later SyncEngine::submit_local_operation of the key propagates, and carries the direct
 * write as the one it replaced). To propagate a write, submit it through the sync engine.
 * StoreEngine::scan(prefix) iterates live entries in ascending key order; entries() returns
 * them all as a sorted map.
 *
 * StoreEngine::compact() folds the log into a checkpoint now; compaction_stats() counts every
 * compaction, automatic ones (run on a background thread when the log passes
 * StoreConfig::compact_threshold_bytes) included, and keeps the message of the latest failure.
 * For a store under a SyncEngine, call SyncEngine::compact() (see the README's "Compaction").
 *
 * StoreEngine's constructor does not throw: when the WAL cannot be opened the engine is not
 * open (is_open() is false, error() says why), every read returns that error (get() returns
 * std::nullopt and keeps the error in last_error()), and a SyncContext built on it is not
 * valid.
 */
#ifndef SOFTADASTRA_CPP_STORE_HPP
#define SOFTADASTRA_CPP_STORE_HPP

#include <softadastra/sync.h>

#include <softadastra/core/Core.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace softadastra::store::types
{
  /// What an operation does.
  enum class OperationType : std::int32_t
  {
    Unknown = 0,
    Put = SA_OP_PUT,
    Delete = SA_OP_DELETE,
  };

  inline const char *to_string(OperationType type) noexcept
  {
    switch (type)
    {
    case OperationType::Put:
      return "put";
    case OperationType::Delete:
      return "delete";
    default:
      return "unknown";
    }
  }

  /// When a write returns: on disk (Durable, fdatasync) or handed to the OS (Fast).
  enum class Durability : std::int32_t
  {
    Durable = SA_DURABLE,
    Fast = SA_FAST,
  };

  /// Longest key, in bytes.
  inline constexpr std::size_t max_key_bytes = 64 * 1024;

  /// Longest value, in bytes.
  inline constexpr std::size_t max_value_bytes = 64 * 1024 * 1024;

  /// A store key: a string. Valid keys are non-empty UTF-8 without NUL bytes, at most 64 KiB.
  class Key
  {
  public:
    Key() = default;

    explicit Key(std::string value) : value_(std::move(value)) {}

    explicit Key(std::string_view value) : value_(value) {}

    explicit Key(const char *value) : value_(value == nullptr ? "" : value) {}

    static Key from(std::string value) { return Key(std::move(value)); }

    const std::string &str() const noexcept { return value_; }

    const std::string &value() const noexcept { return value_; }

    std::string to_string() const { return value_; }

    bool empty() const noexcept { return value_.empty(); }

    std::size_t size() const noexcept { return value_.size(); }

    /// Non-empty, at most 64 KiB, valid UTF-8, no NUL byte: what the library accepts.
    bool is_valid() const noexcept
    {
      return !value_.empty() && value_.size() <= max_key_bytes && !::softadastra::detail::has_nul(value_) &&
             ::softadastra::detail::invalid_utf8_offset(value_) == std::string::npos;
    }

    void clear() noexcept { value_.clear(); }

    friend bool operator==(const Key &a, const Key &b) noexcept { return a.value_ == b.value_; }
    friend bool operator!=(const Key &a, const Key &b) noexcept { return a.value_ != b.value_; }
    friend bool operator<(const Key &a, const Key &b) noexcept { return a.value_ < b.value_; }

    friend std::ostream &operator<<(std::ostream &os, const Key &k) { return os << k.value_; }

  private:
    std::string value_{};
  };

  /// A store value: bytes (held in a std::string; any byte, NUL included, is allowed).
  class Value
  {
  public:
    Value() = default;

    explicit Value(std::string bytes) : data_(std::move(bytes)) {}

    static Value from_string(std::string text) { return Value(std::move(text)); }

    static Value from_bytes(const void *data, std::size_t size)
    {
      if (data == nullptr || size == 0)
      {
        return Value();
      }
      return Value(std::string(static_cast<const char *>(data), size));
    }

    static Value from_bytes(const std::vector<std::uint8_t> &bytes)
    {
      return from_bytes(bytes.data(), bytes.size());
    }

    /// The bytes as a string (unchanged, even when they are not UTF-8).
    std::string to_string() const { return data_; }

    const std::string &str() const noexcept { return data_; }

    std::vector<std::uint8_t> bytes() const { return std::vector<std::uint8_t>(data_.begin(), data_.end()); }

    const std::uint8_t *data() const noexcept { return reinterpret_cast<const std::uint8_t *>(data_.data()); }

    std::size_t size() const noexcept { return data_.size(); }

    bool empty() const noexcept { return data_.empty(); }

    void clear() noexcept { data_.clear(); }

    friend bool operator==(const Value &a, const Value &b) noexcept { return a.data_ == b.data_; }
    friend bool operator!=(const Value &a, const Value &b) noexcept { return a.data_ != b.data_; }

  private:
    std::string data_{};
  };
} // namespace softadastra::store::types

namespace softadastra::detail
{
  /// The library's store defaults (sa_store_config_default), read once: the one source of the
  /// compaction threshold and tombstone retention defaults.
  inline const sa_store_config &store_config_defaults()
  {
    static const sa_store_config defaults = []
    {
      sa_store_config c{};
      c.struct_size = sizeof c;
      sa_store_config_default(&c);
      return c;
    }();
    return defaults;
  }
} // namespace softadastra::detail

namespace softadastra::store::core
{
  /// A store operation: put a value at a key, or delete a key.
  ///
  /// `timestamp` is a hybrid-clock stamp (softadastra::core::time::Stamp: wall ms << 16 |
  /// logical). Operation::put / remove leave it 0 ("not stamped"): a submitted local operation
  /// is stamped by the engine, and the operations of a batch carry the stamp of their write.
  /// SyncOperation::remote uses it as the remote write's stamp; ConflictResolver::resolve
  /// compares it.
  struct Operation
  {
    types::OperationType type{types::OperationType::Unknown};
    types::Key key{};
    types::Value value{};
    std::uint64_t timestamp{0};

    static Operation put(types::Key key, types::Value value)
    {
      Operation op;
      op.type = types::OperationType::Put;
      op.key = std::move(key);
      op.value = std::move(value);
      return op;
    }

    static Operation remove(types::Key key)
    {
      Operation op;
      op.type = types::OperationType::Delete;
      op.key = std::move(key);
      return op;
    }

    bool is_put() const noexcept { return type == types::OperationType::Put; }

    bool is_delete() const noexcept { return type == types::OperationType::Delete; }

    /// A put or a delete (without a value) of a valid key, with a value within the limit.
    bool is_valid() const noexcept
    {
      if (!key.is_valid() || value.size() > types::max_value_bytes)
      {
        return false;
      }
      return is_put() || (is_delete() && value.empty());
    }
  };

  /// One key's current value as read from the store.
  struct Entry
  {
    types::Key key{};
    types::Value value{};
    /// The store version of the write that produced it.
    std::uint64_t version{0};
    /// The hybrid-clock stamp of that write.
    std::uint64_t timestamp{0};
    /// The node that made that write (empty: a direct store write, or unknown).
    std::string origin{};

    /// An entry with stamp 0 and no origin (as in the module doc's conflict example).
    static Entry make(types::Key key, types::Value value, std::uint64_t version)
    {
      Entry e;
      e.key = std::move(key);
      e.value = std::move(value);
      e.version = version;
      return e;
    }

    bool is_valid() const noexcept { return key.is_valid(); }
  };

  /// Where the store keeps its write-ahead log, and how writes reach the disk.
  struct StoreConfig
  {
    /// The WAL path (created if missing, replayed if present).
    std::string wal_path{"data/wal.log"};
    /// false: a memory-only store (wal_path is ignored).
    bool enable_wal{true};
    /// For direct store writes; sync writes follow the sync config.
    types::Durability durability{types::Durability::Durable};
    /// Open an existing WAL for inspection only: nothing is created, repaired or written;
    /// writes and compaction fail (naming the WAL).
    bool read_only{false};
    /// Automatic compaction starts, on a background thread, when the log written since the
    /// last checkpoint exceeds max(compact_threshold_bytes, 2 x the checkpoint's size); 0
    /// turns it off (StoreEngine::compact() still works). Default: the library's.
    std::uint64_t compact_threshold_bytes{::softadastra::detail::store_config_defaults().compact_threshold_bytes};
    /// How long a tombstone is kept at least: compaction collects older ones once sync no
    /// longer needs them (their delete is acknowledged). A write older than a collected delete
    /// that arrives later is applied: keep this above the longest time a node may stay
    /// offline. Default: the library's.
    ::softadastra::core::time::Duration tombstone_retention{
        ::softadastra::detail::from_ms(::softadastra::detail::store_config_defaults().tombstone_retention_ms)};

    static StoreConfig durable(std::string path)
    {
      StoreConfig c;
      c.wal_path = std::move(path);
      c.durability = types::Durability::Durable;
      return c;
    }

    static StoreConfig fast(std::string path)
    {
      StoreConfig c = durable(std::move(path));
      c.durability = types::Durability::Fast;
      return c;
    }

    /// A store without a WAL: nothing survives the process.
    static StoreConfig memory()
    {
      StoreConfig c;
      c.wal_path.clear();
      c.enable_wal = false;
      return c;
    }

    /// The C++ module's name for memory().
    static StoreConfig memory_only() { return memory(); }
  };

  /// What opening the WAL found.
  struct ReplayReport
  {
    /// Records replayed.
    std::uint64_t records{0};
    /// Bytes of torn tail cut off the end of the WAL (0 after a clean shutdown).
    std::uint64_t dropped_bytes{0};
  };

  /// What one compaction did (StoreEngine::compact, SyncEngine::compact).
  struct CompactionReport
  {
    /// Bytes of the store's files (checkpoint and log segments) before and after.
    std::uint64_t bytes_before{0};
    std::uint64_t bytes_after{0};
    /// Size of the new checkpoint file (<wal>.ckpt).
    std::uint64_t checkpoint_bytes{0};
    /// Log records folded into the checkpoint.
    std::uint64_t records_folded{0};
    /// Tombstones collected (past their retention and no longer needed by sync).
    std::uint64_t tombstones_collected{0};
    /// How long writers were held (the rotation, under the store's lock).
    std::chrono::microseconds rotation_pause{0};
    /// How long the whole compaction took.
    std::chrono::microseconds duration{0};
  };

  /// Compactions of a store since it was opened, automatic ones included.
  struct CompactionStats
  {
    std::uint64_t runs{0};
    std::uint64_t failures{0};
    /// The message of the latest compaction if it failed (std::nullopt if it succeeded or
    /// none ran): where a failed automatic compaction shows.
    std::optional<std::string> last_error{};
  };
} // namespace softadastra::store::core

namespace softadastra::detail
{
  /// Runs a C compaction call (sa_store_compact, sa_sync_compact) on `handle`.
  template <typename Handle>
  ::softadastra::core::types::Result<::softadastra::store::core::CompactionReport>
  compact(sa_status (*function)(const Handle *, sa_compaction_report *), const Handle *handle)
  {
    using R = ::softadastra::core::types::Result<::softadastra::store::core::CompactionReport>;
    sa_compaction_report c{};
    c.struct_size = sizeof c;
    const sa_status status = function(handle, &c);
    if (status != SA_OK)
    {
      return R::err(last_error(status));
    }
    return R::ok(::softadastra::store::core::CompactionReport{
        c.bytes_before, c.bytes_after, c.checkpoint_bytes, c.records_folded, c.tombstones_collected,
        std::chrono::microseconds(c.rotation_pause_us), std::chrono::microseconds(c.duration_us)});
  }
} // namespace softadastra::detail

namespace softadastra::store::engine
{
  /// What a direct store write did (the C++ module's ApplyResult, plus the write's stamp).
  struct ApplyResult
  {
    /// The write was applied (false: refused, nothing changed; see StoreEngine::last_error()).
    bool success{false};
    /// The store's sequence number for the write.
    std::uint64_t version{0};
    /// The hybrid-clock stamp the store gave the write (wall ms << 16 | logical).
    std::uint64_t timestamp{0};
    /// The key had no live value before and has one now.
    bool created{false};
    /// The key had a live value before and has one now.
    bool updated{false};
    /// The key had a live value before and is deleted now.
    bool deleted{false};
  };

  /// The live entries under a prefix, in ascending key order (StoreEngine::scan): a single-pass
  /// input range over sa_store_iter. Not a snapshot: writes made while iterating are safe; a key
  /// live for the whole iteration is visited once, a key written or deleted meanwhile may or may
  /// not be. Keeps the store alive. Move-only; one thread at a time.
  class EntryRange
  {
  public:
    using Error = ::softadastra::core::errors::Error;

    class iterator
    {
    public:
      using iterator_category = std::input_iterator_tag;
      using value_type = core::Entry;
      using difference_type = std::ptrdiff_t;
      using pointer = const core::Entry *;
      using reference = const core::Entry &;

      iterator() = default;

      reference operator*() const { return *range_->current_; }
      pointer operator->() const { return &*range_->current_; }

      iterator &operator++()
      {
        range_->advance();
        return *this;
      }

      void operator++(int) { ++*this; }

      friend bool operator==(const iterator &a, const iterator &b) noexcept { return a.done() == b.done(); }
      friend bool operator!=(const iterator &a, const iterator &b) noexcept { return !(a == b); }

    private:
      friend class EntryRange;
      explicit iterator(EntryRange *range) : range_(range) {}
      bool done() const noexcept { return range_ == nullptr || !range_->current_.has_value(); }

      EntryRange *range_{nullptr};
    };

    /// Starts at the first entry (the range is empty when it could not start: see error()).
    iterator begin()
    {
      if (!started_)
      {
        started_ = true;
        advance();
      }
      return iterator(this);
    }

    iterator end() noexcept { return iterator(); }

    /// The next entry, or std::nullopt at the end (or after an error).
    std::optional<core::Entry> next()
    {
      started_ = true;
      advance();
      return current_;
    }

    /// Why the iteration stopped early (std::nullopt when it did not).
    const std::optional<Error> &error() const noexcept { return error_; }

  private:
    friend class StoreEngine;

    explicit EntryRange(Error error) : error_(std::move(error)) {}

    explicit EntryRange(::softadastra::detail::Handle<sa_store_iter, &sa_store_iter_free> iter)
        : iter_(std::move(iter))
    {
    }

    void advance()
    {
      current_.reset();
      if (iter_ == nullptr)
      {
        return;
      }
      sa_entry_view view{};
      view.struct_size = sizeof view;
      bool has_item = false;
      const sa_status status = sa_store_iter_next(iter_.get(), &view, &has_item);
      if (status != SA_OK)
      {
        error_ = ::softadastra::detail::last_error(status);
        iter_.reset();
        return;
      }
      if (!has_item)
      {
        iter_.reset();
        return;
      }
      core::Entry entry;
      entry.key = types::Key(std::string_view(view.key.ptr, view.key.len));
      entry.value = types::Value::from_bytes(view.value.ptr, view.value.len);
      entry.version = view.version;
      entry.timestamp = view.stamp;
      entry.origin.assign(view.origin.ptr, view.origin.len);
      current_ = std::move(entry);
    }

    ::softadastra::detail::Handle<sa_store_iter, &sa_store_iter_free> iter_;
    std::optional<core::Entry> current_;
    std::optional<Error> error_;
    bool started_{false};
  };

  /// The local store (RAII over sa_store). Move-only; thread-safe like the C handle. A
  /// SyncEngine built on it keeps the C store alive, so they may be destroyed in any order.
  ///
  /// get() / contains() / size() / empty() keep the module doc's plain return types; when
  /// one of them fails (a closed store, a key with a NUL byte), the error is kept in
  /// last_error() until clear_last_error(). read() returns it as a Result instead.
  class StoreEngine
  {
  public:
    using Error = ::softadastra::core::errors::Error;
    using ErrorCode = ::softadastra::core::errors::ErrorCode;
    template <typename T>
    using Result = ::softadastra::core::types::Result<T>;

    /// Opens the store. Does not throw: on failure is_open() is false and error() says why.
    explicit StoreEngine(const core::StoreConfig &config)
    {
      sa_store_config c = ::softadastra::detail::store_config_defaults();
      if (config.enable_wal)
      {
        if (::softadastra::detail::has_nul(config.wal_path))
        {
          open_error_ = std::make_unique<const Error>(
              ::softadastra::detail::nul_error(ErrorCode::InvalidArgument, "wal_path", config.wal_path));
          return;
        }
        c.wal_path = config.wal_path.c_str();
      }
      if (config.tombstone_retention.is_negative())
      {
        open_error_ = std::make_unique<const Error>(
            ErrorCode::InvalidArgument, "config field tombstone_retention is negative: " +
                                            std::to_string(config.tombstone_retention.millis()) + " ms");
        return;
      }
      c.durability = static_cast<std::int32_t>(config.durability);
      c.read_only = config.read_only;
      c.compact_threshold_bytes = config.compact_threshold_bytes;
      c.tombstone_retention_ms = ::softadastra::detail::to_ms(config.tombstone_retention);
      sa_status status = SA_OK;
      store_ = ::softadastra::detail::make_handle<sa_store, &sa_store_free>(status, &sa_store_open_with, &c);
      if (status != SA_OK)
      {
        open_error_ = std::make_unique<const Error>(::softadastra::detail::last_error(status));
      }
    }

    /// The store opened (and was not moved from).
    bool is_open() const noexcept { return store_ != nullptr; }

    bool is_valid() const noexcept { return is_open(); }

    /// Why the store is not open (an Error with code None when it is).
    Error error() const
    {
      if (store_ != nullptr)
      {
        return Error(ErrorCode::None, "");
      }
      return closed_error();
    }

    /// The latest error of get() / contains() / size() / empty() since clear_last_error()
    /// (std::nullopt when none failed): those calls cannot return it themselves.
    std::optional<Error> last_error() const { return latch_.get(); }

    void clear_last_error() noexcept { latch_.clear(); }

    /// The current entry of `key`, or std::nullopt when the key is absent or deleted. A failed
    /// read also gives std::nullopt and is kept in last_error(); read() tells the two apart.
    std::optional<core::Entry> get(const types::Key &key) const
    {
      return latch_.value_or_keep(read(key), std::optional<core::Entry>());
    }

    /// Like get(), but an invalid key or a closed store is an error.
    Result<std::optional<core::Entry>> read(const types::Key &key) const
    {
      using R = Result<std::optional<core::Entry>>;
      if (store_ == nullptr)
      {
        return R::err(closed_error());
      }
      if (::softadastra::detail::has_nul(key.str()))
      {
        return R::err(::softadastra::detail::nul_error(ErrorCode::InvalidOperation, "key", key.str()));
      }
      sa_status status = SA_OK;
      const auto entry = ::softadastra::detail::make_handle<sa_entry, &sa_entry_free>(
          status, &sa_store_get, store_.get(), key.str().c_str());
      if (status != SA_OK)
      {
        return R::err(::softadastra::detail::last_error(status));
      }
      if (entry == nullptr)
      {
        return R::ok(std::nullopt);
      }
      core::Entry out;
      out.key = key;
      const sa_bytes value = sa_entry_value(entry.get());
      out.value = types::Value::from_bytes(value.ptr, value.len);
      out.version = sa_entry_version(entry.get());
      out.timestamp = sa_entry_stamp(entry.get());
      const sa_str origin = sa_entry_origin(entry.get());
      out.origin.assign(origin.ptr != nullptr ? origin.ptr : "", origin.ptr != nullptr ? origin.len : 0);
      return R::ok(std::optional<core::Entry>(std::move(out)));
    }

    /// The entry exists (a live key); false on error (kept in last_error()).
    bool contains(const types::Key &key) const { return get(key).has_value(); }

    /// Number of live keys; 0 on error (kept in last_error()): see try_size.
    std::size_t size() const { return latch_.value_or_keep(try_size(), std::size_t{0}); }

    Result<std::size_t> try_size() const
    {
      using R = Result<std::size_t>;
      if (store_ == nullptr)
      {
        return R::err(closed_error());
      }
      std::size_t len = 0;
      const sa_status status = sa_store_len(store_.get(), &len);
      if (status != SA_OK)
      {
        return R::err(::softadastra::detail::last_error(status));
      }
      return R::ok(len);
    }

    bool empty() const { return size() == 0; }

    /// Puts `value` at `key` directly, stamped by the store's clock: a LOCAL write, never
    /// propagated by sync. On error `success` is false, nothing changed, and the error is kept
    /// in last_error() (try_apply() returns it).
    ApplyResult put(const types::Key &key, const types::Value &value)
    {
      return apply_operation(core::Operation::put(key, value));
    }

    /// Deletes `key` directly (a LOCAL write, as put()), leaving a tombstone.
    ApplyResult remove(const types::Key &key) { return apply_operation(core::Operation::remove(key)); }

    /// Applies a put or a delete directly (a LOCAL write, as put()). Unlike the C++ module, the
    /// store stamps the write itself (op.timestamp is not used), so stamps stay monotonic;
    /// remote operations go through SyncEngine::receive_remote_operation.
    ApplyResult apply_operation(const core::Operation &op)
    {
      return latch_.value_or_keep(try_apply(op), ApplyResult{});
    }

    /// Like apply_operation(), but a refused write is an error (an invalid key or value, an
    /// unknown type, a delete with a value, an I/O failure, a closed store).
    Result<ApplyResult> try_apply(const core::Operation &op)
    {
      using R = Result<ApplyResult>;
      if (store_ == nullptr)
      {
        return R::err(closed_error());
      }
      if (::softadastra::detail::has_nul(op.key.str()))
      {
        return R::err(::softadastra::detail::nul_error(ErrorCode::InvalidOperation, "key", op.key.str()));
      }
      sa_store_write_result result{};
      result.struct_size = sizeof result;
      const sa_status status =
          sa_store_apply(store_.get(), static_cast<std::int32_t>(op.type), op.key.str().c_str(), op.value.data(),
                         op.value.size(), &result);
      if (status != SA_OK)
      {
        return R::err(::softadastra::detail::last_error(status));
      }
      return R::ok(ApplyResult{true, result.version, result.stamp, result.created, result.updated, result.deleted});
    }

    /// The live entries whose key starts with `prefix` ("" for all), in ascending byte order of
    /// the key: `for (const auto &entry : store.scan("user:"))`. Each step reads the store (see
    /// EntryRange for writes made meanwhile). A closed store or a prefix with a NUL byte gives
    /// an empty range whose error() says why.
    EntryRange scan(std::string_view prefix = {}) const
    {
      if (store_ == nullptr)
      {
        return EntryRange(closed_error());
      }
      const std::string text(prefix);
      if (::softadastra::detail::has_nul(text))
      {
        return EntryRange(::softadastra::detail::nul_error(ErrorCode::InvalidArgument, "prefix", text));
      }
      sa_status status = SA_OK;
      auto iter = ::softadastra::detail::make_handle<sa_store_iter, &sa_store_iter_free>(
          status, &sa_store_iter_new, store_.get(), text.c_str());
      if (status != SA_OK)
      {
        return EntryRange(::softadastra::detail::last_error(status));
      }
      return EntryRange(std::move(iter));
    }

    /// The live keys under `prefix`, sorted.
    std::vector<types::Key> keys(std::string_view prefix = {}) const
    {
      std::vector<types::Key> out;
      for (const auto &entry : scan(prefix))
      {
        out.push_back(entry.key);
      }
      return out;
    }

    /// Every live entry by key, sorted (a copy: the C++ module returns its own index here).
    std::map<std::string, core::Entry> entries() const
    {
      std::map<std::string, core::Entry> out;
      for (auto &entry : scan())
      {
        out.emplace_hint(out.end(), entry.key.str(), entry);
      }
      return out;
    }

    /// What opening the WAL found.
    Result<core::ReplayReport> replay_report() const
    {
      using R = Result<core::ReplayReport>;
      if (store_ == nullptr)
      {
        return R::err(closed_error());
      }
      sa_replay_report report{};
      report.struct_size = sizeof report;
      const sa_status status = sa_store_replay_report(store_.get(), &report);
      if (status != SA_OK)
      {
        return R::err(::softadastra::detail::last_error(status));
      }
      return R::ok(core::ReplayReport{report.records, report.dropped_bytes});
    }

    /// Makes the store (and the engine on it) read physical time from `clock`.
    Result<void> set_clock(const ::softadastra::core::time::ManualClock &clock) const
    {
      using R = Result<void>;
      if (store_ == nullptr)
      {
        return R::err(closed_error());
      }
      const sa_status status = sa_store_set_clock(store_.get(), clock.handle());
      if (status != SA_OK)
      {
        return R::err(::softadastra::detail::last_error(status));
      }
      return R::ok();
    }

    /// Compacts the store's log now (sa_store_compact): writers on other threads keep going;
    /// a running compaction is waited for first. On error the previous checkpoint and log
    /// stand, the failure is counted in compaction_stats(), and the next compaction starts
    /// over. A store under a SyncEngine is compacted through SyncEngine::compact().
    Result<core::CompactionReport> compact() const
    {
      if (store_ == nullptr)
      {
        return Result<core::CompactionReport>::err(closed_error());
      }
      return ::softadastra::detail::compact(&sa_store_compact, store_.get());
    }

    /// Compactions so far, automatic ones included, with the latest failure's message.
    Result<core::CompactionStats> compaction_stats() const
    {
      using R = Result<core::CompactionStats>;
      if (store_ == nullptr)
      {
        return R::err(closed_error());
      }
      sa_compaction_stats stats{};
      stats.struct_size = sizeof stats;
      sa_buf message{nullptr, 0};
      const sa_status status = sa_store_compaction_stats(store_.get(), &stats, &message);
      if (status != SA_OK)
      {
        return R::err(::softadastra::detail::last_error(status));
      }
      // Freed however this scope ends (copying the message may throw std::bad_alloc).
      const std::unique_ptr<sa_buf, void (*)(sa_buf *)> owned(&message, &sa_buf_free);
      core::CompactionStats out{stats.runs, stats.failures, std::nullopt};
      if (stats.last_failed)
      {
        out.last_error = message.ptr == nullptr
                             ? std::string()
                             : std::string(reinterpret_cast<const char *>(message.ptr), message.len);
      }
      return R::ok(std::move(out));
    }

    /// The C handle (borrowed; NULL when not open).
    const sa_store *handle() const noexcept { return store_.get(); }

  private:
    /// Why the store is not open: the open error, or a moved-from handle.
    Error closed_error() const
    {
      if (open_error_ == nullptr)
      {
        return Error(ErrorCode::InvalidArgument, "store handle is empty (moved from)");
      }
      return *open_error_;
    }

    ::softadastra::detail::Handle<sa_store, &sa_store_free> store_;
    /// Why opening failed (moving the engine moves it: a moved-from engine has none).
    std::unique_ptr<const Error> open_error_;
    mutable ::softadastra::detail::ErrorLatch latch_;
  };
} // namespace softadastra::store::engine

#endif // SOFTADASTRA_CPP_STORE_HPP
