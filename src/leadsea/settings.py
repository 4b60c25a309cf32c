"""Django settings for leadsea, read from the environment (12-factor)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("LEADSEA_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.environ.get("LEADSEA_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """Use SECRET_KEY from the environment; in development generate one and keep it under var/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "leadsea.core",
    "leadsea.tenancy",
    "leadsea.audit",
    "leadsea.metadata",
    "leadsea.leads",
    "leadsea.pools",
    "leadsea.pipeline",
    "leadsea.visits",
    "leadsea.tasks",
    "leadsea.intake",
    "leadsea.intake.channels",
    "leadsea.tagging",
    "leadsea.events",
    "leadsea.onboarding",
    "leadsea.web",
    "leadsea.mobile",
]

MIDDLEWARE = [
    "leadsea.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "leadsea.tenancy.middleware.TenantMiddleware",
    "leadsea.intake.crowd.CrowdOnlyMiddleware",
    "leadsea.onboarding.middleware.ModuleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leadsea.urls"
WSGI_APPLICATION = "leadsea.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leadsea.web.context.workbench",
                "leadsea.onboarding.context.page_settings",
            ],
        },
    }
]

# Database: DATABASE_URL, default a SQLite file under ./var/ in WAL mode.
DEFAULT_SQLITE = VAR_DIR / "leadsea.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so two
        # writers queue on busy_timeout instead of failing with "database is locked" on upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    _db["CONN_MAX_AGE"] = 0 if _db["NAME"] == ":memory:" else _db.get("CONN_MAX_AGE", 0)
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db.setdefault("OPTIONS", {})
    _db["CONN_HEALTH_CHECKS"] = True
# The hot-path raw queries (core/hotsql.py) run as prepared statements on PostgreSQL; turn off behind a
# pooler that cannot keep them (PgBouncer in transaction mode before 1.21).
PG_PREPARED_STATEMENTS = env_bool("LEADSEA_PG_PREPARED_STATEMENTS", True)
if _db["ENGINE"] == "django.db.backends.postgresql" and PG_PREPARED_STATEMENTS:
    # Prepared statements (only core.hotsql's) run their generic plan: no planning on every call.
    _db["OPTIONS"]["options"] = (
        _db["OPTIONS"].get("options", "") + " -c plan_cache_mode=force_generic_plan"
    ).strip()
DATABASES = {"default": _db}
if os.environ.get("LEADSEA_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["LEADSEA_TEST_DB_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if env_bool("LEADSEA_FAST_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]


def _plugin_locale_paths() -> list[Path]:
    """The `locale` directories shipped by installed plugins (entry point group leadsea.plugins), found
    without importing them: a plugin translates its own strings (docs/plugins.md)."""
    import importlib.util
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group="leadsea.plugins"):
        spec = importlib.util.find_spec(ep.value.split(":")[0].split(".")[0])
        for root in (spec.submodule_search_locations or []) if spec else []:
            if (Path(root) / "locale").is_dir():
                found.append(Path(root) / "locale")
    return found


LOCALE_PATHS += _plugin_locale_paths()
LANGUAGE_COOKIE_NAME = "leadsea_language"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
NODE_MODULES = Path(os.environ.get("LEADSEA_NODE_MODULES", PACKAGE_DIR.parent.parent / "node_modules"))
STATICFILES_DIRS = [
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/leaflet", NODE_MODULES / "leaflet" / "dist"),
]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "web:login"
SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Fail on any query of a tenant-owned table that does not filter on tenant_id (CONVENTIONS.md, Tenancy).
TENANT_QUERY_GUARD = env_bool("LEADSEA_TENANT_QUERY_GUARD", DEBUG)

API_TOKEN_TTL_DAYS = int(os.environ.get("LEADSEA_API_TOKEN_TTL_DAYS", "30"))

# The cache holds rate-limit counters (the public /join/ form): per process by default; with several
# processes or hosts set LEADSEA_CACHE_URL=redis://host:6379/1 so they share one count.
_cache_url = os.environ.get("LEADSEA_CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
    if _cache_url.startswith(("redis://", "rediss://", "unix://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Proxies (addresses or networks) whose X-Forwarded-For is believed: behind them the client is the nearest
# address in that header that is not one of them (core.net.client_ip). Empty: the peer address is the client.
TRUSTED_PROXIES: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
for _proxy in os.environ.get("LEADSEA_TRUSTED_PROXIES", "").split(","):
    if _proxy.strip():
        try:
            TRUSTED_PROXIES.append(ipaddress.ip_network(_proxy.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"LEADSEA_TRUSTED_PROXIES: {_proxy.strip()!r} is not an address or a network"
            ) from exc

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
