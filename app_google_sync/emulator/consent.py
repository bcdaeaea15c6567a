"""The HTML pages of the authorization endpoint: sign-in + consent, and Google's error page.

Plain HTML with inline CSS (no script, no external resource); every value is escaped.
The consent form posts `request`, `email`, `password` and `action` (allow / cancel) to
oauth.APPROVAL_PATH.
"""

import html
import urllib.parse

from .oauth import APPROVAL_PATH, scope_descriptions

HTML_TYPE = "text/html; charset=utf-8"
HEADERS = {
    "Content-Type": HTML_TYPE,
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}

_STYLE = """
body{margin:0;background:#f0f4f9;font-family:"Google Sans",Roboto,Arial,sans-serif;color:#1f1f1f}
.card{max-width:448px;margin:48px auto;background:#fff;border-radius:28px;padding:36px 40px 28px;
 box-shadow:0 1px 3px rgba(0,0,0,.12)}
.logo{font-size:24px;font-weight:500;letter-spacing:-.5px;margin-bottom:8px}
.logo .b{color:#4285f4}.logo .r{color:#ea4335}.logo .y{color:#fbbc05}.logo .g{color:#34a853}
.brand{font-size:14px;color:#444746;margin-bottom:24px}
h1{font-size:28px;font-weight:400;margin:0 0 8px}
.sub{font-size:16px;margin:0 0 24px;overflow-wrap:anywhere}
h1.blocked{font-size:24px}.sub b{color:#0b57d0;font-weight:500}
label{display:block;font-size:12px;color:#444746;margin:0 0 4px}
input[type=email],input[type=password]{box-sizing:border-box;width:100%;padding:13px 15px;font-size:16px;
 border:1px solid #747775;border-radius:4px;margin-bottom:16px}
input:focus{outline:2px solid #0b57d0;border-color:#0b57d0}
.error{color:#b3261e;font-size:14px;margin:-8px 0 16px}
h2{font-size:16px;font-weight:500;margin:8px 0 12px}
ul{list-style:none;padding:0;margin:0 0 20px;border-top:1px solid #e3e3e3}
li{padding:12px 0;border-bottom:1px solid #e3e3e3;font-size:14px}
li small{display:block;color:#5e5e5e;font-size:12px;word-break:break-all;margin-top:2px}
.trust{font-size:12px;color:#444746;margin:0 0 24px;line-height:1.5}
.buttons{display:flex;justify-content:flex-end;gap:8px}
button{font:inherit;font-size:14px;font-weight:500;padding:10px 24px;border-radius:20px;cursor:pointer}
.cancel{background:#fff;color:#0b57d0;border:1px solid #747775}
.allow{background:#0b57d0;color:#fff;border:1px solid #0b57d0}
.code{font-size:14px;color:#444746}
.foot{max-width:448px;margin:0 auto;font-size:12px;color:#444746;text-align:right}
"""

_LOGO = (
    '<div class="logo"><span class="b">G</span><span class="r">o</span><span class="y">o</span>'
    '<span class="b">g</span><span class="g">l</span><span class="r">e</span></div>'
)


def _page(title, body):
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>%s</title><style>%s</style></head><body><main class="card">%s</main>'
        '<p class="foot">Google Directory API emulator (not Google)</p></body></html>'
        % (html.escape(title), _STYLE, body)
    ).encode("utf-8")


def consent_page(request_id, app_name, pending, domain, email="", error=None):
    """Sign in with Google (email, password) and allow the app the scopes listed."""
    e = html.escape
    descriptions = scope_descriptions()
    scopes = "".join("<li>%s<small>%s</small></li>" % (e(descriptions.get(s) or s), e(s)) for s in pending.scopes)
    target = urllib.parse.urlsplit(pending.redirect_uri)
    body = (
        _LOGO + '<div class="brand">Sign in with Google</div>'
        "<h1>Sign in</h1>"
        '<p class="sub">to continue to <b>%(app)s</b></p>'
        '<form method="post" action="%(action)s">'
        '<input type="hidden" name="request" value="%(request)s">'
        '<label for="email">Email (%(domain)s)</label>'
        '<input type="email" id="email" name="email" value="%(email)s" autocomplete="username" required autofocus>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password">'
        "%(error)s"
        "<h2>%(app)s wants to access your Google Account</h2>"
        "<ul>%(scopes)s</ul>"
        '<p class="trust">Make sure you trust %(app)s. You are sent back to %(origin)s. You can remove this '
        "access at any time; the app can also give it up (revoke) itself.</p>"
        '<div class="buttons"><button class="cancel" type="submit" name="action" value="cancel" formnovalidate>'
        'Cancel</button><button class="allow" type="submit" name="action" value="allow">Allow</button></div>'
        "</form>"
    ) % {
        "app": e(app_name),
        "action": e(APPROVAL_PATH),
        "request": e(request_id),
        "domain": e(domain),
        "email": e(email or pending.login_hint),
        "scopes": scopes,
        "error": '<p class="error" role="alert">%s</p>' % e(error) if error else "",
        "origin": e("%s://%s" % (target.scheme, target.netloc)),
    }
    return _page("Sign in - Google Accounts", body)


def error_page(status, error, description):
    """Google's 'Access blocked' page: 'Error <status>: <error>' and what went wrong."""
    e = html.escape
    heading = (
        "Access blocked: Authorization Error"
        if error == "invalid_client"
        else "Access blocked: This app's request is invalid"
    )
    body = (
        _LOGO + '<div class="brand">Sign in with Google</div><h1 class="blocked">%s</h1><p class="sub">%s</p>'
        '<p class="code"><b>Error %d: %s</b></p>'
    ) % (e(heading), e(description), status, e(error))
    return _page("Error %d: %s" % (status, error), body)
