// Bad config values pgtqd must refuse, each as written on a "key = value" line of a config
// file. Shared by the unit test of the parser (tests/unit/test_config_values.cpp) and the
// test of the real pgtqd (tests/integration/test_config_pgtqd.cpp).
#ifndef PGTQ_TESTS_SUPPORT_BAD_CONFIG_VALUES_HPP
#define PGTQ_TESTS_SUPPORT_BAD_CONFIG_VALUES_HPP

#include <string>
#include <vector>

namespace pgtq::test {

struct BadConfigValue {
  std::string key;
  std::string value;        // as written after "key = "
  std::string expect = "";  // a part of the message, when it matters
  bool cross_field = false; // refused by a check of several settings (names the line too)
};

inline const std::vector<BadConfigValue>& bad_config_values() {
  static const std::vector<BadConfigValue> cases = [] {
    std::vector<BadConfigValue> all;
    // Every duration: not a number, not finite, beyond a day (or its own limit), below
    // 10 ms (1e-9 s ran 53,000 scheduler transactions in 6 s), negative, with a unit.
    for (const char* key : {"lease",
                            "heartbeat",
                            "poll-interval",
                            "shutdown-grace",
                            "scheduler-interval",
                            "backoff-base",
                            "backoff-cap"}) {
      all.push_back({key, "nan", "is not a number of seconds"});
      all.push_back({key, "inf", "is not a number of seconds"});
      all.push_back({key, "-inf", "is not a number of seconds"});
      all.push_back({key, "1e300", "out of range"});
      all.push_back({key, "-1", "out of range"});
      all.push_back({key, "5s", "is not a number of seconds"});
      all.push_back({key, "\"\"", "is not a number of seconds"});
      all.push_back({key, "0x10", "is not a number of seconds"});
      if (std::string(key) != "shutdown-grace") {
        all.push_back({key, "1e-9", "out of range"});
      }
    }
    all.push_back({"lease", "0.5", "out of range"});
    all.push_back({"lease", "86401", "out of range"});
    all.push_back({"heartbeat", "10", "at most half of lease", true});
    all.push_back({"poll-interval", "86401", "out of range"});
    all.push_back({"shutdown-grace", "86401", "out of range"});
    all.push_back({"scheduler-interval", "3601", "out of range"});
    all.push_back({"backoff-cap", "3155760001", "out of range"});
    all.push_back({"backoff-cap", "0.5", "must be at least backoff-base", true});
    all.push_back({"backoff-factor", "nan", "is not a number"});
    all.push_back({"backoff-factor", "inf", "is not a number"});
    all.push_back({"backoff-factor", "0.5", "out of range"});
    all.push_back({"backoff-factor", "101", "out of range"});
    all.push_back({"backoff-factor", "-2", "out of range"});
    for (const char* value : {"0", "-1", "1025", "2.5", "eight", "99999999999999999999", "\"\""}) {
      all.push_back({"concurrency", value});
    }
    for (const char* value : {"-1", "10001", "x", "1.5"}) {
      all.push_back({"prefetch", value});
    }
    for (const char* value : {"loud", "INFO", "\"\"", "info debug"}) {
      all.push_back({"log-level", value, "trace, debug, info, warn or error"});
    }
    for (const char* value : {"no", "\"\"", "STRICT"}) {
      all.push_back({"plugin-dir-checks", value, "strict or off"});
    }
    for (const char* value : {"ignore", "\"\"", "true"}) {
      all.push_back({"plugin-load-errors", value, "fail or skip"});
    }
    for (const char* key : {"migrate", "scheduler", "prepared-statements"}) {
      all.push_back({key, "2", "is not true or false"});
      all.push_back({key, "maybe", "is not true or false"});
      all.push_back({key, "\"\"", "is not true or false"});
    }
    all.push_back({"worker-name", "\"a\tb\"", "control characters"});
    all.push_back({"worker-name", "\"\x7f\"", "control characters"});
    all.push_back({"worker-name", "\"\xff\xfe\"", "UTF-8"});
    all.push_back({"worker-name", "\"caf\xc3\"", "UTF-8"});
    all.push_back({"worker-name", "\"\xed\xa0\x80\"", "UTF-8"}); // an encoded surrogate
    all.push_back({"worker-name", std::string(129, 'w'), "129 bytes long"});
    all.push_back({"worker-name", std::string(1 << 20, 'w'), "1048576 bytes long"});
    all.push_back({"queue", "\"\"", "is empty"});
    for (const char* value : {"\"a b\"",
                              "x;y",
                              "gr\xc3\xbc\xc3\x9f"
                              "e"}) {
      all.push_back({"queue", value, "[A-Za-z0-9_.:-]"});
    }
    all.push_back({"queue", std::string(129, 'q'), "[A-Za-z0-9_.:-]"});
    all.push_back({"queue", "a,,b", "an empty entry"});
    all.push_back({"queue", "a,", "an empty entry"});
    all.push_back({"queue", "a, b, a", "queue \"a\" is given twice"});
    for (const char* value : {"a=0", "a=1025", "a=x", "a=", "a=2.5", "a=-1"}) {
      all.push_back({"queue", value, "is not a number of workers from 1 to 1024"});
    }
    all.push_back({"dsn", "host=db password='Unterminated99", "neither key=value"});
    all.push_back({"dsn", "nonsense", "neither key=value"});
    all.push_back({"dsn", "postgresql://[broken", "neither key=value"});
    all.push_back({"dsn", "colour=blue", "neither key=value"});
    all.push_back({"plugin-dir", "\"\"", "is empty"});
    all.push_back({"plugin-dir", "\"/srv/\x01plugins\"", "control characters"});
    all.push_back({"plugin-config-dir", "/nonexistent/pgtq-config", "No such file", true});
    all.push_back({"plugin-config-dir", "/etc/passwd", "is not a directory", true});
    return all;
  }();
  return cases;
}

} // namespace pgtq::test

#endif
