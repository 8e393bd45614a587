#include "app/config_reference.hpp"

#include <algorithm>

namespace pgtq::app {
namespace {

constexpr std::size_t k_conf_width = 92;

// text in Markdown, as it reads: no emphasis from "*.so", no cell ends from "|".
std::string markdown_text(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '*' || c == '|' || c == '\\' || c == '_' || c == '`') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// A help line as a sentence: "worker threads" -> "Worker threads."
std::string sentence(std::string_view text) {
  std::string out(text);
  if (!out.empty() && out.front() >= 'a' && out.front() <= 'z') {
    out.front() = static_cast<char>(out.front() - 'a' + 'A');
  }
  return out + ".";
}

// text as "# " comment lines of at most k_conf_width characters; "\n\n" starts a paragraph.
std::string comment(std::string_view text) {
  std::string out;
  std::string line = "#";
  const auto flush = [&] {
    out += line + "\n";
    line = "#";
  };
  while (!text.empty()) {
    if (text.substr(0, 2) == "\n\n") {
      flush();
      flush();
      text.remove_prefix(2);
      continue;
    }
    const std::size_t end = std::min(text.find(' '), text.find("\n\n"));
    const std::string_view word = text.substr(0, end);
    if (line.size() > 1 && line.size() + 1 + word.size() > k_conf_width) {
      flush();
    }
    line += " ";
    line += word;
    text.remove_prefix(std::min(text.size(), end));
    if (!text.empty() && text.front() == ' ') {
      text.remove_prefix(1);
    }
  }
  if (line.size() > 1) {
    flush();
  }
  return out;
}

// A text value as the config file reads it back: double quotes, \" and \\ escaped.
std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

std::string default_text(const OptionSpec& spec) {
  return spec.default_note.empty() ? std::string(spec.default_value)
                                   : std::string(spec.default_note);
}

} // namespace

std::string option_help(const OptionSpec& spec) {
  return std::string(spec.help) + " (" + describe_allowed(spec) + ")";
}

std::string markdown_table() {
  std::string table = "| option / config key | default | allowed | meaning |\n"
                      "|---|---|---|---|\n";
  for (const OptionSpec& spec : option_table()) {
    std::string key = "`" + std::string(spec.name) + "`";
    if (spec.kind == OptionKind::flag && spec.default_value == "true") {
      key += " / `--no-" + std::string(spec.name) + "`";
    }
    table += "| " + key + " | " + markdown_text(default_text(spec)) + " | " +
             markdown_text(describe_allowed(spec)) + " | " + markdown_text(spec.help) + " |\n";
  }
  return table;
}

std::string example_config(const Config& defaults, std::string_view conf_dir) {
  const std::string dir(conf_dir);
  std::string text = comment(
      "pgtqd configuration: an example with every setting at its default, generated from "
      "pgtqd's option table (pgtqd --print-config-reference=conf).\n\n"
      "Copy it to " +
      dir +
      "/QUEUE.conf for the queue QUEUE and uncomment what you change; "
      "pgtqd@QUEUE.service reads that file (pgtqd --queue QUEUE --config " +
      dir +
      "/QUEUE.conf) as the user pgtq: chown root:pgtq QUEUE.conf && chmod 0640 QUEUE.conf\n\n"
      "Every key is also a command-line option (--key) and an environment variable PGTQ_KEY "
      "(upper case, dashes become underscores: plugin-dir -> PGTQ_PLUGIN_DIR). Precedence, "
      "highest first: the command line, the environment (e.g. Environment=PGTQ_CONCURRENCY=16 "
      "in a drop-in), this file, the defaults below. A key pgtqd does not know, a misspelt "
      "PGTQ_ variable and a value out of range stop it with exit status 78 and a message "
      "naming the file, line and key.\n\n"
      "Format: \"key = value\", one per line; a line starting with \"#\" is a comment. The "
      "value is the rest of the line, spaces included (dsn = host=db dbname=app needs no "
      "quotes); \"#\" after a space starts a comment. Double quotes keep everything (\"a # b\", "
      "with \\\" and \\\\ as escapes); single quotes keep everything, no escapes. Each key at "
      "most once. Durations are in seconds and may have a fraction (0.5). Flags take true or "
      "false (also yes/no, on/off, 1/0).");
  for (const OptionSpec& spec : option_table()) {
    const std::string about =
        spec.details.empty() ? sentence(spec.help) : std::string(spec.details);
    const std::string value = show_value(spec, defaults);
    text += "\n" + comment(about + " Allowed: " + describe_allowed(spec) + ".");
    text += "#" + std::string(spec.name) + " = " +
            (spec.kind == OptionKind::text ? quoted(value) : value) + "\n";
  }
  return text;
}

} // namespace pgtq::app
