#include "queue/worker_protocol.hpp"

#include <bit>
#include <cstring>
#include <type_traits>

namespace pgtq::queue::worker {
namespace {

enum class Type : std::uint8_t {
  hello = 1,
  ready = 2,
  start_failed = 3,
  run = 4,
  // 5 was Stop, replaced by the stop page (queue/stop_page.hpp)
  finished = 6,
  out_of_memory = 7,
  report = 8,
};

class Writer {
public:
  explicit Writer(Type type) : m_bytes(4, '\0') { u8(static_cast<std::uint8_t>(type)); }

  void u8(std::uint8_t value) { m_bytes.push_back(static_cast<char>(value)); }
  void u32(std::uint32_t value) { little_endian(value); }
  void i32(std::int32_t value) { little_endian(static_cast<std::uint32_t>(value)); }
  void i64(std::int64_t value) { little_endian(static_cast<std::uint64_t>(value)); }
  void f64(double value) { little_endian(std::bit_cast<std::uint64_t>(value)); }
  void str(const std::string& value) {
    u32(static_cast<std::uint32_t>(value.size()));
    m_bytes += value;
  }
  // A flag byte, then the string when there is one.
  void optional_str(const std::optional<std::string>& value) {
    u8(value ? 1 : 0);
    if (value) {
      str(*value);
    }
  }
  void strings(const std::vector<std::string>& values) {
    u32(static_cast<std::uint32_t>(values.size()));
    for (const std::string& value : values) {
      str(value);
    }
  }

  std::string frame() && {
    const std::size_t size = m_bytes.size() - 4;
    if (size > k_max_frame_bytes) {
      throw ProtocolError("message of " + std::to_string(size) + " bytes is over the " +
                          std::to_string(k_max_frame_bytes) + "-byte frame limit");
    }
    for (int i = 0; i < 4; ++i) {
      m_bytes[static_cast<std::size_t>(i)] = static_cast<char>((size >> (8 * i)) & 0xff);
    }
    return std::move(m_bytes);
  }

private:
  template <class Unsigned> void little_endian(Unsigned value) {
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
      m_bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
  }

  std::string m_bytes;
};

class Reader {
public:
  Reader(const char* data, std::size_t size) : m_data(data), m_size(size) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(*take(1)); }
  std::uint32_t u32() { return little_endian<std::uint32_t>(); }
  std::int32_t i32() { return static_cast<std::int32_t>(little_endian<std::uint32_t>()); }
  std::int64_t i64() { return static_cast<std::int64_t>(little_endian<std::uint64_t>()); }
  double f64() { return std::bit_cast<double>(little_endian<std::uint64_t>()); }
  bool boolean() {
    const std::uint8_t value = u8();
    if (value > 1) {
      throw ProtocolError("a flag of value " + std::to_string(value));
    }
    return value == 1;
  }
  std::string str() {
    const std::uint32_t size = u32();
    return std::string(take(size), size);
  }
  std::optional<std::string> optional_str() {
    if (!boolean()) {
      return std::nullopt;
    }
    return str();
  }
  std::vector<std::string> strings() {
    const std::uint32_t count = u32();
    // Each string takes at least its 4-byte length: a count beyond that is a lie.
    if (count > (m_size - m_at) / 4) {
      throw ProtocolError("a list of " + std::to_string(count) + " strings in a short frame");
    }
    std::vector<std::string> values;
    values.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      values.push_back(str());
    }
    return values;
  }
  void finish() const {
    if (m_at != m_size) {
      throw ProtocolError(std::to_string(m_size - m_at) + " bytes left over after a message");
    }
  }

private:
  const char* take(std::size_t count) {
    if (count > m_size - m_at) {
      throw ProtocolError("a field runs past the end of its frame");
    }
    const char* at = m_data + m_at;
    m_at += count;
    return at;
  }
  template <class Unsigned> Unsigned little_endian() {
    const char* bytes = take(sizeof(Unsigned));
    Unsigned value = 0;
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
      value |= static_cast<Unsigned>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    }
    return value;
  }

  const char* m_data;
  std::size_t m_size;
  std::size_t m_at = 0;
};

OutcomeStatus status_of(std::uint8_t value) {
  switch (value) {
  case 0:
    return OutcomeStatus::done;
  case 1:
    return OutcomeStatus::retry;
  case 2:
    return OutcomeStatus::fail;
  case 3:
    return OutcomeStatus::snooze;
  default:
    throw ProtocolError("an outcome status of " + std::to_string(value));
  }
}

std::uint8_t status_byte(OutcomeStatus status) {
  switch (status) {
  case OutcomeStatus::done:
    return 0;
  case OutcomeStatus::retry:
    return 1;
  case OutcomeStatus::fail:
    return 2;
  case OutcomeStatus::snooze:
    return 3;
  }
  return 2;
}

Message decode(const char* data, std::size_t size) {
  Reader in(data, size);
  const auto type = static_cast<Type>(in.u8());
  Message message;
  switch (type) {
  case Type::hello: {
    Hello hello;
    hello.slot = in.i32();
    hello.queue = in.str();
    hello.log_level = in.str();
    hello.plugin_config_dir = in.str();
    hello.backoff.base_s = in.f64();
    hello.backoff.factor = in.f64();
    hello.backoff.cap_s = in.f64();
    hello.memory_limit_bytes = in.i64();
    hello.plugin_files = in.strings();
    message = std::move(hello);
    break;
  }
  case Type::ready:
    message = Ready{in.strings()};
    break;
  case Type::start_failed:
    message = StartFailed{in.str()};
    break;
  case Type::run: {
    Run run;
    run.id = in.i64();
    run.name = in.str();
    run.args = in.str();
    run.attempt = in.i32();
    run.max_attempts = in.i32();
    run.timeout_s = in.f64();
    run.seq = in.u32();
    run.parents = in.optional_str();
    run.checkpoint = in.optional_str();
    message = std::move(run);
    break;
  }
  case Type::finished: {
    Finished finished;
    finished.id = in.i64();
    finished.status = status_of(in.u8());
    finished.result = in.str();
    finished.error = in.str();
    finished.retry_in_s = in.f64();
    finished.duration_s = in.f64();
    finished.recycle = in.boolean();
    finished.timed_out = in.boolean();
    finished.progress = in.optional_str();
    finished.checkpoint = in.optional_str();
    finished.followups = in.strings();
    message = std::move(finished);
    break;
  }
  case Type::report: {
    Report report;
    report.id = in.i64();
    report.seq = in.u32();
    const std::uint8_t kind = in.u8();
    if (kind > 1) {
      throw ProtocolError("a report of kind " + std::to_string(kind));
    }
    report.kind = kind == 0 ? Report::Kind::progress : Report::Kind::checkpoint;
    report.json = in.str();
    message = std::move(report);
    break;
  }
  case Type::out_of_memory:
    message = OutOfMemory{};
    break;
  default:
    throw ProtocolError("unknown message type " + std::to_string(static_cast<int>(type)));
  }
  in.finish();
  return message;
}

} // namespace

std::string encode(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::string {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Hello>) {
          Writer out(Type::hello);
          out.i32(m.slot);
          out.str(m.queue);
          out.str(m.log_level);
          out.str(m.plugin_config_dir);
          out.f64(m.backoff.base_s);
          out.f64(m.backoff.factor);
          out.f64(m.backoff.cap_s);
          out.i64(m.memory_limit_bytes);
          out.strings(m.plugin_files);
          return std::move(out).frame();
        } else if constexpr (std::is_same_v<M, Ready>) {
          Writer out(Type::ready);
          out.strings(m.task_names);
          return std::move(out).frame();
        } else if constexpr (std::is_same_v<M, StartFailed>) {
          Writer out(Type::start_failed);
          out.str(m.why);
          return std::move(out).frame();
        } else if constexpr (std::is_same_v<M, Run>) {
          Writer out(Type::run);
          out.i64(m.id);
          out.str(m.name);
          out.str(m.args);
          out.i32(m.attempt);
          out.i32(m.max_attempts);
          out.f64(m.timeout_s);
          out.u32(m.seq);
          out.optional_str(m.parents);
          out.optional_str(m.checkpoint);
          return std::move(out).frame();
        } else if constexpr (std::is_same_v<M, Finished>) {
          Writer out(Type::finished);
          out.i64(m.id);
          out.u8(status_byte(m.status));
          out.str(m.result);
          out.str(m.error);
          out.f64(m.retry_in_s);
          out.f64(m.duration_s);
          out.u8(m.recycle ? 1 : 0);
          out.u8(m.timed_out ? 1 : 0);
          out.optional_str(m.progress);
          out.optional_str(m.checkpoint);
          out.strings(m.followups);
          return std::move(out).frame();
        } else if constexpr (std::is_same_v<M, Report>) {
          Writer out(Type::report);
          out.i64(m.id);
          out.u32(m.seq);
          out.u8(m.kind == Report::Kind::progress ? 0 : 1);
          out.str(m.json);
          return std::move(out).frame();
        } else {
          static_assert(std::is_same_v<M, OutOfMemory>);
          return Writer(Type::out_of_memory).frame();
        }
      },
      message);
}

void FrameReader::append(const char* data, std::size_t size) {
  if (m_start > 0 && m_start == m_buffer.size()) {
    m_buffer.clear(); // everything was taken: start over instead of growing
    m_start = 0;
  }
  m_buffer.append(data, size);
}

std::optional<Message> FrameReader::next() {
  if (buffered() < 4) {
    return std::nullopt;
  }
  const auto* head = reinterpret_cast<const unsigned char*>(m_buffer.data() + m_start);
  const std::size_t size =
      static_cast<std::size_t>(head[0]) | static_cast<std::size_t>(head[1]) << 8 |
      static_cast<std::size_t>(head[2]) << 16 | static_cast<std::size_t>(head[3]) << 24;
  if (size == 0 || size > k_max_frame_bytes) {
    throw ProtocolError("a frame of " + std::to_string(size) + " bytes (1 to " +
                        std::to_string(k_max_frame_bytes) + " allowed)");
  }
  if (buffered() - 4 < size) {
    return std::nullopt;
  }
  Message message = decode(m_buffer.data() + m_start + 4, size);
  m_start += 4 + size;
  if (m_start > (1u << 20) && m_start * 2 > m_buffer.size()) {
    m_buffer.erase(0, m_start); // keep the buffer from growing with what was read
    m_start = 0;
  }
  return message;
}

const char* name_of(const Message& message) {
  static constexpr const char* k_names[] = {
      "hello", "ready", "start_failed", "run", "finished", "out_of_memory", "report"};
  return k_names[message.index()];
}

} // namespace pgtq::queue::worker
