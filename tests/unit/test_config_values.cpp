// Every value pgtqd accepts is range-checked, and a bad one is refused with a message naming
// the file, the line and the key. The table is shared with the integration test that feeds
// the same lines to the real pgtqd (tests/integration/test_config_pgtqd.cpp).
#include "../support/bad_config_values.hpp"
#include "app/config_file.hpp"
#include "app/config_options.hpp"
#include "app/config_sources.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace pgtq::app;

namespace {

// The settings of a config file text, as pgtqd builds them.
Config configured(const std::string& text) {
  std::vector<Setting> settings;
  for (FileSetting& line : parse_config_text(text, "test.conf")) {
    settings.push_back({line.key, line.value, "test.conf line " + std::to_string(line.line)});
  }
  return configure(Config{}, settings);
}

const std::string k_head = "queue = q\nplugin-dir = /nonexistent\n";

// Two lines before the one under test, without setting its key.
std::string head_for(const std::string& key) {
  return std::string(key == "queue" ? "#\n" : "queue = q\n") +
         (key == "plugin-dir" ? "#\n" : "plugin-dir = /nonexistent\n");
}

} // namespace

TEST_CASE("bad config values are refused with file, line and key") {
  const auto& cases = pgtq::test::bad_config_values();
  CHECK(cases.size() >= 60);
  for (const auto& bad : cases) {
    const std::string line = bad.key + " = " + bad.value;
    CAPTURE(line);
    try {
      configured(head_for(bad.key) + line + "\n");
      FAIL_CHECK("accepted: " << line);
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      CHECK_MESSAGE(message.find(bad.key) != std::string::npos, message);
      if (!bad.cross_field) {
        CHECK_MESSAGE(message.rfind("test.conf line 3: " + bad.key + ": ", 0) == 0, message);
      } else {
        CHECK_MESSAGE(message.find("test.conf line 3") != std::string::npos, message);
      }
      if (!bad.expect.empty()) {
        CHECK_MESSAGE(message.find(bad.expect) != std::string::npos, message);
      }
    }
  }
}

TEST_CASE("values at the edges of the documented ranges are accepted") {
  const Config edges = configured(k_head +
                                  "lease = 86400\n"
                                  "heartbeat = 0.01\n"
                                  "poll-interval = 0.01\n"
                                  "shutdown-grace = 0\n"
                                  "scheduler-interval = 3600\n"
                                  "backoff-base = 0.01\n"
                                  "backoff-factor = 100\n"
                                  "backoff-cap = 3155760000\n"
                                  "concurrency = 1024\n"
                                  "prefetch = 10000\n"
                                  "worker-name = " +
                                  std::string(128, 'w') + "\n");
  CHECK(edges.lease == std::chrono::seconds(86400));
  CHECK(edges.heartbeat == std::chrono::milliseconds(10));
  CHECK(edges.backoff_cap == std::chrono::seconds(3155760000));
  CHECK(edges.concurrency == 1024);
  CHECK(edges.worker_name.size() == 128);

  const Config low = configured(k_head + "lease = 1\nheartbeat = 0.5\nconcurrency = 1\n"
                                         "backoff-factor = 1\nworker-name = caf\xc3\xa9\n"
                                         "migrate = yes\nscheduler = off\n"
                                         "prepared-statements = 0\n");
  CHECK(low.lease == std::chrono::seconds(1));
  CHECK(low.migrate);
  CHECK_FALSE(low.scheduler);
  CHECK_FALSE(low.prepared_statements);
  CHECK(low.worker_name == "caf\xc3\xa9");
}

TEST_CASE("every option has a documented range and a default inside it") {
  const Config defaults;
  for (const OptionSpec& spec : option_table()) {
    CAPTURE(spec.name);
    CHECK_FALSE(spec.help.empty());
    Config copy = defaults;
    const std::string value = show_value(spec, defaults);
    if (spec.name == "queue" || spec.name == "plugin-dir") {
      continue; // no default: required, or computed at start
    }
    CHECK_NOTHROW(set_option(copy, spec, value));
    CHECK(show_value(spec, copy) == value);
  }
}

TEST_CASE("a misspelt key is refused with the closest option") {
  CHECK_THROWS_WITH_AS(configured(k_head + "plugin_dir = /x\n"),
                       "test.conf line 3: unknown key \"plugin_dir\" (did you mean plugin-dir?)",
                       ConfigError);
  CHECK_THROWS_WITH_AS(configured(k_head + "concurency = 3\n"),
                       doctest::Contains("did you mean concurrency?"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(configured(k_head + "colour = blue\n"),
                       "test.conf line 3: unknown key \"colour\"",
                       ConfigError);
}

TEST_CASE("a cross-field error names both settings and where they came from") {
  CHECK_THROWS_WITH_AS(
      configured(k_head + "lease = 10\nheartbeat = 6\n"),
      "heartbeat (from test.conf line 4) must be at most half of lease (from test.conf line "
      "3), so that one late heartbeat does not lose the lease",
      ConfigError);
  CHECK_THROWS_WITH_AS(configured(k_head + "lease = 4\n"),
                       doctest::Contains("heartbeat (default) must be at most half of lease "
                                         "(from test.conf line 3)"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(
      configured("plugin-dir = /x\n"), doctest::Contains("queue is required"), ConfigError);
}
