"""One settings module, read from the environment (12-factor). Every variable is in README.md."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# A developer's .env (written by `make run` on first start) fills what the shell does not set.
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-key-only-for-debug"  # noqa: S105 - DEBUG only
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")
    FIELD_ENCRYPTION_KEYS = [SECRET_KEY]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Twilio signs the public URL it called; we validate against this, never the Host header.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Where Twilio opens the ConversationRelay socket (relay-mode agents), signed like a webhook over
# this URL: the same host as PUBLIC_BASE_URL with ws(s):// unless a proxy serves sockets elsewhere.
RELAY_BASE_URL = env.str(
    "RELAY_BASE_URL", default=PUBLIC_BASE_URL.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files: docs work offline
    "django_celery_beat",
    "django_guid",
    "axes",
    "csp",
    "core",
    "accounts",
    "agents",
    "customers",
    "callbacks",
    "calls",
    "campaigns",
    "simulations",
    "dashboard",
]

MIDDLEWARE = [
    # First, so every later log line (and the Celery tasks a request enqueues) has the request id.
    "django_guid.middleware.guid_middleware",
    "core.log_context.LogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it sees every door's failed sign-in and answers a locked-out one with a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "salesagents.urls"
WSGI_APPLICATION = "salesagents.wsgi.application"
ASGI_APPLICATION = "salesagents.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the Celery worker read while the other writes.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
elif env.bool("DB_PREPARED_STATEMENTS", default=True):
    # Server-side parameters let psycopg prepare a statement a connection has run 5 times, so
    # PostgreSQL stops re-planning the queries every webhook turn repeats (about half the time
    # of the turn's read). Turn off behind a pooler that cannot keep prepared statements
    # (PgBouncer before 1.21 in transaction mode).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# AxesBackend first: it refuses a locked-out email+address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Sign-in lockout on every door (dashboard, admin, API), counted in the database so it holds
# across processes: LOGIN_FAILURE_LIMIT failures for one email from one address lock that pair
# out for LOGIN_COOLOFF_MINUTES; a successful sign-in resets the count.
AXES_ENABLED = env.bool("LOGIN_LOCKOUT_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.lockout.login_username"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password"]
# No start-up banner in every command's output (sign-in failures and lockouts are still logged).
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (CSV imports waiting for a worker). With web and worker on other machines,
# point "default" at storage they share (an S3 bucket through django-storages, or a shared mount).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Transport: served over https (an https public URL and DEBUG off), every request must arrive
# over https. The proxy in front terminates TLS and says so in X-Forwarded-Proto, so a Twilio
# webhook it forwards is not redirected (Twilio does not follow redirects of a POST).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SERVED_OVER_HTTPS = not DEBUG and PUBLIC_BASE_URL.startswith("https://")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SERVED_OVER_HTTPS)
# The load balancer's health check talks plain http to the app itself.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if SERVED_OVER_HTTPS else 0)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Content-Security-Policy (django-csp) on every page, in development too so a violation shows
# up before production: scripts and styles only from our own static files, nothing inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "login": env.str("API_THROTTLE_LOGIN", default="10/min"),
    },
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    # The API speaks JSON (what its OpenAPI document says); the CSV import names its own parser.
    # A form-encoded body cannot say null, so accepting one would accept what the schema forbids.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Proxies in front of the app; 0 trusts no X-Forwarded-For (throttles use the peer address).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# API tokens (django-rest-knox): stored as SHA-512 digests, one per sign-in (per device), no
# expiry unless the frontend asks for one at login; see docs/adr/0008-hashed-api-tokens.md.
REST_KNOX = {
    "TOKEN_TTL": None,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SalesAgents API",
    "DESCRIPTION": "Every client business gets its own AI phone sales agent. Authenticate with "
    "`Authorization: Token <key>` from POST /api/auth/login/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    # The docs pages load their JavaScript from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_schema.document_common_errors",
    ],
    # Several models have a "status"/"call_type" field; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "calls.models.CallSession.Status",
        "CallbackStatusEnum": "callbacks.models.ScheduledCallback.Status",
        "AgentStatusEnum": "agents.models.AIAgent.Status",
        "CallTypeEnum": "calls.models.CallSession.CallType",
        "SentimentLabelEnum": ["positive", "neutral", "negative"],
        "PersonaEnum": "simulations.personas.PERSONA_KEYS",
        "SimulationStatusEnum": "simulations.models.SimulationRun.Status",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "CampaignLeadStateEnum": "campaigns.models.CampaignLead.State",
        "InterestLevelEnum": "customers.models.CustomerProfile.InterestLevel",
    },
}

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://")
    if not env.str("REDIS_URL", default="")
    else {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("REDIS_URL")}
}

# Celery: Redis when configured; otherwise a filesystem broker that needs no server.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_DIR = BASE_DIR / "var" / "broker"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Telephony: Twilio when platform credentials are set, else the built-in simulated phone.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TELEPHONY_BACKEND = env.str("TELEPHONY_BACKEND", default="twilio" if TWILIO_ACCOUNT_SID else "simulated")
# Dials per second on the platform Twilio account, shared by every client without its own
# subaccount (Twilio's default is 1). The built-in phone has no carrier limit and is paced only
# when PACE_SIMULATED_PHONE is on (the pacing tests and bench/campaign_pacing.py).
TWILIO_CALLS_PER_SECOND = env.int("TWILIO_CALLS_PER_SECOND", default=1)
PACE_SIMULATED_PHONE = env.bool("PACE_SIMULATED_PHONE", default=False)
# Called with agent= whenever a client sets its agent's number (agents may not import calls):
# points the number on the Twilio account at the agent's webhooks. Empty turns it off.
AGENT_PHONE_NUMBER_CONFIGURER = "calls.numbers.agent_phone_number_configure_if_set"
# A call still queued, ringing or in progress this long after it started is looked up at Twilio
# (its status callback may have been lost) and closed as Twilio says; see calls.reconcile.
CALL_RECONCILE_AFTER_MINUTES = env.int("CALL_RECONCILE_AFTER_MINUTES", default=30)
# The secret the simulated phone signs its webhook requests with when a client has no token.
SIMULATED_PHONE_AUTH_TOKEN = env.str("SIMULATED_PHONE_AUTH_TOKEN", default=SECRET_KEY[:32])
# The gateway of a client without Twilio: the built-in phone. Named by path because the phone builds
# on calls.telephony (webhook paths, signing tokens), so telephony must not import it back.
SIMULATED_PHONE_GATEWAY = "calls.simulated_phone.SimulatedGateway"
# Where the built-in phone (simulator API, persona simulations) opens a relay-mode agent's
# ConversationRelay socket, as Twilio would: empty means RELAY_BASE_URL, the running server.
SIMULATED_PHONE_RELAY_URL = env.str("SIMULATED_PHONE_RELAY_URL", default="").rstrip("/")

# Conversation engine.
LLM_PROVIDER = env.str("LLM_PROVIDER", default="openai" if env.str("OPENAI_API_KEY", default="") else "scripted")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
LLM_TURN_BUDGET_SECONDS = env.float("LLM_TURN_BUDGET_SECONDS", default=6.0)
# What the model may say in one turn: tokens asked of the server, and characters kept (cut at
# a sentence) before the reply is stored or spoken, for servers that ignore max_tokens.
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=300)
LLM_REPLY_MAX_CHARS = env.int("LLM_REPLY_MAX_CHARS", default=1000)
# ConversationRelay: how fast Twilio speaks a goodbye (characters a second), so the socket's
# ``end`` waits until the caller has heard it; tests speed it up.
RELAY_SPEECH_CHARS_PER_SECOND = env.float("RELAY_SPEECH_CHARS_PER_SECOND", default=15.0)

# Dashboard: chart figures may be this many seconds old.
DASHBOARD_CHART_CACHE_SECONDS = env.int("DASHBOARD_CHART_CACHE_SECONDS", default=60)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SalesAgents <reports@salesagents.local>")

# Request ids: X-Request-ID from the proxy when it is a UUID (anything else is replaced, so a
# client cannot write arbitrary text into our logs), else generated; echoed in the response and
# carried into the Celery tasks a request enqueues (core/log_context.py, salesagents/celery.py).
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-ID", "VALIDATE_GUID": True}

# JSON lines for log collectors in production; readable text for a developer (DEBUG).
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.log_context.LogContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(call_sid)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-guid narrates every id it sets at INFO; the ids are in every line already.
    "loggers": {"django_guid": {"level": "WARNING"}},
}
