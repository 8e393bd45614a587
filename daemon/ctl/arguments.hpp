#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pgtq::ctl {

// A command-line value pgtqctl refuses before touching the database; main() prints it and
// exits 64 (EX_USAGE).
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Each returns the parsed value or throws UsageError naming the option and the value,
// with the same rules as the SQL functions (sql/schema/02_names_and_limits.sql).
// 1..2^63-1; what names the value in the error.
std::int64_t parse_task_id(const std::string& text, const std::string& what = "task id");
int parse_int(const std::string& option, const std::string& text, int min, int max);
void check_name(const std::string& option, const std::string& name); // queue/task
// A task_state name; option names the option in the error.
void check_state(const std::string& state, const std::string& option = "--state");

} // namespace pgtq::ctl
