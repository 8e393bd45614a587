#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgtq::app {

// One queue of the queue option: its name and, when given as NAME=N, its own number of
// workers (else the concurrency option's). With shared-workers, the queues without =N share
// the concurrency option's workers, split by weight (queue-weights) while several have work.
struct QueueEntry {
  std::string name;
  std::optional<int> concurrency;
  bool shared = false;
  int weight = 1;

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

// The queues as parse_queue_list() reads queue_text, those without =N marked shared when
// shared_workers is on, with the weights of weights_text: entries NAME=W separated by commas,
// W from 1 to k_max_queue_weight, each a shared queue of queue_text (1 for those not named).
// Throws ConfigError saying what is wrong with the weights (the message does not name the
// option): weights without shared_workers, a name that is no queue of queue_text or one with
// workers of its own.
std::vector<QueueEntry>
parse_queues(std::string_view queue_text, bool shared_workers, std::string_view weights_text);

// What is wrong with the queue-weights option's text on its own, or an empty string.
std::string queue_weights_error(std::string_view text);

// The names of the entries, separated by ", ": for log lines.
std::string queue_names(const std::vector<QueueEntry>& queues);

// As the concurrency option's range: workers of one queue.
inline constexpr int k_max_queue_concurrency = 1024;
// The largest weight of a shared queue.
inline constexpr int k_max_queue_weight = 1000;

} // namespace pgtq::app
