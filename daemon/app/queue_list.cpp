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

// "8" -> 8; nothing for anything but 1 to k_max_queue_concurrency in plain digits (leading
// zeros allowed, however many).
std::optional<int> worker_count(std::string_view text) {
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
  if (count < 1 || count > k_max_queue_concurrency) {
    return std::nullopt;
  }
  return count;
}

QueueEntry parse_entry(std::string_view entry) {
  QueueEntry parsed;
  const auto equals = entry.find('=');
  const std::string_view name = trimmed(entry.substr(0, equals));
  if (!pgtq::detail::is_valid_name(name)) {
    throw ConfigError("\"" + std::string(name) +
                      "\" is not a queue name (1-128 characters from [A-Za-z0-9_.:-])");
  }
  parsed.name = name;
  if (equals != std::string_view::npos) {
    const std::string_view count = trimmed(entry.substr(equals + 1));
    parsed.concurrency = worker_count(count);
    if (!parsed.concurrency) {
      throw ConfigError("queue \"" + parsed.name + "\": \"" + std::string(count) +
                        "\" is not a number of workers from 1 to " +
                        std::to_string(k_max_queue_concurrency));
    }
  }
  return parsed;
}

} // namespace

std::vector<QueueEntry> parse_queue_list(std::string_view text) {
  std::vector<QueueEntry> queues;
  std::string_view rest = text;
  for (;;) {
    const auto comma = rest.find(',');
    const std::string_view entry = trimmed(rest.substr(0, comma));
    if (entry.empty()) {
      throw ConfigError(queues.empty() && comma == std::string_view::npos
                            ? "no queue given"
                            : "an empty entry: queues are separated by single commas");
    }
    QueueEntry parsed = parse_entry(entry);
    if (std::any_of(queues.begin(), queues.end(), [&](const QueueEntry& earlier) {
          return earlier.name == parsed.name;
        })) {
      throw ConfigError("queue \"" + parsed.name + "\" is given twice");
    }
    queues.push_back(std::move(parsed));
    if (comma == std::string_view::npos) {
      return queues;
    }
    rest.remove_prefix(comma + 1);
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
