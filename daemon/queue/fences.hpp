#pragma once

#include <pgtq/client/pg_array.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pgtq::queue {

// (id, claim) pairs, passed to the protocol functions (heartbeat, release) as two array
// parameters of the same length.
struct Fences {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;

  void add(std::int64_t id, std::int64_t claim) {
    ids.push_back(id);
    claims.push_back(claim);
  }
  std::string id_array() const { return pgtq::detail::pg_integer_array(ids); }
  std::string claim_array() const { return pgtq::detail::pg_integer_array(claims); }
};

} // namespace pgtq::queue
