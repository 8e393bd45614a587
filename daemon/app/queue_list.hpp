#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgtq::app {

// One queue of the queue option: its name and, when given as NAME=N, its own number of
// workers (else the concurrency option's).
struct QueueEntry {
  std::string name;
  std::optional<int> concurrency;

  bool operator==(const QueueEntry&) const = default;
};

// The queue option's value: entries separated by commas (blanks around them ignored), each
// NAME or NAME=N, NAME a queue name (1-128 characters from [A-Za-z0-9_.:-]), N from 1 to
// k_max_queue_concurrency, each name once. Returns the entries in the order given; throws
// ConfigError saying which entry is wrong and why. The command line's repeated --queue
// options arrive here joined by commas.
std::vector<QueueEntry> parse_queue_list(std::string_view text);

// What parse_queue_list() would say is wrong with text, or an empty string (the option
// table's check).
std::string queue_list_error(std::string_view text);

// The names of the entries, separated by ", ": for log lines.
std::string queue_names(const std::vector<QueueEntry>& queues);

// As the concurrency option's range: workers of one queue.
inline constexpr int k_max_queue_concurrency = 1024;

} // namespace pgtq::app
