"""The backend routes that set and clear the session cookie, which the page's JavaScript cannot touch.

``POST /auth/session`` takes the one-time code the sign-in handler gave the page (the request's body, as
text) and answers with the session cookie: HttpOnly (no script can read it), SameSite=Lax (other sites'
requests do not carry it, links from them that open the app do), Secure when the request came over https
as the ASGI server sees it (behind a proxy that ends TLS, the server must trust the proxy's
X-Forwarded-Proto), Path=/ and the longest a session can last as Max-Age. ``POST /auth/sign-out`` ends the
session its cookie names and clears the cookie. Both refuse a request that the browser marks as coming
from another site (``Sec-Fetch-Site: cross-site``): another site can neither sign a visitor in to an
account of its choosing nor sign them out.

The page calls them with ``fetch`` in ``no-cors`` mode with credentials: it needs no answer, only the
cookie, so no CORS set-up is needed when the backend listens on another port. The cookie belongs to the
backend's host, and SameSite lets the page's websocket send it only if the page is on the same site
(host name), which is how the app is served: one host, or one host on two ports.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from engine.accounts import SESSION_MAX, redeem_handoff, sign_out
from engine.store import session_scope

SESSION_COOKIE = "jb_session"
SESSION_ROUTE = "/auth/session"
SIGN_OUT_ROUTE = "/auth/sign-out"
# A code is "jc_" and 43 characters; anything much longer is not one and is not looked up.
CODE_MAX = 100


def session_cookie_api(database_url: str | None = None) -> FastAPI:
    """The two routes, as an app the web app mounts on its backend (``database_url``: tests' own database)."""
    api = FastAPI(title="Journey Builder session cookie", docs_url=None, redoc_url=None, openapi_url=None)

    def refuse_other_sites(request: Request) -> None:
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise HTTPException(403, "refused: the request comes from another site")

    def no_store() -> Response:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    def redeem(code: str) -> str | None:
        with session_scope(database_url) as session:
            return redeem_handoff(session=session, code=code)

    def end(secret: str) -> None:
        with session_scope(database_url) as session:
            sign_out(session=session, secret=secret)

    @api.post(SESSION_ROUTE, status_code=204, response_class=Response)
    async def take_session(request: Request) -> Response:
        refuse_other_sites(request)
        code = (await request.body())[:CODE_MAX].decode(errors="replace").strip()
        secret = await run_in_threadpool(redeem, code) if code else None
        if secret is None:
            raise HTTPException(400, "the sign-in code is unknown, used or expired")
        response = no_store()
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            max_age=int(SESSION_MAX.total_seconds()),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    @api.post(SIGN_OUT_ROUTE, status_code=204, response_class=Response)
    async def leave(request: Request) -> Response:
        refuse_other_sites(request)
        secret = request.cookies.get(SESSION_COOKIE, "")
        if secret:
            await run_in_threadpool(end, secret)
        response = no_store()
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="lax"
        )
        return response

    return api
