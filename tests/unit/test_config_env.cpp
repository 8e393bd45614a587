// PGTQ_* environment variables: options are taken, misspelt ones refused, others ignored.
#include "app/config.hpp"
#include "app/config_sources.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq::app;

namespace {

EnvironmentSettings scan(std::vector<std::string> entries) {
  std::vector<char*> envp;
  for (std::string& entry : entries) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  return environment_settings(envp.data());
}

} // namespace

TEST_CASE("PGTQ_<OPTION> variables are settings, PGTQ_CONFIG names the file") {
  const EnvironmentSettings found = scan({"HOME=/root",
                                          "PGTQ_LEASE=20",
                                          "PGTQ_PLUGIN_DIR=/p",
                                          "PGTQ_CONFIG=/etc/pgtq/q.conf",
                                          "PGTQ_MIGRATE=true"});
  REQUIRE(found.settings.size() == 3);
  CHECK(found.settings[0].key == "lease");
  CHECK(found.settings[0].value == "20");
  CHECK(found.settings[0].origin == "environment variable PGTQ_LEASE");
  CHECK(found.settings[1].key == "plugin-dir");
  CHECK(found.config_path == "/etc/pgtq/q.conf");
  CHECK(found.ignored.empty());
}

TEST_CASE("a misspelt PGTQ_ option is an error naming it and the option it resembles") {
  CHECK_THROWS_WITH_AS(scan({"PGTQ_CONCURENCY=3", "PGTQ_LEASES=9"}),
                       "environment: not pgtqd options, but close to one: PGTQ_CONCURENCY (did "
                       "you mean PGTQ_CONCURRENCY?), PGTQ_LEASES (did you mean PGTQ_LEASE?)",
                       ConfigError);
  CHECK_THROWS_WITH_AS(
      scan({"PGTQ_PLUGINS_DIR=/x"}), doctest::Contains("PGTQ_PLUGIN_DIR?"), ConfigError);
  CHECK_THROWS_WITH_AS(
      scan({"PGTQ_plugin_dir=/x"}), doctest::Contains("PGTQ_PLUGIN_DIR?"), ConfigError);
  CHECK_THROWS_WITH_AS(
      scan({"PGTQ_WORKERNAME=w"}), doctest::Contains("PGTQ_WORKER_NAME?"), ConfigError);
}

TEST_CASE("the PGTQ_ variables pgtq's own scripts and tests set are ignored, not refused") {
  // scripts/lib/common.sh, scripts/test.sh, scripts/demo.sh, bench/run.sh and the test
  // plugins: pgtqd inherits them when a script or test starts it.
  const EnvironmentSettings found = scan({"PGTQ_TEST_DSN=x",
                                          "PGTQ_PG_DSN=x",
                                          "PGTQ_PG_DIR=x",
                                          "PGTQ_PG_DATA=x",
                                          "PGTQ_PG_BIN=x",
                                          "PGTQ_ROOT=x",
                                          "PGTQ_BUILD_DIR=x",
                                          "PGTQ_SANITIZE=x",
                                          "PGTQ_LEDGER_DSN=x",
                                          "PGTQ_BUILD_PACKAGES=x",
                                          "PGTQ_SERVER_PACKAGES=x",
                                          "PGTQ_TEST_PACKAGES=x"});
  CHECK(found.settings.empty());
  CHECK(found.ignored.size() == 12);
  // demo.sh's PGTQ_DSN is pgtqd's own dsn option: taken, as intended.
  CHECK(scan({"PGTQ_DSN=host=db"}).settings.at(0).key == "dsn");
}
