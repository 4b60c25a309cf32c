"""API of the metadata app: the meta API (objects and fields) and records of custom objects."""

from ninja import Router

meta_router = Router(tags=["meta"])
objects_router = Router(tags=["objects"])
