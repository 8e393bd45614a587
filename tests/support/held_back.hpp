#pragma once

#include "support/sql.hpp"

#include <string>

namespace pgtq::test {

// The advisory lock a test holds (pg_advisory_xact_lock) to hold back writes to a table
// prepared by hold_back_writes().
inline constexpr const char* k_hold_back_lock = "4242";

// Makes every insert or update of table (say "pgtq.idle_workers") wait while another session
// holds advisory lock k_hold_back_lock: a trigger that sleeps and tries again, so that the
// writer sees no lock wait, which a daemon's lock_timeout would end. Lets a test put its own
// commit between a daemon's statement and the next one.
inline void hold_back_writes(db::Connection& connection, const std::string& table) {
  query(connection,
        std::string("CREATE OR REPLACE FUNCTION public.held_back() RETURNS trigger"
                    " LANGUAGE plpgsql AS $$"
                    " BEGIN"
                    "   WHILE NOT pg_try_advisory_xact_lock_shared(") +
            k_hold_back_lock +
            ") LOOP"
            "     PERFORM pg_sleep(0.01);"
            "   END LOOP;"
            "   RETURN NEW;"
            " END $$");
  query(connection,
        "CREATE TRIGGER held_back BEFORE INSERT OR UPDATE ON " + table +
            " FOR EACH ROW EXECUTE FUNCTION public.held_back()");
}

// How many sessions wait in that trigger now.
inline long long writes_held_back(db::Connection& connection) {
  return count(connection,
               "SELECT count(*) FROM pg_stat_activity"
               " WHERE wait_event = 'PgSleep' AND query LIKE '%pgtq.%'");
}

} // namespace pgtq::test
