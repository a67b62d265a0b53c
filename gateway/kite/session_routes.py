"""Kite's login (docs/KITE.md "Login"): ``/connect/login`` in a browser, then
``POST /session/token`` by the program, and ``DELETE /session/token``.

``GET /connect/login?api_key=…&v=3`` shows a consent page to the app's owner when they are
signed into the dashboard (its ``pd_session`` cookie; the dashboard and this listener share a
host), the login form otherwise. Either ends in a redirect to the app's redirect URL with
``action=login&type=login&status=success&request_token=…``. The program exchanges the request
token, once and within minutes, with ``checksum = sha256(api_key + request_token + api_secret)``
for an access token ending at the next 06:00 IST.

The pages refuse to be framed (a consent click must not be hijacked) and the consent form
carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
from html import escape
from typing import Any

from aiohttp import web
from yarl import URL

from gateway.auth import COOKIE_NAME
from gateway.errors import ApiError
from gateway.identity.sign_in import signed_in_user
from gateway.keys import DB, KITE_SESSIONS, SESSIONS, USERS
from gateway.kite.profile import profile_view
from gateway.kite.wire import ErrorType, KiteError, form_of, ist_text, required, success
from persistence.trading_accounts import accounts_of_user

routes = web.RouteTableDef()

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}"
    "label{display:block;margin:.75rem 0}input{width:100%;padding:.4rem}"
    "button{padding:.5rem 1.2rem;margin-top:1rem}.error{color:#b00020}"
)


def page(title: str, body: str, status: int = 200) -> web.Response:
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f" · paperdesk</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return web.Response(status=status, text=html, content_type="text/html", headers=PAGE_HEADERS)


def error_page(message: str, status: int = 400) -> web.Response:
    return page("Cannot sign in", f"<p class='error'>{escape(message)}</p>", status)


def login_form(app: Any, message: str = "", status: int = 200) -> web.Response:
    note = f"<p class='error'>{escape(message)}</p>" if message else ""
    return page(
        "Sign in to paperdesk",
        f"<p><b>{escape(app['name'])}</b> asks to trade one of your paperdesk accounts.</p>{note}"
        "<form method='post' action='/connect/login'>"
        f"<input type='hidden' name='api_key' value='{escape(app['api_key'])}'>"
        "<label>Email <input name='email' type='email' autocomplete='username' required></label>"
        "<label>Password <input name='password' type='password'"
        " autocomplete='current-password' required></label>"
        "<button type='submit'>Sign in and authorize</button></form>",
        status,
    )


def consent_form(app: Any, account_name: str, csrf_token: str) -> web.Response:
    return page(
        "Authorize app",
        f"<p><b>{escape(app['name'])}</b> asks to place orders and read funds, orders and"
        f" positions of your trading account <b>{escape(account_name)}</b> until 06:00 IST.</p>"
        "<form method='post' action='/connect/consent'>"
        f"<input type='hidden' name='api_key' value='{escape(app['api_key'])}'>"
        f"<input type='hidden' name='csrf_token' value='{escape(csrf_token)}'>"
        "<button type='submit'>Authorize</button></form>",
    )


async def app_of(request: web.Request, api_key: str | None) -> Any:
    if not api_key:
        raise ApiError(error_page("The login link has no api_key."))
    app = await request.app[KITE_SESSIONS].app_by_key(api_key)
    if app is None:
        raise ApiError(error_page("Invalid api_key: no such app."))
    return app


async def redirect_with_token(request: web.Request, app: Any, user_id: str) -> web.Response:
    token = await request.app[KITE_SESSIONS].issue_request_token(app, user_id)
    target = URL(app["redirect_url"]).update_query(
        action="login", type="login", status="success", request_token=token
    )
    raise web.HTTPFound(str(target), headers=PAGE_HEADERS)


async def account_name(request: web.Request, app: Any) -> str:
    rows = await accounts_of_user(request.app[DB].pool, app["user_id"])
    return next((row["name"] for row in rows if row["id"] == app["trading_account_id"]), "")


@routes.get("/connect/login")
async def login_page(request: web.Request) -> web.Response:
    app = await app_of(request, request.query.get("api_key"))
    token = request.cookies.get(COOKIE_NAME)
    user = None if not token else await request.app[SESSIONS].resolve(token)
    if user is not None and user.user_id == app["user_id"]:
        return consent_form(app, await account_name(request, app), user.csrf_token)
    return login_form(app)


@routes.post("/connect/login")
async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    api_key, email, password = (
        str(form.get(name, "")) for name in ("api_key", "email", "password")
    )
    app = await app_of(request, api_key)
    try:
        user = await signed_in_user(request, email, password)
    except ApiError as error:
        message = (
            "Too many attempts; wait a while."
            if error.response.status == 429
            else ("The email or password is wrong.")
        )
        return login_form(app, message, error.response.status)
    if user["id"] != app["user_id"]:
        return login_form(app, "This app belongs to another paperdesk user.", 403)
    return await redirect_with_token(request, app, user["id"])


@routes.post("/connect/consent")
async def consent_submit(request: web.Request) -> web.Response:
    form = await request.post()
    app = await app_of(request, str(form.get("api_key", "")))
    token = request.cookies.get(COOKIE_NAME)
    user = None if not token else await request.app[SESSIONS].resolve(token)
    sent = str(form.get("csrf_token", ""))
    if user is None or not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        return login_form(app, "Your dashboard session ended; sign in again.", 403)
    if user.user_id != app["user_id"]:
        return login_form(app, "This app belongs to another paperdesk user.", 403)
    return await redirect_with_token(request, app, user.user_id)


@routes.post("/session/token")
async def create_session(request: web.Request) -> web.Response:
    form = await form_of(request)
    api_key = required(form, "api_key")
    request_token = required(form, "request_token")
    checksum = required(form, "checksum")
    sessions = request.app[KITE_SESSIONS]
    app = await sessions.app_by_key(api_key)
    issued = None if app is None else await sessions.exchange(app, request_token, checksum)
    if issued is None:
        raise KiteError(403, ErrorType.TOKEN, "Token is invalid or has expired.")
    user = await request.app[USERS].by_id(issued.access.user_id)
    return success(
        profile_view(user)
        | {
            "api_key": api_key,
            "access_token": issued.access_token,
            "public_token": "",
            "refresh_token": "",
            "enctoken": "",
            "login_time": ist_text(issued.login_time),
        }
    )


@routes.delete("/session/token")
async def delete_session(request: web.Request) -> web.Response:
    form = await form_of(request)
    api_key = required(form, "api_key")
    access_token = required(form, "access_token")
    sessions = request.app[KITE_SESSIONS]
    access = await sessions.authenticate(api_key, access_token)
    if access is None:
        raise KiteError(403, ErrorType.TOKEN, "Incorrect `api_key` or `access_token`.")
    await sessions.revoke(access, access_token)
    return success(True)
