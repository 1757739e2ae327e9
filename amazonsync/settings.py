"""One settings module, driven by the environment.

Development defaults are safe to run locally (embedded SQLite, DEBUG on, a local key).
Production sets DATABASE_URL, SECRET_KEY, FIELD_ENCRYPTION_KEY, ALLOWED_HOSTS and DEBUG=0;
with those, ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AMAZONSYNC_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Fernet key(s) for secrets at rest: comma-separated, the first encrypts, all decrypt
# (rotation). In development a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")

INSTALLED_APPS = [
    # django-unfold's look for the whole admin (before django.contrib.admin: its templates win)
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "import_export",
    "simple_history",
    "amazonsync",
    "marketplaces",
]
# Feature apps join the list as they exist in the tree.
for _app in ("catalog", "orders", "settlements", "returns"):
    if (BASE_DIR / _app / "apps.py").exists():
        INSTALLED_APPS.append(_app)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "amazonsync.middleware.AdminBadQueryMiddleware",  # bad admin addresses: 400, not 500
]

ROOT_URLCONF = "amazonsync.urls"
WSGI_APPLICATION = "amazonsync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The django-q2 ORM broker, the workers and the admin share one file: take the write
    # lock up front, wait for it instead of failing, and let readers run beside writers.
    # Savepoint journals go to a temporary file, not memory: a million-line settlement
    # imported inside the command's per-file transaction would otherwise hold ~140 MB.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA temp_store=FILE;",
    }
    DATABASES["default"].setdefault("TEST", {})
# PostgreSQL: log in as DATABASE_URL's user but work as the application's own role (no
# superuser, owns no table or trigger): every connection switches to it. Migrations run
# without it, as the owner. See README, "Database roles", and amazonsync/dbroles.py.
# (SQLite has no roles: there it is ignored.)
DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE", "")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    DATABASE_APP_ROLE = ""
if DATABASE_APP_ROLE:
    from amazonsync.dbroles import with_app_role

    with_app_role(DATABASES["default"], DATABASE_APP_ROLE)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and django-q2 --------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = {
    "name": "amazonsync",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 900,
    "retry": 1200,  # must exceed timeout
    "max_attempts": 1,
    "queue_limit": 50,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "sync": env_bool("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth, i18n, static ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/admin/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))

# --- The admin's look (django-unfold) ------------------------------------------------
# The sidebar is grouped by job (amazonsync/navigation.py); the home page is per role
# (amazonsync/dashboard.py). Fonts, icons and Chart.js are served from unfold's static files:
# the admin needs no internet.
UNFOLD = {
    "SITE_TITLE": "Amazon back office",
    "SITE_HEADER": "Amazon back office",
    "SITE_SUBHEADER": "Seller operations",
    "SITE_SYMBOL": "storefront",
    "SITE_URL": "/admin/",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "amazonsync.dashboard.dashboard_callback",
    "STYLES": [lambda request: "/" + STATIC_URL.lstrip("/") + "amazonsync/admin.css"],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "amazonsync.navigation.sidebar",
    },
}

# --- Import/export --------------------------------------------------------------------
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

DATA_UPLOAD_MAX_NUMBER_FIELDS = 20000

# --- SP-API ---------------------------------------------------------------------------
SPAPI_SANDBOX_URL = os.environ.get("SPAPI_SANDBOX_URL", "http://127.0.0.1:8001")
# Orders sync: re-read this many minutes before the cursor (orders updated at the edge are
# not missed); a new account, or one not synced for the gap, is backfilled from the
# all-orders report over the backfill window: as far back as the settlement reports Amazon
# keeps (90 days), so the first settlements' reconciliation finds their orders.
ORDERS_OVERLAP_MINUTES = int(os.environ.get("ORDERS_OVERLAP_MINUTES", "10"))
ORDERS_BACKFILL_DAYS = int(os.environ.get("ORDERS_BACKFILL_DAYS", "90"))
ORDERS_BACKFILL_GAP_HOURS = int(os.environ.get("ORDERS_BACKFILL_GAP_HOURS", "72"))
# Days before an LWA client secret's 180-day expiry from which the admin warns.
LWA_SECRET_LIFETIME_DAYS = 180
LWA_SECRET_WARN_DAYS = 30

# --- Security (production) ------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "amazonsync.logging.RedactSecretsFilter"},
        # a permission refusal is one line (who, method, path, why), no traceback
        "forbidden_one_line": {"()": "amazonsync.logging.PermissionDeniedOneLine"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["forbidden_one_line"]},
        "urllib3": {"level": "WARNING"},
    },
}

# --- Alerts ---------------------------------------------------------------------------
# E-mail from one URL (amazonsync/emailurl.py): smtp://user:password@host:587 (?tls=1 for
# STARTTLS, smtps:// for SSL), console:// (default), locmem://, file:///folder, dummy://.
from amazonsync.emailurl import address_list, email_settings  # noqa: E402

globals().update(email_settings(os.environ.get("EMAIL_URL", "console://")))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Amazon back office <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who gets each team's digest (every 5 minutes, when something happened): comma-separated.
ALERT_EMAILS = {
    team: address_list(os.environ.get(f"ALERT_EMAILS_{team.upper()}", ""))
    for team in ("ops", "merch", "finance")
}
# A Slack-compatible incoming webhook: each digest is also POSTed as {"text": ...}.
ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL", "")
ALERT_WEBHOOK_TIMEOUT = float(os.environ.get("ALERT_WEBHOOK_TIMEOUT", "5"))
# The address people open the back office at: links in the digests are absolute.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
