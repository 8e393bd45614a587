#include "app/config_file.hpp"

#include "app/config.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

namespace pgtq::app {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// After a closing quote only blanks and a comment may follow.
void check_rest(std::string_view rest) {
  rest = trim(rest);
  if (!rest.empty() && rest.front() != '#') {
    throw ConfigError("text after the closing quote; put the whole value in the quotes");
  }
}

std::string value_of(std::string_view text) {
  text = trim(text);
  if (!text.empty() && (text.front() == '"' || text.front() == '\'')) {
    const char quote = text.front();
    std::string value;
    for (std::size_t at = 1; at < text.size(); ++at) {
      const char c = text[at];
      if (c == quote) {
        check_rest(text.substr(at + 1));
        return value;
      }
      if (quote == '"' && c == '\\' && at + 1 < text.size() &&
          (text[at + 1] == '"' || text[at + 1] == '\\')) {
        ++at;
      }
      value += text[at];
    }
    throw ConfigError(std::string("the value has no closing ") +
                      (quote == '"' ? "double" : "single") + " quote");
  }
  // Unquoted: a # starts a comment only at the start of a word, so "host=db#1" keeps it.
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (text[at] == '#' && (at == 0 || is_space(text[at - 1]))) {
      return std::string(trim(text.substr(0, at)));
    }
  }
  return std::string(text);
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

} // namespace

std::vector<FileSetting> parse_config_text(std::string_view text, const std::string& file) {
  std::vector<FileSetting> settings;
  std::map<std::string, int> seen;
  int number = 0;
  while (!text.empty()) {
    ++number;
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    const std::string where = file + " line " + std::to_string(number);
    if (line.find('\0') != std::string_view::npos) {
      throw ConfigError(where + ": contains a NUL byte");
    }
    line = trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.front() == '[') {
      throw ConfigError(where + ": sections ([...]) are not part of pgtqd's config format; "
                                "write \"key = value\" lines only");
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      throw ConfigError(where + ": expected \"key = value\"");
    }
    const std::string key(trim(line.substr(0, equals)));
    if (key.empty()) {
      throw ConfigError(where + ": no key before the \"=\"");
    }
    for (const char c : key) {
      if (!is_key_char(c)) {
        throw ConfigError(where + ": \"" + key +
                          "\" is not a key (keys are the long option "
                          "names, such as plugin-dir)");
      }
    }
    FileSetting setting{key, {}, number};
    try {
      setting.value = value_of(line.substr(equals + 1));
    } catch (const ConfigError& error) {
      throw ConfigError(where + ": " + key + ": " + error.what());
    }
    if (const auto [previous, inserted] = seen.emplace(key, number); !inserted) {
      throw ConfigError(where + ": " + key + " is already set on line " +
                        std::to_string(previous->second));
    }
    settings.push_back(std::move(setting));
  }
  return settings;
}

std::vector<FileSetting> read_config_file(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    throw ConfigError("config file " + path + ": " + std::system_category().message(errno));
  }
  if (S_ISDIR(status.st_mode)) {
    throw ConfigError("config file " + path + " is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ConfigError("config file " + path + ": cannot open it");
  }
  // Far more than any real config; a bound so that a wrong path (a disk image) is refused.
  constexpr std::size_t k_max_size = 16 << 20;
  std::string text;
  char buffer[1 << 16];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (text.size() > k_max_size) {
      throw ConfigError("config file " + path + " is over 16 MiB");
    }
  }
  if (file.bad()) {
    throw ConfigError("config file " + path + ": cannot read it");
  }
  return parse_config_text(text, path);
}

} // namespace pgtq::app
