"""Static assets outside the event API: the events' images, where ``event.image`` points.

A tenant hosts images apart from the API (its asset host), so these need no token, no organization in the path
and no CORS: an ``<img src>`` from the portal loads them as any image on the web.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from simulator.server.errors import ApiError, ErrorType
from simulator.server.pages import Images

__all__ = ["assets_router"]

_CACHE = {"Cache-Control": "public, max-age=600"}


def assets_router(images: Images) -> APIRouter:
    router = APIRouter(include_in_schema=False)  # not part of the event API's contract

    @router.get("/assets/events/{readableEventId}.png")
    async def event_image(request: Request) -> Response:
        readable_id = request.path_params["readableEventId"]
        image = images.event_image(readable_id)
        if image is None:
            raise ApiError(ErrorType.EVENT_NOT_FOUND, f"no published event {readable_id!r}")
        return Response(image, media_type="image/png", headers=_CACHE)

    return router
