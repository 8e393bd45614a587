#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgtq::app {

// One "key = value" line of a config file.
struct FileSetting {
  std::string key;
  std::string value;
  int line = 0;
};

// The config file format, pgtqd's own (no INI sections, no arrays):
//   # a comment                  blank lines and lines starting with # are skipped
//   key = value                  the value is the rest of the line, spaces inside kept
//                                (dsn = host=db dbname=app); a # after a space starts a
//                                comment
//   key = "value # not a comment" double quotes keep everything; \" and \\ are escapes
//   key = 'value'                single quotes keep everything, no escapes
// A key may appear once. Throws ConfigError naming the file and line of the first problem.
std::vector<FileSetting> parse_config_text(std::string_view text, const std::string& file);

// Reads and parses the file at path (at most 16 MiB). Throws ConfigError naming it.
std::vector<FileSetting> read_config_file(const std::string& path);

} // namespace pgtq::app
