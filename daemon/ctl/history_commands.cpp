// pgtqctl's history commands: retention and prune.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/session.hpp"
#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <pgtq/client/push.hpp>

namespace pgtq::ctl {

namespace {

// Whether keep is an interval pgtq.set_retention accepts (0 to 100 years on the calendar):
// asked of the server, which reads intervals, before anything is changed.
bool keep_ok(db::Connection& connection, const std::string& keep) {
  try {
    return connection.run(db::queries::k_keep_ok, {keep}).text(0, 0) == "t";
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
    return false; // no interval at all (22007), or one out of range (22008, 22015)
  }
}

} // namespace

int retention(const std::string& dsn, const RetentionOptions& options, std::ostream& out) {
  if (options.queue) {
    check_name("--queue", *options.queue);
  }
  if (options.state) {
    if (!pgtq::detail::is_end_state(*options.state)) {
      throw UsageError("--state must be succeeded, failed or cancelled (unset: all three), got '" +
                       *options.state + "'");
    }
    if (!options.keep) {
      throw UsageError("--state goes with --keep");
    }
  }
  const db::Param queue = options.queue ? db::Param(*options.queue) : std::nullopt;
  const db::Param state = options.state ? db::Param(*options.state) : std::nullopt;
  db::Connection connection = connect(dsn);
  const bool reset = options.keep == "default";
  const bool forever = options.keep == "forever";
  // A bare number is seconds to PostgreSQL ('7' is 7 s, not 7 days): on a setting that
  // deletes history, a unit is required.
  if (options.keep && !reset && !forever &&
      (options.keep->find_first_not_of("0123456789. +-") == std::string::npos ||
       !keep_ok(connection, *options.keep))) {
    throw UsageError("--keep must be an interval of 0 to 100 years with its unit, such as "
                     "'30 days', or 'forever' or 'default', got '" +
                     *options.keep + "'");
  }
  if (reset) {
    connection.run(db::queries::k_reset_retention, {queue, state});
  } else if (options.keep) {
    connection.run(db::queries::k_set_retention,
                   {queue, state, forever ? std::nullopt : db::Param(*options.keep)});
  }
  const db::Result rules = connection.run(db::queries::k_retention_rules, {queue});
  if (rules.rows() == 0) {
    out << "no retention rules: finished tasks are kept until pruned\n";
    return 0;
  }
  print_table({"queue", "state", "keep", "changed"}, rules, out);
  out << connection.run(db::queries::k_retention_due, {}).text(0, 0)
      << " finished task(s) past their rule now; pgtqd removes them within 10 s, or with "
         "their day's partition (README: History by day)\n";
  return 0;
}

int prune(const std::string& dsn, const std::string& older_than, std::ostream& out) {
  db::Connection connection = connect(dsn);
  // A zero or negative age would put the cutoff at or after now: all history.
  bool age_ok = false;
  try {
    age_ok = connection.run(db::queries::k_prune_age_ok, {older_than}).text(0, 0) == "t";
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
  }
  if (!age_ok) {
    throw UsageError("--older-than must be an interval greater than 0 and at most 1000 years, "
                     "e.g. '30 days', got '" +
                     older_than + "'");
  }
  const db::Result removed = connection.run(db::queries::k_prune, {older_than});
  out << "removed " << removed.text(0, 0) << " finished tasks\n";
  return 0;
}

} // namespace pgtq::ctl
