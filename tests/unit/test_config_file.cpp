// The config file format: what a line may look like, and how a bad one is reported.
#include "app/config.hpp"
#include "app/config_file.hpp"

#include <doctest/doctest.h>

using namespace pgtq::app;

namespace {

std::string value_of(const std::string& line) {
  const std::vector<FileSetting> settings = parse_config_text(line + "\n", "q.conf");
  REQUIRE(settings.size() == 1);
  return settings[0].value;
}

} // namespace

TEST_CASE("a dsn with spaces needs no quotes, and # starts a comment only after a space") {
  CHECK(value_of("dsn = host=db.example dbname=app user=pgtq") ==
        "host=db.example dbname=app user=pgtq");
  CHECK(value_of("dsn = host=db dbname=app  # the main database") == "host=db dbname=app");
  CHECK(value_of("dsn = host=db application_name=a#1") == "host=db application_name=a#1");
  CHECK(value_of("dsn=host=db") == "host=db");
  CHECK(value_of("  lease\t=\t15  ") == "15");
}

TEST_CASE("quoted values keep # and spaces") {
  CHECK(value_of(R"(dsn = "host=db application_name='x # y'")") ==
        "host=db application_name='x # y'");
  CHECK(value_of(R"(worker-name = "a \"b\" \\ c" # comment)") == R"(a "b" \ c)");
  CHECK(value_of(R"(worker-name = "C:\temp")") == R"(C:\temp)"); // other backslashes stay
  CHECK(value_of("worker-name = 'it has # and \"'") == "it has # and \"");
  CHECK(value_of("worker-name = \"\"") == "");
  CHECK(value_of("dsn =") == "");
}

TEST_CASE("comments, blank lines and CRLF line ends are skipped") {
  const auto settings = parse_config_text("# a comment\r\n\r\n   # indented\nlease = 20\r\n"
                                          "heartbeat = 5",
                                          "q.conf");
  REQUIRE(settings.size() == 2);
  CHECK(settings[0].key == "lease");
  CHECK(settings[0].value == "20");
  CHECK(settings[0].line == 4);
  CHECK(settings[1].line == 5);
}

TEST_CASE("a bad line is reported with the file and line") {
  auto error_of = [](const std::string& text) {
    try {
      parse_config_text(text, "/etc/pgtq/q.conf");
    } catch (const ConfigError& error) {
      return std::string(error.what());
    }
    return std::string("(accepted)");
  };
  CHECK(error_of("lease = 1\nlease = 2\n") ==
        "/etc/pgtq/q.conf line 2: lease is already set on line 1");
  CHECK(error_of("\n[main]\n") == "/etc/pgtq/q.conf line 2: sections ([...]) are not part of "
                                  "pgtqd's config format; write \"key = value\" lines only");
  CHECK(error_of("lease 15\n") == "/etc/pgtq/q.conf line 1: expected \"key = value\"");
  CHECK(error_of("= 15\n") == "/etc/pgtq/q.conf line 1: no key before the \"=\"");
  CHECK(error_of("plugin dir = /x\n")
            .rfind("/etc/pgtq/q.conf line 1: \"plugin dir\" is not a key", 0) == 0);
  CHECK(error_of("dsn = \"host=db\n") ==
        "/etc/pgtq/q.conf line 1: dsn: the value has no closing double quote");
  CHECK(error_of("dsn = 'host=db\n") ==
        "/etc/pgtq/q.conf line 1: dsn: the value has no closing single quote");
  CHECK(error_of("dsn = \"host=db\" dbname=x\n") ==
        "/etc/pgtq/q.conf line 1: dsn: text after the closing quote; put the whole value in "
        "the quotes");
  CHECK(error_of(std::string("lease = 1\0", 10) + "\n") ==
        "/etc/pgtq/q.conf line 1: contains a NUL byte");
}

TEST_CASE("a config file that cannot be read is named") {
  CHECK_THROWS_WITH_AS(read_config_file("/nonexistent/pgtq.conf"),
                       "config file /nonexistent/pgtq.conf: No such file or directory",
                       ConfigError);
  CHECK_THROWS_WITH_AS(read_config_file("/tmp"), "config file /tmp is a directory", ConfigError);
}
