#include "app/config_options.hpp"

#include "db/connection.hpp"
#include "plugin/host_api.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace pgtq::app {
namespace {

constexpr double k_day = 86400;

// A value as a message may show it: quoted, control characters escaped, long ones cut.
std::string quote(std::string_view value) {
  std::string shown = "\"";
  for (const char c : value.substr(0, 40)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static const char* const k_hex = "0123456789abcdef";
      shown += "\\x";
      shown += k_hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      shown += k_hex[static_cast<unsigned char>(c) & 0xf];
    } else {
      shown += c;
    }
  }
  return shown + (value.size() > 40 ? "...\" (" + std::to_string(value.size()) + " bytes)" : "\"");
}

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string number_text(double value) {
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed).ptr;
  return std::string(buffer, end);
}

// Whether text is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), as PostgreSQL requires of text in a UTF-8 database.
bool is_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t least = 0;
    if (byte < 0x80) {
      ++at;
      continue;
    } else if ((byte & 0xe0) == 0xc0) {
      length = 2, code = byte & 0x1f, least = 0x80;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3, code = byte & 0x0f, least = 0x800;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4, code = byte & 0x07, least = 0x10000;
    } else {
      return false;
    }
    if (at + length > text.size()) {
      return false;
    }
    for (std::size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text[at + i]);
      if ((next & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3f);
    }
    if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    at += length;
  }
  return true;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string check_queue(std::string_view value) {
  return plugin::is_valid_name(std::string(value))
             ? ""
             : "must be 1-128 characters from [A-Za-z0-9_.:-]";
}

std::string check_dsn(std::string_view value) {
  return db::is_parsable_conninfo(std::string(value))
             ? ""
             : "is neither key=value pairs nor a postgresql:// URI that libpq can parse (the "
               "text is not shown: it may hold a password)";
}

std::string check_path(std::string_view value) {
  return has_control(value) ? "must not contain control characters (a newline, a tab, ...)" : "";
}

std::string check_worker_name(std::string_view value) {
  if (!is_utf8(value)) {
    return "must be UTF-8 text";
  }
  return has_control(value) ? "must not contain control characters (a newline, a tab, ...)" : "";
}

// Damerau-Levenshtein distance (optimal string alignment): typos are mostly one letter
// missing, doubled, wrong or swapped.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

using plugin::BackoffPolicy;

// Durations are at least 10 ms (a smaller one is a typo or a busy loop: 1e-9 s ran 53,000
// transactions in 6 s) and at most a day, except retry delays, which may reach pgtq's cap
// on any computed delay, 100 years.
const std::vector<OptionSpec> k_options = {
    {"queue", OptionKind::text, &Config::queue, 1, 128, "",
     "the queue to work (required): 1-128 characters from [A-Za-z0-9_.:-]", check_queue},
    {"dsn", OptionKind::text, &Config::dsn, 0, 65536, "",
     "libpq conninfo or postgresql:// URI; empty: the PG* environment variables", check_dsn,
     true},
    {"plugin-dir", OptionKind::text, &Config::plugin_dir, 1, 4096, "",
     "load every *.so plugin in this directory", check_path},
    {"plugin-dir-checks", OptionKind::choice, &Config::plugin_dir_checks, 0, 0, "strict|off",
     "strict: the plugin directory, the directories above it and every plugin must be owned by "
     "root or pgtqd's user and writable by no one else, and a symlink must stay inside the "
     "directory; off: no such checks (development only)"},
    {"plugin-load-errors", OptionKind::choice, &Config::plugin_load_errors, 0, 0, "fail|skip",
     "fail: a plugin that cannot be loaded stops pgtqd (exit 78); skip: it is logged and left "
     "out"},
    {"plugin-config-dir", OptionKind::text, &Config::plugin_config_dir, 0, 4096, "",
     "a plugin named NAME gets the text of NAME.conf in this directory as its config; empty: "
     "none",
     check_path},
    {"concurrency", OptionKind::integer, &Config::concurrency, 1, 1024, "", "worker threads"},
    {"prefetch", OptionKind::integer, &Config::prefetch, 0, 10000, "",
     "tasks claimed ahead of free workers, so that a busy daemon claims in larger batches"},
    {"log-level", OptionKind::choice, &Config::log_level, 0, 0, "trace|debug|info|warn|error",
     "the least important messages logged"},
    {"lease", OptionKind::seconds, &Config::lease, 1, k_day, "",
     "seconds a claimed task is held without a heartbeat"},
    {"heartbeat", OptionKind::seconds, &Config::heartbeat, 0.01, k_day / 2, "",
     "seconds between lease renewals; at most half the lease"},
    {"poll-interval", OptionKind::seconds, &Config::poll_interval, 0.01, k_day, "",
     "seconds between claims when no notification arrives"},
    {"shutdown-grace", OptionKind::seconds, &Config::shutdown_grace, 0, k_day, "",
     "seconds running tasks get to finish after SIGTERM"},
    {"backoff-base", OptionKind::seconds, &BackoffPolicy::base_s, 0.01, plugin::k_max_delay_s, "",
     "retry delay after the first failure, seconds"},
    {"backoff-factor", OptionKind::number, &BackoffPolicy::factor, 1, 100, "",
     "retry delay growth per attempt"},
    {"backoff-cap", OptionKind::seconds, &BackoffPolicy::cap_s, 0.01, plugin::k_max_delay_s, "",
     "longest retry delay, seconds; at least backoff-base"},
    {"scheduler", OptionKind::flag, &Config::scheduler, 0, 0, "",
     "run the scheduler thread (delayed tasks, retries, rescue)"},
    {"scheduler-interval", OptionKind::seconds, &Config::scheduler_interval, 0.01, 3600, "",
     "seconds between scheduler ticks"},
    {"migrate", OptionKind::flag, &Config::migrate, 0, 0, "", "apply schema migrations at start"},
    {"prepared-statements", OptionKind::flag, &Config::prepared_statements, 0, 0, "",
     "prepare statements once per connection; off behind a transaction-mode pooler that "
     "cannot carry them (pgbouncer before 1.21)"},
    {"worker-name", OptionKind::text, &Config::worker_name, 0, 128, "",
     "name recorded on claimed tasks, up to 128 bytes of UTF-8; empty: HOST:PID",
     check_worker_name},
};

double parse_number(const OptionSpec& spec, std::string_view text) {
  const std::string_view value = trimmed(text);
  double number = 0;
  const auto [end, error] =
      std::from_chars(value.data(), value.data() + value.size(), number, std::chars_format::general);
  const bool whole = error == std::errc() && end == value.data() + value.size() && !value.empty();
  const char* what = spec.kind == OptionKind::seconds ? "a number of seconds" : "a number";
  if (!whole || !std::isfinite(number)) {
    throw ConfigError(quote(text) + " is not " + what + " (allowed: " + describe_range(spec) + ")");
  }
  if (number < spec.min || number > spec.max) {
    throw ConfigError(quote(text) + " is out of range (allowed: " + describe_range(spec) + ")");
  }
  return number;
}

int parse_integer(const OptionSpec& spec, std::string_view text) {
  const std::string_view value = trimmed(text);
  long long number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error == std::errc::result_out_of_range) {
    throw ConfigError(quote(text) + " is out of range (allowed: " + describe_range(spec) + ")");
  }
  if (error != std::errc() || end != value.data() + value.size() || value.empty()) {
    throw ConfigError(quote(text) + " is not a whole number (allowed: " + describe_range(spec) +
                      ")");
  }
  if (static_cast<double>(number) < spec.min || static_cast<double>(number) > spec.max) {
    throw ConfigError(quote(text) + " is out of range (allowed: " + describe_range(spec) + ")");
  }
  return static_cast<int>(number);
}

bool parse_flag(std::string_view text) {
  const std::string value = lower(trimmed(text));
  if (value == "true" || value == "yes" || value == "on" || value == "1") {
    return true;
  }
  if (value == "false" || value == "no" || value == "off" || value == "0") {
    return false;
  }
  throw ConfigError(quote(text) + " is not true or false (also accepted: yes/no, on/off, 1/0)");
}

std::string parse_text(const OptionSpec& spec, std::string_view text) {
  const std::string shown = spec.secret ? "the value" : quote(text);
  if (spec.kind == OptionKind::choice) {
    std::string_view choices = spec.choices;
    while (!choices.empty()) {
      const std::string_view choice = choices.substr(0, choices.find('|'));
      if (choice == text) {
        return std::string(text);
      }
      choices.remove_prefix(std::min(choices.size(), choice.size() + 1));
    }
    throw ConfigError(shown + " is not " + describe_range(spec));
  }
  if (text.find('\0') != std::string_view::npos) {
    throw ConfigError(shown + " contains a NUL byte");
  }
  if (static_cast<double>(text.size()) < spec.min || static_cast<double>(text.size()) > spec.max) {
    throw ConfigError(shown + (text.empty() ? " is empty" : " is " + std::to_string(text.size()) +
                                                                 " bytes long") +
                      " (allowed: " + number_text(spec.min) + " to " + number_text(spec.max) +
                      " bytes)");
  }
  if (spec.check != nullptr) {
    if (const std::string problem = spec.check(text); !problem.empty()) {
      throw ConfigError(shown + " " + problem);
    }
  }
  return std::string(text);
}

} // namespace

const std::vector<OptionSpec>& option_table() { return k_options; }

const OptionSpec* find_option(std::string_view name) {
  const auto found = std::find_if(k_options.begin(), k_options.end(),
                                  [&](const OptionSpec& spec) { return spec.name == name; });
  return found == k_options.end() ? nullptr : &*found;
}

std::string env_name(std::string_view option) {
  std::string env = "PGTQ_";
  for (const char c : option) {
    env += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return env;
}

std::string describe_range(const OptionSpec& spec) {
  switch (spec.kind) {
  case OptionKind::integer:
  case OptionKind::number:
    return number_text(spec.min) + " to " + number_text(spec.max);
  case OptionKind::seconds:
    return number_text(spec.min) + " to " + number_text(spec.max) + " seconds";
  case OptionKind::flag:
    return "true or false";
  case OptionKind::choice: {
    std::string words(spec.choices);
    const auto last = words.rfind('|');
    std::replace(words.begin(), words.end(), '|', ',');
    if (last != std::string::npos) {
      words.replace(last, 1, " or ");
    }
    std::string spaced;
    for (const char c : words) {
      spaced += c;
      if (c == ',') {
        spaced += ' ';
      }
    }
    return spaced;
  }
  case OptionKind::text:
    break;
  }
  return "text";
}

std::string show_value(const OptionSpec& spec, const Config& config) {
  return std::visit(
      [&](auto field) -> std::string {
        using Field = decltype(field);
        if constexpr (std::is_same_v<Field, std::string Config::*>) {
          return config.*field;
        } else if constexpr (std::is_same_v<Field, int Config::*>) {
          return std::to_string(config.*field);
        } else if constexpr (std::is_same_v<Field, Seconds Config::*>) {
          return number_text((config.*field).count());
        } else if constexpr (std::is_same_v<Field, bool Config::*>) {
          return config.*field ? "true" : "false";
        } else {
          return number_text(config.backoff.*field);
        }
      },
      spec.field);
}

void set_option(Config& config, const OptionSpec& spec, std::string_view value) {
  switch (spec.kind) {
  case OptionKind::text:
  case OptionKind::choice:
    config.*std::get<std::string Config::*>(spec.field) = parse_text(spec, value);
    return;
  case OptionKind::integer:
    config.*std::get<int Config::*>(spec.field) = parse_integer(spec, value);
    return;
  case OptionKind::flag:
    config.*std::get<bool Config::*>(spec.field) = parse_flag(value);
    return;
  case OptionKind::seconds:
  case OptionKind::number: {
    const double number = parse_number(spec, value);
    if (const auto* seconds = std::get_if<Seconds Config::*>(&spec.field)) {
      config.**seconds = Seconds(number);
    } else {
      config.backoff.*std::get<double BackoffPolicy::*>(spec.field) = number;
    }
    return;
  }
  }
}

std::string closest_option(std::string_view name) {
  const std::string wanted = lower(name);
  std::string best;
  std::size_t best_distance = 3;
  for (const OptionSpec& spec : k_options) {
    const std::size_t distance = edit_distance(wanted, spec.name);
    if (distance < best_distance) {
      best_distance = distance;
      best = spec.name;
    }
  }
  const std::size_t allowed = std::min(name.size(), best.size()) <= 4 ? 1 : 2;
  return best_distance <= allowed ? best : "";
}

} // namespace pgtq::app
