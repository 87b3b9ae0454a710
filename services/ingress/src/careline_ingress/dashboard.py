"""The admin dashboard page (``/admin/ui``): one static page over the admin API.

The page itself holds no data, so serving it needs no token. Signing in keeps the pasted
bearer token in the tab's session storage; every number, alert and job on the page then comes
from the ``/admin`` API with that token, under the same roles as any other client. Charts are
drawn in the browser from the services' precomputed rollups; nothing is loaded from outside.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = files("careline_ingress").joinpath("static/dashboard.html").read_text(encoding="utf-8")


def dashboard_router() -> APIRouter:
    router = APIRouter(prefix="/admin", include_in_schema=False)

    @router.get("/ui", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})

    return router
