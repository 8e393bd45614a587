#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pgtq::web {

// What every page needs to know about who is looking.
struct PageContext {
  bool can_act = false;     // logged in: action buttons shown
  bool needs_login = false; // credentials configured: a login link while not logged in
  std::string csrf;         // the session's CSRF token, put in every form
  std::string back;         // this page's path and query: where an action returns to
  int refresh_seconds = 0;  // a <meta http-equiv=refresh> when more than 0
};

// A whole HTML page: head, style, the navigation, whether actions are possible, then body
// (HTML the page wrote, its values already escaped). title is escaped here.
std::string page(const PageContext& context, const std::string& title, const std::string& body);

// A button that POSTs to /action/<action> with the fields (escaped here), the CSRF token and
// the page to come back to; empty unless context.can_act.
std::string action_button(const PageContext& context,
                          const std::string& action,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::string& label);

// A <td> of escaped text.
std::string cell(const std::string& text);

} // namespace pgtq::web
