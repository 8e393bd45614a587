#include "app/config.hpp"

#include <doctest/doctest.h>

using pgtq::app::Config;
using pgtq::app::ConfigError;
using std::chrono::seconds;

TEST_CASE("config validation names the settings that depend on each other") {
  Config config;
  config.queue = "emails";
  CHECK_NOTHROW(config.validate());

  SUBCASE("queue is required") {
    config.queue = "";
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("queue"), ConfigError);
  }
  SUBCASE("heartbeat must be at most half the lease") {
    config.lease = seconds(10);
    config.heartbeat = seconds(6);
    config.origins["lease"] = "q.conf line 2";
    CHECK_THROWS_WITH_AS(config.validate(),
                         doctest::Contains("heartbeat (default) must be at most half of lease "
                                           "(from q.conf line 2)"),
                         ConfigError);
  }
  SUBCASE("backoff cap at least the base") {
    config.backoff_base = seconds(10);
    config.backoff_cap = seconds(5);
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("backoff-cap"), ConfigError);
  }
  SUBCASE("plugin-config-dir must be a directory") {
    config.plugin_config_dir = "/etc/passwd";
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("is not a directory"), ConfigError);
  }
}
