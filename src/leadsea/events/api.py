"""API of the events app."""

from ninja import Router

router = Router(tags=["events"])
