#include "web/page_frame.hpp"

#include "web/html.hpp"

namespace pgtq::web {
namespace {

// One static style sheet, inline: the dashboard serves no files and needs no build step.
constexpr const char* k_style = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5em 2em; color: #222; }
nav { padding: .6em 0; border-bottom: 1px solid #ddd; margin-bottom: 1em; }
nav a { margin-right: 1.2em; text-decoration: none; color: #1a55a8; }
nav .who { float: right; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { text-align: left; padding: .25em .7em; border-bottom: 1px solid #eee;
         vertical-align: top; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; }
pre { background: #f6f6f6; padding: .5em; max-width: 80em; overflow: auto;
      white-space: pre-wrap; word-break: break-all; }
form.inline { display: inline; }
td pre { margin: 0; }
button { margin: 0 .2em; }
.muted, .chart text { color: #777; fill: #777; font-size: 10px; }
.note { background: #fff8d8; border: 1px solid #eed97a; padding: .4em .7em; }
.state-failed { color: #b00020; } .state-succeeded { color: #1b7f3b; }
.charts { display: flex; gap: 1.5em; flex-wrap: wrap; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; }
.filters input { width: 10em; }
)";

} // namespace

std::string page(const PageContext& context, const std::string& title, const std::string& body) {
  std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  if (context.refresh_seconds > 0) {
    html +=
        "<meta http-equiv=\"refresh\" content=\"" + std::to_string(context.refresh_seconds) + "\">";
  }
  html += "<title>" + html_escape(title) + " - pgtq</title><style>" + k_style +
          "</style></head><body><nav><a href=\"/\">Queues</a><a href=\"/tasks\">Tasks</a>"
          "<a href=\"/failures\">Failures</a><a href=\"/workers\">Workers</a>"
          "<a href=\"/schedules\">Schedules</a><span class=\"who\">";
  if (context.can_act) {
    html += "<form class=\"inline\" method=\"post\" action=\"/logout\"><input type=\"hidden\" "
            "name=\"csrf\" value=\"" +
            html_escape(context.csrf) + "\"><button id=\"logout\">log out</button></form>";
  } else if (context.needs_login) {
    html += "<a id=\"login\" href=\"/login?back=" + url_encode(context.back) + "\">log in</a>";
  } else {
    html += "<span class=\"muted\">read-only (no credentials configured)</span>";
  }
  html += "</span></nav><h1>" + html_escape(title) + "</h1>\n" + body + "\n</body></html>\n";
  return html;
}

std::string action_button(const PageContext& context,
                          const std::string& action,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::string& label) {
  if (!context.can_act) {
    return "";
  }
  std::string html =
      "<form class=\"inline\" method=\"post\" action=\"/action/" + html_escape(action) +
      "\"><input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(context.csrf) +
      "\"><input type=\"hidden\" name=\"back\" value=\"" + html_escape(context.back) + "\">";
  for (const auto& [name, value] : fields) {
    html += "<input type=\"hidden\" name=\"" + html_escape(name) + "\" value=\"" +
            html_escape(value) + "\">";
  }
  return html + "<button class=\"action-" + html_escape(action) + "\">" + html_escape(label) +
         "</button></form>";
}

std::string cell(const std::string& text) {
  return "<td>" + html_escape(text) + "</td>";
}

} // namespace pgtq::web
