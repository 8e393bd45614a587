#include "http/listen_address.hpp"
#include "metrics/exposition.hpp"
#include "metrics/metrics_page.hpp"
#include "queue/queue_metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace pgtq;

TEST_CASE("metrics: the text format escapes label values and help text") {
  metrics::Exposition out;
  out.family("pgtq_x_total", "counter", "a \\ b\nc");
  out.sample("pgtq_x_total", {{"task", "say \"hi\"\\\n"}, {"queue", "q"}}, 3);
  out.sample("pgtq_x_total", {}, 0.5);
  CHECK(out.text() == "# HELP pgtq_x_total a \\\\ b\\nc\n"
                      "# TYPE pgtq_x_total counter\n"
                      "pgtq_x_total{task=\"say \\\"hi\\\"\\\\\\n\",queue=\"q\"} 3\n"
                      "pgtq_x_total 0.5\n");
}

TEST_CASE("metrics: values are written so that they read back, infinities included") {
  CHECK(metrics::format_value(0) == "0");
  CHECK(metrics::format_value(1234567) == "1234567");
  CHECK(std::stod(metrics::format_value(0.1 + 0.2)) == 0.1 + 0.2);
  CHECK(metrics::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(metrics::format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(metrics::format_value(std::nan("")) == "NaN");
}

TEST_CASE("metrics: a histogram's buckets are cumulative and end in +Inf") {
  queue::DurationHistogram histogram;
  histogram.observe(0.004); // <= 0.005
  histogram.observe(0.005); // on a bound: counted in it
  histogram.observe(0.2);   // <= 0.25
  histogram.observe(7200);  // past the last bound: +Inf only
  histogram.observe(-1);    // a clock step: counted as 0
  CHECK(histogram.count == 5);
  CHECK(histogram.sum == doctest::Approx(7200.209));
  metrics::Exposition out;
  out.histogram("h",
                {{"task", "t"}},
                queue::DurationHistogram::k_bounds,
                histogram.buckets,
                histogram.count,
                histogram.sum);
  const std::string& text = out.text();
  CHECK(text.find("h_bucket{task=\"t\",le=\"0.005\"} 3\n") != std::string::npos);
  CHECK(text.find("h_bucket{task=\"t\",le=\"0.1\"} 3\n") != std::string::npos);
  CHECK(text.find("h_bucket{task=\"t\",le=\"0.25\"} 4\n") != std::string::npos);
  CHECK(text.find("h_bucket{task=\"t\",le=\"3600\"} 4\n") != std::string::npos);
  CHECK(text.find("h_bucket{task=\"t\",le=\"+Inf\"} 5\n") != std::string::npos);
  CHECK(text.find("h_count{task=\"t\"} 5\n") != std::string::npos);
}

TEST_CASE("metrics: an attempt counts under its task name and ending") {
  queue::DaemonState state;
  state.metrics.record("mail", queue::Ending::succeeded, 0.01, false, false);
  state.metrics.record("mail", queue::Ending::retried, 2, true, false);
  state.metrics.record("mail", queue::Ending::failed, 1, false, true);
  const std::string page = metrics::render_metrics(
      {.version = "1.2.3", .loops = {{.queue = "q", .concurrency = 4, .state = &state}}});
  CHECK(page.find("pgtq_build_info{version=\"1.2.3\"} 1\n") != std::string::npos);
  CHECK(page.find("pgtq_attempts_total{queue=\"q\",task=\"mail\",outcome=\"succeeded\"} 1\n") !=
        std::string::npos);
  CHECK(page.find("pgtq_attempts_total{queue=\"q\",task=\"mail\",outcome=\"retried\"} 1\n") !=
        std::string::npos);
  CHECK(page.find("pgtq_attempts_total{queue=\"q\",task=\"mail\",outcome=\"failed\"} 1\n") !=
        std::string::npos);
  CHECK(page.find("pgtq_attempt_timeouts_total{queue=\"q\",task=\"mail\"} 1\n") !=
        std::string::npos);
  CHECK(page.find("pgtq_attempt_crashes_total{queue=\"q\",task=\"mail\"} 1\n") !=
        std::string::npos);
  CHECK(page.find("pgtq_workers{queue=\"q\"} 4\n") != std::string::npos);
  CHECK(page.find("pgtq_database_up 0\n") != std::string::npos);       // no reading given
  CHECK(page.find("pgtq_scheduler_ticks_total") == std::string::npos); // no scheduler
}

TEST_CASE("metrics: metrics-listen takes HOST:PORT and names what is wrong") {
  std::string why;
  auto parsed = http::parse_listen_address("127.0.0.1:9187", &why);
  REQUIRE(parsed);
  CHECK(parsed->host == "127.0.0.1");
  CHECK(parsed->port == 9187);
  parsed = http::parse_listen_address("[::1]:0", &why);
  REQUIRE(parsed);
  CHECK(parsed->host == "::1");
  CHECK(parsed->port == 0);
  CHECK(http::parse_listen_address("localhost:80", &why));

  CHECK_FALSE(http::parse_listen_address("9187", &why));
  CHECK(why.find("HOST:PORT") != std::string::npos);
  CHECK_FALSE(http::parse_listen_address(":9187", &why));
  CHECK(why.find("host") != std::string::npos);
  CHECK_FALSE(http::parse_listen_address("::1:9187", &why));
  CHECK(why.find("brackets") != std::string::npos);
  CHECK_FALSE(http::parse_listen_address("127.0.0.1:65536", &why));
  CHECK(why.find("65535") != std::string::npos);
  CHECK_FALSE(http::parse_listen_address("127.0.0.1:http", &why));
  CHECK_FALSE(http::parse_listen_address("a b:1", &why));
}
