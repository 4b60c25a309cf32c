"""API of the intake app."""

from ninja import Router

router = Router(tags=["intake"])
