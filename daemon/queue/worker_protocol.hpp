#pragma once

#include "plugin/handler_registry.hpp"
#include "queue/task.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

// What pgtqd and a worker process (isolation = process) say to each other over their
// socketpair. A frame is a 4-byte little-endian length N, then N bytes: one byte of message
// type, then the message's fields in order. Fields: integers little-endian, fixed width;
// doubles as their 8 IEEE-754 bytes, little-endian; a string is a u32 length and its bytes
// (any bytes); a list of strings a u32 count and the strings. Both ends are the same binary
// (the worker is pgtqd exec'ed again), so there is no version to negotiate.
namespace pgtq::queue::worker {

// The longest frame either side accepts: args and a result are each at most 1 MiB as
// stored; what is larger is a broken peer, and the connection (and the worker) ends.
inline constexpr std::size_t k_max_frame_bytes = 64u << 20;

// pgtqd -> worker, first: who the worker is and what it loads. Descriptors travel with this
// frame (SCM_RIGHTS): first the stop page (queue/stop_page.hpp), then the plugins' private
// copies (memfds), one per plugin_files entry, in the same order.
struct Hello {
  std::int32_t slot = 0; // the worker's number, 1..concurrency, for logs and ps
  std::string queue;
  std::string log_level; // as the log-level option spells it
  std::string plugin_config_dir;
  plugin::BackoffPolicy backoff;         // the daemon's default retry backoff
  std::int64_t memory_limit_bytes = 0;   // RLIMIT_DATA; 0: none
  std::vector<std::string> plugin_files; // the names the copies were made from
};
// worker -> pgtqd: the plugins loaded; these are the task names it can run.
struct Ready {
  std::vector<std::string> task_names;
};
// worker -> pgtqd: the plugins could not be loaded; the worker exits.
struct StartFailed {
  std::string why;
};
// pgtqd -> worker: run one attempt. timeout_s: seconds from its start until should_stop()
// turns true; 0: none. (pgtqd stops an attempt sooner through the stop page, not a frame.)
// seq: the Run's number, which picks its stop flag and start gate in the stop page. A worker
// may be sent the next Runs before it has answered the last: it runs them in order, one at
// a time, each once it has taken its gate, and skips one pgtqd revoked (answering nothing
// for it); so Finished frames come in the order of the Runs that were started.
struct Run {
  std::int64_t id = 0;
  std::string name;
  std::string args; // JSON text
  std::int32_t attempt = 0;
  std::int32_t max_attempts = 0;
  double timeout_s = 0;
  std::uint32_t seq = 0;
  std::optional<std::string> parents;    // JSON text, for a task pushed with depends_on
  std::optional<std::string> checkpoint; // JSON text an earlier attempt saved
};
// worker -> pgtqd: what became of the attempt (queue::Outcome's status, result, error and
// delay; the claim token stays in pgtqd). recycle: the worker exits after this message
// (it ran out of memory, so its heap cannot be trusted), and pgtqd starts a new one.
struct Finished {
  std::int64_t id = 0;
  OutcomeStatus status = OutcomeStatus::done;
  std::string result;
  std::string error;
  double retry_in_s = 0;
  double duration_s = 0;
  bool recycle = false;
  bool timed_out = false;                // the handler stopped because its time ran out
  std::optional<std::string> progress;   // the last the handler reported, if any
  std::optional<std::string> checkpoint; // the same
  std::vector<std::string> followups;    // done: its follow-up tasks (JSON objects)
};
// worker -> pgtqd, while an attempt runs: what its handler reported (Report::Kind) as JSON
// text. Progress comes at most every k_progress_gap (the last one of a burst a moment later);
// a checkpoint at once, so that pgtqd has it should the worker die next.
struct Report {
  enum class Kind { progress, checkpoint };
  std::int64_t id = 0;
  std::uint32_t seq = 0; // the Run's: a report its reporter's thread sent late names its own
  Kind kind = Kind::progress;
  std::string json;
};
// worker -> pgtqd, at any time: an allocation failed under worker-memory-limit. Sent from
// the allocation failure itself, so that pgtqd can say so even if the worker dies next.
struct OutOfMemory {};

using Message = std::variant<Hello, Ready, StartFailed, Run, Finished, OutOfMemory, Report>;

// A frame that cannot be read: unknown type, a field running past the frame, bytes left
// over, an impossible value, or a frame over k_max_frame_bytes.
class ProtocolError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The whole frame (length included) for one message.
std::string encode(const Message& message);

// Cuts a byte stream into messages: append() what was read, in any pieces; next() returns
// each complete message in order, nothing while the next frame is incomplete. Throws
// ProtocolError at the first bad frame (the stream cannot be resynchronised after it).
class FrameReader {
public:
  void append(const char* data, std::size_t size);
  std::optional<Message> next();
  // Bytes received but not yet returned as a message.
  std::size_t buffered() const { return m_buffer.size() - m_start; }

private:
  std::string m_buffer;
  std::size_t m_start = 0; // where the next frame begins in m_buffer
};

// "run", "stop", ...: for messages about an unexpected message.
const char* name_of(const Message& message);

} // namespace pgtq::queue::worker
