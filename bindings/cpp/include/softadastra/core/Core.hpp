/*
 * softadastra-sync C++ binding: core types shared by the store and sync wrappers.
 *
 * Header-only, C++17, over the C ABI in <softadastra/sync.h>. This file provides:
 *   softadastra::core::time::Duration        millisecond durations (from_seconds, from_millis)
 *   softadastra::core::time::Timestamp       a point in time in milliseconds since the epoch
 *   softadastra::core::time::ManualClock     RAII wrapper of sa_clock (deterministic tests)
 *   softadastra::core::time::make_stamp ...  hybrid-clock stamp helpers
 *   softadastra::core::errors::Error         an error code (SA_ERR_*) and its message
 *   softadastra::core::types::Result<T>      either a value or an Error
 *
 * Errors: every C call that fails is turned into an Error right away, with the message of
 * sa_last_error_message() copied before any other sa_ call can replace it.
 *
 * Exceptions: nothing here throws, except Result::value() / Result::error() when called on the
 * wrong alternative (std::logic_error, as the C++ module's Result did), and std::bad_alloc.
 */
#ifndef SOFTADASTRA_CPP_CORE_HPP
#define SOFTADASTRA_CPP_CORE_HPP

#include <softadastra/sync.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

/// Implementation details shared by the wrappers; not part of the API.
namespace softadastra::detail
{
  /// Frees a C handle with its sa_*_free function (each accepts NULL).
  template <typename T, void (*FreeFn)(T *)>
  struct Freer
  {
    void operator()(T *handle) const noexcept { FreeFn(handle); }
  };

  /// Sole ownership of a C handle: moves leave the source NULL, destruction frees it.
  template <typename T, void (*FreeFn)(T *)>
  using Handle = std::unique_ptr<T, Freer<T, FreeFn>>;

  /// A new handle from a C constructor `create(args..., &out)`: the handle on SA_OK, else NULL
  /// and the status in `status`.
  template <typename T, void (*FreeFn)(T *), typename Create, typename... Args>
  Handle<T, FreeFn> make_handle(sa_status &status, Create create, Args... args)
  {
    T *raw = nullptr;
    status = create(args..., &raw);
    return Handle<T, FreeFn>(status == SA_OK ? raw : nullptr);
  }
} // namespace softadastra::detail

namespace softadastra::core::time
{
  /// A length of time in milliseconds (signed, as in the C++ module; negative values are
  /// rejected where a configuration needs a duration).
  class Duration
  {
  public:
    using rep = std::int64_t;

    constexpr Duration() noexcept = default;

    constexpr explicit Duration(rep millis) noexcept : millis_(millis) {}

    static constexpr Duration from_millis(rep millis) noexcept { return Duration(millis); }

    static constexpr Duration from_seconds(rep seconds) noexcept { return Duration(seconds * 1000); }

    static constexpr Duration from_minutes(rep minutes) noexcept
    {
      return Duration(minutes * 60 * 1000);
    }

    template <typename Rep, typename Period>
    static Duration from_chrono(std::chrono::duration<Rep, Period> d) noexcept
    {
      return Duration(static_cast<rep>(
          std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
    }

    constexpr rep millis() const noexcept { return millis_; }

    constexpr bool is_zero() const noexcept { return millis_ == 0; }

    constexpr bool is_negative() const noexcept { return millis_ < 0; }

    std::chrono::milliseconds to_chrono() const noexcept
    {
      return std::chrono::milliseconds(millis_);
    }

    friend constexpr bool operator==(Duration a, Duration b) noexcept { return a.millis_ == b.millis_; }
    friend constexpr bool operator!=(Duration a, Duration b) noexcept { return a.millis_ != b.millis_; }
    friend constexpr bool operator<(Duration a, Duration b) noexcept { return a.millis_ < b.millis_; }
    friend constexpr bool operator<=(Duration a, Duration b) noexcept { return a.millis_ <= b.millis_; }
    friend constexpr bool operator>(Duration a, Duration b) noexcept { return a.millis_ > b.millis_; }
    friend constexpr bool operator>=(Duration a, Duration b) noexcept { return a.millis_ >= b.millis_; }
    friend constexpr Duration operator+(Duration a, Duration b) noexcept { return Duration(a.millis_ + b.millis_); }

    friend std::ostream &operator<<(std::ostream &os, Duration d) { return os << d.millis_ << "ms"; }

  private:
    rep millis_{0};
  };

  /// A hybrid-clock stamp (what the library orders writes by): wall-clock milliseconds in the
  /// high 48 bits, a logical counter in the low 16 bits.
  using Stamp = std::uint64_t;

  /// The stamp of a write made at `wall_ms` (logical counter `logical`).
  constexpr Stamp make_stamp(std::uint64_t wall_ms, std::uint16_t logical = 0) noexcept
  {
    return (wall_ms << 16) | logical;
  }

  /// The wall-clock milliseconds of a stamp.
  constexpr std::uint64_t stamp_millis(Stamp stamp) noexcept { return stamp >> 16; }

  /// The logical counter of a stamp.
  constexpr std::uint16_t stamp_logical(Stamp stamp) noexcept
  {
    return static_cast<std::uint16_t>(stamp & 0xFFFFu);
  }

  /// A point in time: milliseconds since the Unix epoch (the C++ module's
  /// core::time::Timestamp, e.g. SyncOperation::timestamp). Not a hybrid-clock Stamp, which
  /// orders writes: Timestamp::from_stamp gives the wall-clock time of one.
  class Timestamp
  {
  public:
    using rep = std::int64_t;

    constexpr Timestamp() noexcept = default;

    constexpr explicit Timestamp(rep millis) noexcept : millis_(millis) {}

    static constexpr Timestamp from_millis(rep millis) noexcept { return Timestamp(millis); }

    /// The wall-clock time of a hybrid-clock stamp (its 48 high bits always fit).
    static constexpr Timestamp from_stamp(Stamp stamp) noexcept
    {
      return Timestamp(static_cast<rep>(stamp_millis(stamp)));
    }

    static Timestamp from_time_point(std::chrono::system_clock::time_point tp) noexcept
    {
      return Timestamp(static_cast<rep>(
          std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count()));
    }

    /// The system clock's reading.
    static Timestamp now() noexcept { return from_time_point(std::chrono::system_clock::now()); }

    constexpr rep millis() const noexcept { return millis_; }

    /// The C++ module's name for millis().
    constexpr rep value() const noexcept { return millis_; }

    /// Set (after the epoch); a default-constructed Timestamp is not.
    constexpr bool is_valid() const noexcept { return millis_ > 0; }

    friend constexpr bool operator==(Timestamp a, Timestamp b) noexcept { return a.millis_ == b.millis_; }
    friend constexpr bool operator!=(Timestamp a, Timestamp b) noexcept { return a.millis_ != b.millis_; }
    friend constexpr bool operator<(Timestamp a, Timestamp b) noexcept { return a.millis_ < b.millis_; }
    friend constexpr bool operator<=(Timestamp a, Timestamp b) noexcept { return a.millis_ <= b.millis_; }
    friend constexpr bool operator>(Timestamp a, Timestamp b) noexcept { return a.millis_ > b.millis_; }
    friend constexpr bool operator>=(Timestamp a, Timestamp b) noexcept { return a.millis_ >= b.millis_; }

    friend std::ostream &operator<<(std::ostream &os, Timestamp t) { return os << t.millis_ << "ms"; }

  private:
    rep millis_{0};
  };

  /// A manual physical clock (milliseconds since the Unix epoch) that moves only when told to
  /// (RAII over sa_clock). Give it to a StoreEngine, a SyncEngine or an AckTracker with their
  /// set_clock / constructor: they keep their own reference, so the clock may be destroyed
  /// first. Move-only. Thread-safe.
  class ManualClock
  {
  public:
    /// A clock reading `now_ms` (default: 1 700 000 000 000, 2023-11-14).
    explicit ManualClock(std::uint64_t now_ms = 1700000000000ULL) noexcept
    {
      sa_status status = SA_OK;
      clock_ = ::softadastra::detail::make_handle<sa_clock, &sa_clock_free>(status, &sa_clock_new_manual, now_ms);
    }

    /// The reading in milliseconds (0 for a moved-from clock).
    std::uint64_t now() const noexcept { return sa_clock_now(clock_.get()); }

    /// Sets the reading (it may go backwards, as a wall clock can).
    bool set(std::uint64_t now_ms) const noexcept { return sa_clock_set(clock_.get(), now_ms) == SA_OK; }

    /// Moves the clock forward.
    bool advance(std::uint64_t ms) const noexcept { return sa_clock_advance(clock_.get(), ms) == SA_OK; }

    /// Moves the clock forward (a negative duration does nothing and returns false).
    bool advance(Duration d) const noexcept
    {
      return !d.is_negative() && advance(static_cast<std::uint64_t>(d.millis()));
    }

    bool is_valid() const noexcept { return clock_ != nullptr; }

    /// The C handle (borrowed).
    const sa_clock *handle() const noexcept { return clock_.get(); }

  private:
    ::softadastra::detail::Handle<sa_clock, &sa_clock_free> clock_;
  };
} // namespace softadastra::core::time

namespace softadastra::core::errors
{
  /// The library's status codes (SA_ERR_*).
  enum class ErrorCode : std::int32_t
  {
    None = SA_OK,
    InvalidArgument = SA_ERR_INVALID_ARGUMENT,
    InvalidContext = SA_ERR_INVALID_CONTEXT,
    InvalidNodeId = SA_ERR_INVALID_NODE_ID,
    InvalidOperation = SA_ERR_INVALID_OPERATION,
    InvalidRemoteOperation = SA_ERR_INVALID_REMOTE_OPERATION,
    NotFound = SA_ERR_NOT_FOUND,
    QueueFailed = SA_ERR_QUEUE_FAILED,
    RetryFailed = SA_ERR_RETRY_FAILED,
    Conflict = SA_ERR_CONFLICT,
    StoreApply = SA_ERR_STORE_APPLY,
    AckTracking = SA_ERR_ACK_TRACKING,
    CapacityExceeded = SA_ERR_CAPACITY_EXCEEDED,
    Io = SA_ERR_IO,
    Corrupt = SA_ERR_CORRUPT,
    Internal = SA_ERR_INTERNAL,
    InUse = SA_ERR_IN_USE,
    MalformedFrame = SA_ERR_MALFORMED_FRAME,
  };

  /// An error: its code and a message naming the offending value
  /// (e.g. "sync operation not found: node-a-42").
  class Error
  {
  public:
    Error() = default;

    Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Error make(ErrorCode code, std::string message) { return Error(code, std::move(message)); }

    ErrorCode code() const noexcept { return code_; }

    /// The raw sa_status value.
    std::int32_t status() const noexcept { return static_cast<std::int32_t>(code_); }

    /// The static name of the code, e.g. "SA_ERR_NOT_FOUND".
    const char *code_name() const noexcept { return sa_status_str(status()); }

    const std::string &message() const noexcept { return message_; }

    /// "SA_ERR_NOT_FOUND: sync operation not found: node-a-42".
    std::string to_string() const { return std::string(code_name()) + ": " + message_; }

    friend std::ostream &operator<<(std::ostream &os, const Error &e) { return os << e.to_string(); }

  private:
    ErrorCode code_{ErrorCode::Internal};
    std::string message_{};
  };
} // namespace softadastra::core::errors

namespace softadastra::core::types
{
  /// Either a value (is_ok) or an error (is_err). `explicit operator bool` is is_ok(), so
  /// `if (!engine.queue_operation(id))` reads naturally. value() on an error and error() on a
  /// value throw std::logic_error (a programming error, as in the C++ module).
  template <typename T, typename E = ::softadastra::core::errors::Error>
  class Result
  {
    static_assert(!std::is_same_v<T, E>, "Result<T, E> needs distinct types");

  public:
    using value_type = T;
    using error_type = E;

    static Result ok(T value) { return Result(std::in_place_index<0>, std::move(value)); }

    static Result err(E error) { return Result(std::in_place_index<1>, std::move(error)); }

    bool is_ok() const noexcept { return data_.index() == 0; }

    bool is_err() const noexcept { return data_.index() == 1; }

    explicit operator bool() const noexcept { return is_ok(); }

    T &value() &
    {
      check_value();
      return std::get<0>(data_);
    }

    const T &value() const &
    {
      check_value();
      return std::get<0>(data_);
    }

    T &&value() &&
    {
      check_value();
      return std::get<0>(std::move(data_));
    }

    template <typename U>
    T value_or(U &&fallback) const &
    {
      return is_ok() ? std::get<0>(data_) : static_cast<T>(std::forward<U>(fallback));
    }

    const E &error() const
    {
      if (!is_err())
      {
        throw std::logic_error("Result: error() called on a value");
      }
      return std::get<1>(data_);
    }

  private:
    template <std::size_t I, typename V>
    Result(std::in_place_index_t<I> tag, V &&v) : data_(tag, std::forward<V>(v)) {}

    void check_value() const
    {
      if (!is_ok())
      {
        throw std::logic_error("Result: value() called on an error: " + error_text(std::get<1>(data_)));
      }
    }

    template <typename X>
    static std::string error_text(const X &e)
    {
      if constexpr (std::is_same_v<X, ::softadastra::core::errors::Error>)
      {
        return e.to_string();
      }
      else
      {
        return "(error)";
      }
    }

    std::variant<T, E> data_;
  };

  /// A result without a value.
  template <typename E>
  class Result<void, E>
  {
  public:
    using value_type = void;
    using error_type = E;

    static Result ok() { return Result(); }

    static Result err(E error) { return Result(std::move(error)); }

    bool is_ok() const noexcept { return ok_; }

    bool is_err() const noexcept { return !ok_; }

    explicit operator bool() const noexcept { return ok_; }

    void value() const
    {
      if (!ok_)
      {
        throw std::logic_error("Result<void>: value() called on an error");
      }
    }

    const E &error() const
    {
      if (ok_)
      {
        throw std::logic_error("Result<void>: error() called on a success");
      }
      return error_;
    }

  private:
    Result() : ok_(true) {}

    explicit Result(E error) : error_(std::move(error)), ok_(false) {}

    E error_{};
    bool ok_{false};
  };

  using Status = Result<void>;
} // namespace softadastra::core::types

/// Implementation details shared by the wrappers; not part of the API.
namespace softadastra::detail
{
  using ::softadastra::core::errors::Error;
  using ::softadastra::core::errors::ErrorCode;

  /// The error of the call that just returned `status`: copies sa_last_error_message() now,
  /// before another sa_ call replaces it.
  inline Error last_error(sa_status status)
  {
    const char *message = sa_last_error_message();
    return Error(static_cast<ErrorCode>(status), message != nullptr ? message : "");
  }

  /// `text` contains a NUL byte (it cannot cross the C ABI as a C string).
  inline bool has_nul(const std::string &text) noexcept
  {
    return text.find('\0') != std::string::npos;
  }

  /// An error for `what` holding a NUL byte; the C ABI takes NUL-terminated strings, so the
  /// string would otherwise be silently cut.
  inline Error nul_error(ErrorCode code, const char *what, const std::string &text)
  {
    return Error(code, std::string(what) + " contains a NUL byte at offset " +
                           std::to_string(text.find('\0')));
  }

  /// The first byte offset where `text` stops being valid UTF-8, or npos when it is valid.
  inline std::size_t invalid_utf8_offset(const std::string &text) noexcept
  {
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n)
    {
      const unsigned char c = s[i];
      std::size_t len = 0;
      std::uint32_t cp = 0;
      if (c < 0x80)
      {
        ++i;
        continue;
      }
      if ((c & 0xE0) == 0xC0)
      {
        len = 2;
        cp = c & 0x1F;
      }
      else if ((c & 0xF0) == 0xE0)
      {
        len = 3;
        cp = c & 0x0F;
      }
      else if ((c & 0xF8) == 0xF0)
      {
        len = 4;
        cp = c & 0x07;
      }
      else
      {
        return i;
      }
      if (i + len > n)
      {
        return i;
      }
      for (std::size_t k = 1; k < len; ++k)
      {
        if ((s[i + k] & 0xC0) != 0x80)
        {
          return i;
        }
        cp = (cp << 6) | (s[i + k] & 0x3F);
      }
      const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
      if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      {
        return i;
      }
      i += len;
    }
    return std::string::npos;
  }

  /// The error of a call whose signature (the C++ module's) has no room for one, such as
  /// SyncEngine::retry_expired() returning a count: kept until cleared, as an iostream keeps
  /// its failbit, so a later success cannot hide it. Thread-safe. Moving it moves the error.
  class ErrorLatch
  {
  public:
    ErrorLatch() = default;

    ErrorLatch(ErrorLatch &&other) noexcept : error_(other.take()) {}

    ErrorLatch &operator=(ErrorLatch &&other) noexcept
    {
      if (this != &other)
      {
        auto error = other.take();
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::move(error);
      }
      return *this;
    }

    /// Keeps `error` (replacing an older one: the latest failure is the one reported).
    void set(Error error)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::move(error);
    }

    std::optional<Error> get() const
    {
      std::lock_guard<std::mutex> lock(mutex_);
      return error_;
    }

    void clear() noexcept
    {
      std::lock_guard<std::mutex> lock(mutex_);
      error_.reset();
    }

    /// The value of `result`, or `fallback` with the error kept.
    template <typename T>
    T value_or_keep(::softadastra::core::types::Result<T> result, T fallback)
    {
      if (result.is_err())
      {
        set(result.error());
        return fallback;
      }
      return std::move(result).value();
    }

  private:
    std::optional<Error> take() noexcept
    {
      std::lock_guard<std::mutex> lock(mutex_);
      return std::exchange(error_, std::nullopt);
    }

    mutable std::mutex mutex_;
    std::optional<Error> error_;
  };

  /// Milliseconds of a duration for the C ABI (negative clamps to 0).
  inline std::uint64_t to_ms(::softadastra::core::time::Duration d) noexcept
  {
    return d.is_negative() ? 0 : static_cast<std::uint64_t>(d.millis());
  }

  inline ::softadastra::core::time::Duration from_ms(std::uint64_t ms) noexcept
  {
    using rep = ::softadastra::core::time::Duration::rep;
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<rep>::max());
    return ::softadastra::core::time::Duration(static_cast<rep>(ms > max ? max : ms));
  }
} // namespace softadastra::detail

#endif // SOFTADASTRA_CPP_CORE_HPP
