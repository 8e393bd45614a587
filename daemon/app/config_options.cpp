#include "app/config_options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace pgtq::app {
namespace {

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
  const auto end =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed).ptr;
  return std::string(buffer, end);
}

// A duration in seconds, exactly: "15", "0.01", "3155760000".
std::string seconds_text(Duration duration) {
  const long long ns = duration.count();
  std::string text = std::to_string(ns / 1000000000);
  if (const long long fraction = ns % 1000000000; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 9 - digits.size(), '0');
    text += "." + digits.substr(0, digits.find_last_not_of('0') + 1);
  }
  return text;
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

double parse_number(const OptionSpec& spec, std::string_view text) {
  const std::string_view value = trimmed(text);
  double number = 0;
  const auto [end, error] = std::from_chars(
      value.data(), value.data() + value.size(), number, std::chars_format::general);
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
    throw ConfigError(
        shown +
        (text.empty() ? " is empty" : " is " + std::to_string(text.size()) + " bytes long") +
        " (allowed: " + number_text(spec.min) + " to " + number_text(spec.max) + " bytes)");
  }
  if (spec.check != nullptr) {
    if (const std::string problem = spec.check(text); !problem.empty()) {
      throw ConfigError(shown + " " + problem);
    }
  }
  return std::string(text);
}

} // namespace

const OptionSpec* find_option(std::string_view name) {
  const auto found = std::find_if(option_table().begin(),
                                  option_table().end(),
                                  [&](const OptionSpec& spec) { return spec.name == name; });
  return found == option_table().end() ? nullptr : &*found;
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

std::string describe_allowed(const OptionSpec& spec) {
  return spec.allowed_note.empty() ? describe_range(spec) : std::string(spec.allowed_note);
}

std::string show_value(const OptionSpec& spec, const Config& config) {
  return std::visit(
      [&](auto field) -> std::string {
        using Field = decltype(field);
        if constexpr (std::is_same_v<Field, std::string Config::*>) {
          return config.*field;
        } else if constexpr (std::is_same_v<Field, int Config::*>) {
          return std::to_string(config.*field);
        } else if constexpr (std::is_same_v<Field, Duration Config::*>) {
          return seconds_text(config.*field);
        } else if constexpr (std::is_same_v<Field, double Config::*>) {
          return number_text(config.*field);
        } else {
          return config.*field ? "true" : "false";
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
    // Checked as a number, then held exactly: llround of at most 3.2e18 fits a long long.
    config.*std::get<Duration Config::*>(spec.field) =
        Duration(std::llround(parse_number(spec, value) * 1e9));
    return;
  case OptionKind::number:
    config.*std::get<double Config::*>(spec.field) = parse_number(spec, value);
    return;
  }
}

std::string closest_option(std::string_view name) {
  const std::string wanted = lower(name);
  std::string best;
  std::size_t best_distance = 3;
  for (const OptionSpec& spec : option_table()) {
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
