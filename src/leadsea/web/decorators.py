"""View decorators for the workbench."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse


def tenant_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require a logged-in user with a membership in the session's tenant."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "membership", None) is None:
            return redirect(f"{reverse('web:login')}?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapper
