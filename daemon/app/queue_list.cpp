#include "app/queue_list.hpp"

#include "app/config.hpp"

#include <pgtq/detail/names.hpp>

#include <algorithm>

namespace pgtq::app {
namespace {

std::string_view trimmed(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && blank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && blank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// "8" -> 8; nothing for anything but 1 to max in plain digits (leading zeros allowed, however
// many).
std::optional<int> whole_number(std::string_view text, int max) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  while (text.size() > 1 && text.front() == '0') {
    text.remove_prefix(1);
  }
  if (text.size() > 4) {
    return std::nullopt;
  }
  const int count = std::stoi(std::string(text));
  if (count < 1 || count > max) {
    return std::nullopt;
  }
  return count;
}

// One entry NAME or NAME=N (N from 1 to max; what N is, for messages): the name and N.
std::pair<std::string, std::optional<int>>
parse_entry(std::string_view entry, int max, const char* what) {
  const auto equals = entry.find('=');
  const std::string_view name = trimmed(entry.substr(0, equals));
  if (!pgtq::detail::is_valid_name(name)) {
    throw ConfigError("\"" + std::string(name) +
                      "\" is not a queue name (1-128 characters from [A-Za-z0-9_.:-])");
  }
  std::optional<int> number;
  if (equals != std::string_view::npos) {
    const std::string_view text = trimmed(entry.substr(equals + 1));
    number = whole_number(text, max);
    if (!number) {
      throw ConfigError("queue \"" + std::string(name) + "\": \"" + std::string(text) +
                        "\" is not " + what + " from 1 to " + std::to_string(max));
    }
  }
  return {std::string(name), number};
}

// The entries of a list separated by commas (blanks around them ignored), each parsed as
// parse_entry() does, each name once.
std::vector<std::pair<std::string, std::optional<int>>>
parse_entries(std::string_view text, int max, const char* what) {
  std::vector<std::pair<std::string, std::optional<int>>> entries;
  std::string_view rest = text;
  for (;;) {
    const auto comma = rest.find(',');
    const std::string_view entry = trimmed(rest.substr(0, comma));
    if (entry.empty()) {
      throw ConfigError(entries.empty() && comma == std::string_view::npos
                            ? "no queue given"
                            : "an empty entry: queues are separated by single commas");
    }
    auto parsed = parse_entry(entry, max, what);
    if (std::any_of(entries.begin(), entries.end(), [&](const auto& earlier) {
          return earlier.first == parsed.first;
        })) {
      throw ConfigError("queue \"" + parsed.first + "\" is given twice");
    }
    entries.push_back(std::move(parsed));
    if (comma == std::string_view::npos) {
      return entries;
    }
    rest.remove_prefix(comma + 1);
  }
}

} // namespace

std::vector<QueueEntry> parse_queue_list(std::string_view text) {
  std::vector<QueueEntry> queues;
  for (auto& [name, count] : parse_entries(text, k_max_queue_concurrency, "a number of workers")) {
    queues.push_back({.name = std::move(name), .concurrency = count});
  }
  return queues;
}

std::vector<QueueEntry>
parse_queues(std::string_view queue_text, bool shared_workers, std::string_view weights_text) {
  std::vector<QueueEntry> queues = parse_queue_list(queue_text);
  for (QueueEntry& queue : queues) {
    queue.shared = shared_workers && !queue.concurrency;
  }
  if (trimmed(weights_text).empty()) {
    return queues;
  }
  if (!shared_workers) {
    throw ConfigError("needs shared-workers = true (it splits the shared workers)");
  }
  for (const auto& [name, weight] : parse_entries(weights_text, k_max_queue_weight, "a weight")) {
    const auto queue = std::find_if(
        queues.begin(), queues.end(), [&](const QueueEntry& each) { return each.name == name; });
    if (queue == queues.end()) {
      throw ConfigError("names \"" + name + "\", which is not a queue of the queue option");
    }
    if (!queue->shared) {
      throw ConfigError("names \"" + name + "\", which has workers of its own (" + name + "=" +
                        std::to_string(*queue->concurrency) + "); only shared queues have weights");
    }
    if (!weight) {
      throw ConfigError("\"" + name + "\" needs a weight, NAME=W");
    }
    queue->weight = *weight;
  }
  return queues;
}

std::string queue_weights_error(std::string_view text) {
  if (trimmed(text).empty()) {
    return "";
  }
  try {
    for (const auto& [name, weight] : parse_entries(text, k_max_queue_weight, "a weight")) {
      if (!weight) {
        return "is not a list of queue weights: \"" + name + "\" needs a weight, NAME=W";
      }
    }
    return "";
  } catch (const ConfigError& error) {
    return std::string("is not a list of queue weights: ") + error.what();
  }
}

std::string queue_list_error(std::string_view text) {
  try {
    parse_queue_list(text);
    return "";
  } catch (const ConfigError& error) {
    return std::string("is not a list of queues: ") + error.what();
  }
}

std::string queue_names(const std::vector<QueueEntry>& queues) {
  std::string names;
  for (const QueueEntry& queue : queues) {
    names += (names.empty() ? "" : ", ") + queue.name;
  }
  return names;
}

} // namespace pgtq::app
