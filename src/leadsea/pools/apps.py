"""Pools app: the public/private sea engine (claim, release, assign, transfer, extend, lock, drop, sign)."""

from django.apps import AppConfig


class PoolsConfig(AppConfig):
    name = "leadsea.pools"
    label = "pools"
