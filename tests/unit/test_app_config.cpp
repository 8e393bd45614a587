#include "app/config.hpp"

#include <doctest/doctest.h>

using pgtq::app::Config;
using pgtq::app::ConfigError;
using pgtq::app::Seconds;

TEST_CASE("config validation names the bad setting") {
  Config config;
  config.queue = "emails";
  CHECK_NOTHROW(config.validate());

  SUBCASE("queue") {
    config.queue = "";
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("queue"), ConfigError);
  }
  SUBCASE("concurrency") {
    config.concurrency = 0;
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("concurrency"), ConfigError);
  }
  SUBCASE("heartbeat must be at most half the lease") {
    config.lease = Seconds(10);
    config.heartbeat = Seconds(6);
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("heartbeat"), ConfigError);
  }
  SUBCASE("backoff") {
    config.backoff.factor = 0.5;
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("backoff"), ConfigError);
  }
  SUBCASE("log level") {
    config.log_level = "loud";
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("log-level"), ConfigError);
  }
}
