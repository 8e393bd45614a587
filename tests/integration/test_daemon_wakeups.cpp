// Wake-ups the claim loop must not lose: a pgtq_wakeup notification that reaches pgtqd at an
// awkward moment is still acted upon, not left waiting for the next poll (minutes away here).
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// The daemon's claim session, by the application_name pgtqd gives it.
const std::string k_claim_session = "datname = current_database() AND application_name LIKE "
                                    "'pgtqd:default:claim%'";

// Makes the daemon's claims wait, after they have looked for work, while `gate` holds
// advisory lock 7001: a statement trigger on live_tasks fires even for a claim that updated
// no row, and only the claim session waits in it.
void hold_claims_on(db::Connection& connection) {
  query(connection, R"(
    CREATE FUNCTION public.hold_claims() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
      IF current_setting('application_name') LIKE 'pgtqd:default:claim%' THEN
        PERFORM pg_advisory_xact_lock_shared(7001);
      END IF;
      RETURN NULL;
    END $$)");
  query(connection,
        "CREATE TRIGGER hold_claims AFTER UPDATE ON pgtq.live_tasks "
        "FOR EACH STATEMENT EXECUTE FUNCTION public.hold_claims()");
}

} // namespace

TEST_CASE("a task pushed while a woken claim finds nothing runs, though its wake-up came "
          "with that claim's result") {
  TestDatabase database;
  db::Connection connection = database.connect();
  db::Connection gate = database.connect();
  hold_claims_on(connection);
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  // The claim made at startup is over: the next one is the wake-up's.
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return count(connection,
                                     "SELECT count(*) FROM pg_stat_activity WHERE " +
                                         k_claim_session +
                                         " AND state = 'idle' AND query LIKE '%pgtq.claim(%'") == 1;
                      },
                      20s),
                  daemon.log());

  query(gate, "SELECT pg_advisory_lock(7001)");
  query(connection, "NOTIFY pgtq_wakeup, 'default'");
  // The woken claim has looked (and found nothing) and now waits in the trigger.
  REQUIRE_MESSAGE(
      eventually(
          [&] {
            return count(connection,
                         "SELECT count(*) FROM pg_stat_activity WHERE " + k_claim_session +
                             " AND wait_event_type = 'Lock' AND wait_event = 'advisory'") == 1;
          },
          20s),
      daemon.log());
  // Too late for that claim. The server hands the push's wake-up to the claim session before
  // the claim's result (both in one read), so pgtqd receives it while it is still within
  // k_min_wakeup_gap of a woken claim that found nothing, and no other notification follows.
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  query(gate, "SELECT pg_advisory_unlock(7001)");

  CHECK_MESSAGE(reaches(connection, id, "succeeded", 20s), daemon.log());
}
