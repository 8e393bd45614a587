// pgtqctl top: every queue and live worker, drawn again every few seconds.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/key_watch.hpp"
#include "ctl/session.hpp"
#include "db/queries.hpp"

#include <unistd.h>

#include <charconv>
#include <sstream>

namespace pgtq::ctl {
namespace {

// --interval in seconds, 0.1 to 3600 (a fraction is fine: 0.5).
std::chrono::milliseconds parse_interval(const std::string& text) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, seconds);
  if (text.empty() || error != std::errc() || stop != end || !(seconds >= 0.1) || seconds > 3600) {
    throw UsageError("--interval must be a number of seconds from 0.1 to 3600, got '" + text + "'");
  }
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

void draw_frame(db::Connection& connection, const std::string& interval, std::ostream& out) {
  const db::Result now = connection.run(db::queries::k_ctl_top_time, {});
  const db::Result queues = connection.run(db::queries::k_ctl_top_queues, {});
  const db::Result workers = connection.run(db::queries::k_live_workers, {std::nullopt});
  out << "pgtqctl top   " << now.text(0, 0) << "   every " << interval
      << " s (q or Ctrl-C quits)\n\n";
  if (queues.rows() == 0) {
    out << "no queues yet: nothing pushed, no settings, no workers\n";
  } else {
    print_table({"queue",
                 "queued",
                 "scheduled",
                 "running",
                 "pending",
                 "oldest queued s",
                 "succeeded 1h",
                 "failed 1h",
                 "workers",
                 "slots",
                 "paused"},
                queues,
                out);
  }
  out << '\n';
  if (workers.rows() == 0) {
    out << "no live workers\n";
    return;
  }
  // Columns of k_live_workers.
  print_table({"worker", "queue", "host", "pid", "running", "concurrency", "seen s ago"},
              {0, 1, 2, 3, 7, 5, 8},
              workers,
              out);
}

} // namespace

int top(const std::string& dsn, const TopOptions& options, std::ostream& out) {
  const std::chrono::milliseconds interval = parse_interval(options.interval);
  db::Connection connection = connect(dsn);
  if (options.once) {
    draw_frame(connection, options.interval, out);
    return 0;
  }
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  KeyWatch keys;
  do {
    // Drawn whole, then written at once: the screen is never seen half cleared.
    std::ostringstream frame;
    draw_frame(connection, options.interval, frame);
    if (terminal) {
      out << "\x1b[H\x1b[2J"; // cursor home, clear the screen
    }
    out << frame.str() << (terminal ? "" : "\n") << std::flush;
  } while (!keys.wait_for_quit(interval));
  return 0;
}

} // namespace pgtq::ctl
