#pragma once

#include "queue/task.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pgtq::queue {

// The JSON array pgtq.finish_many() takes. Results are embedded as they are: they were
// validated as JSON when the handler set them.
std::string encode_outcomes(const std::vector<Outcome>& outcomes);

// Error text as PostgreSQL will store it: invalid UTF-8 sequences become U+FFFD and NUL
// becomes a space (jsonb and text refuse both).
std::string storable_text(std::string_view text);

} // namespace pgtq::queue
