"""WSGI entry point used by `leadsea serve` (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadsea.settings")
application = get_wsgi_application()
