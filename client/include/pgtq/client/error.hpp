#pragma once

#include <stdexcept>
#include <string>

namespace pgtq {

// Every failure of the client functions. sqlstate() is the server's SQLSTATE, so that a
// caller can tell a rejected task ("22023" invalid_parameter_value, "54000" args too large)
// from a lost connection ("08xxx") or a serialization failure worth retrying ("40001").
// Values the client itself refuses before sending anything carry the SQLSTATE the server
// would have used: "22023" for a value JSON cannot hold (NaN, a plain char, a NUL inside an
// array element), "22P02" for text that is not one JSON value, "22021" for invalid UTF-8.
class Error : public std::runtime_error {
public:
  Error(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), m_sqlstate(std::move(sqlstate)) {}

  const std::string& sqlstate() const noexcept { return m_sqlstate; }

private:
  std::string m_sqlstate;
};

} // namespace pgtq
