#include "web/html.hpp"
#include "web/pages.hpp"

namespace pgtq::web {

std::string login_page(const std::string& message, const std::string& back) {
  std::string body;
  if (!message.empty()) {
    body += "<p class=\"note\" id=\"message\">" + html_escape(message) + "</p>";
  }
  // No CSRF token here (there is no session yet): the login POST is checked for its Origin.
  body += "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"back\" value=\"" +
          html_escape(back) +
          "\"><label>password <input type=\"password\" name=\"password\" id=\"password\" "
          "autocomplete=\"current-password\" autofocus></label> <button id=\"submit\">log in"
          "</button></form>";
  return page(PageContext{}, "Log in", body);
}

} // namespace pgtq::web
