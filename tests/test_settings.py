"""Test settings: the suite runs on SQLite, or on PostgreSQL when LEADSEA_TEST_BACKEND=postgres."""

import os
import tempfile

backend = os.environ.get("LEADSEA_TEST_BACKEND", "sqlite")
if backend == "postgres":
    url = os.environ.get("LEADSEA_TEST_POSTGRES")
    if not url:
        raise RuntimeError("LEADSEA_TEST_BACKEND=postgres needs LEADSEA_TEST_POSTGRES (a URL)")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LEADSEA_TEST_DB_NAME", f"leadsea_test_{os.getpid()}")
else:
    os.environ["DATABASE_URL"] = "sqlite:///" + os.path.join(tempfile.gettempdir(), "leadsea-test.sqlite3")
os.environ.setdefault("LEADSEA_VAR_DIR", tempfile.mkdtemp(prefix="leadsea-test-var-"))
os.environ["LEADSEA_TENANT_QUERY_GUARD"] = "1"
os.environ["LEADSEA_FAST_HASHER"] = "1"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")

from leadsea.settings import *  # noqa: E402,F403

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
