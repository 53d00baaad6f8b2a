"""Settings from the environment: PROCESSLENS_*, plus the usual DATABASE_URL and REDIS_URL."""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# The service runs from its source tree (an editable install, locally and in Docker): these
# folders sit beside the `app` package rather than inside it.
APP_DIR = Path(__file__).resolve().parent
ROOT_DIR = APP_DIR.parent
TEMPLATES_DIR = ROOT_DIR / "templates"
QUESTIONNAIRES_DIR = ROOT_DIR / "questionnaires"
MIGRATIONS_DIR = ROOT_DIR / "migrations"
ALEMBIC_INI = ROOT_DIR / "alembic.ini"
STATIC_DIR = APP_DIR / "static"

SECRET_KEY_FILE_NAME = "secret_key"
DATABASE_FILE_NAME = "processlens.db"
MIN_SECRET_KEY_LENGTH = 32


class ConfigurationError(Exception):
    """The configuration cannot work; the message is one line that says what to change."""


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


class Settings(BaseSettings):
    """Every setting of the service. README.md documents each one (a test keeps them in step)."""

    model_config = SettingsConfigDict(
        env_prefix="PROCESSLENS_",
        extra="ignore",
        frozen=True,
        validate_default=True,
        # lets tests and the CLI pass database_url=... as well as the DATABASE_URL alias
        populate_by_name=True,
    )

    environment: Environment = Field(
        default=Environment.development,
        description="development (auto-migrates, generates a secret), production or test.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the SQLite database and the generated development secret.",
    )
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "PROCESSLENS_DATABASE_URL"),
        description="sqlite:///path.db or postgresql+psycopg://user:pass@host/db; "
        "default: a SQLite file in the data folder.",
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description="PostgreSQL connections kept per process; size it to the worker's "
        "concurrency (FastAPI runs sync routes on a 40-thread pool).",
    )
    db_max_overflow: int = Field(
        default=20, ge=0, description="Extra PostgreSQL connections allowed under bursts."
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "PROCESSLENS_REDIS_URL"),
        description="redis://host:6379/0; shared rate-limit and job queue storage for several "
        "workers (without it the queue keeps its own SQLite file in the data folder).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret (32+ characters). Required in production; generated and "
        "kept in <data_dir>/secret_key in development.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the service, used in invitation links and reports.",
    )
    brand_name: str = Field(
        default="ProcessLens",
        min_length=1,
        max_length=80,
        description="Name shown in the header and on reports unless an organisation sets one.",
    )
    brand_colour: str = Field(
        default="#1f5f5b",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="Default accent colour (#rrggbb) for pages and reports.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Minimum level of log lines."
    )
    log_format: Literal["auto", "console", "json"] = Field(
        default="auto",
        description="console (readable) or json (one object per line); auto picks json in "
        "production.",
    )
    team_results_min: int = Field(
        default=3,
        ge=2,
        description="Submitted responses a team survey needs before team results are shown.",
    )
    role_group_min: int = Field(
        default=3,
        ge=3,
        description=(
            "Responses a role group needs before any figure about it shows (never fewer than 3"
            " nor than the round's threshold; app.results.visibility)."
        ),
    )
    org_cell_min: int = Field(
        default=3,
        ge=2,
        description="Respondents behind any cell of an organisation breakdown or export.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (comma-separated, e.g. 10.0.0.5,172.18.0.0/16); "
        "empty: those headers are ignored and the connecting address is the client.",
    )
    sign_in_max_delay: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="Longest pause in seconds before a failed sign-in is answered; the pause "
        "grows by a tenth of this with each failure on the account in the last minute.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger ones get 413.",
    )
    # report rendering (app.reports.pdf.RenderLimits): WeasyPrint runs in a pool of worker
    # processes so a pathological document cannot take a web worker down
    render_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest a report PDF may take to render; past it the render is stopped "
        "with a message (and a worker that stops answering is replaced).",
    )
    render_memory_mb: int = Field(
        default=2048,
        ge=256,
        description="Address space of each render worker process in MB (WeasyPrint itself "
        "maps about 600).",
    )
    render_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Render worker processes per web process (each holds a warm WeasyPrint).",
    )
    render_renders_per_worker: int = Field(
        default=50,
        ge=1,
        description="Renders after which a render worker is replaced, returning its memory.",
    )
    render_max_html_chars: int = Field(
        default=20_000_000,
        ge=10_000,
        description="Largest report HTML (characters) the renderer accepts.",
    )
    # the job queue (app.jobs): long report tasks run by a consumer, not by the request
    embedded_worker: bool = Field(
        default=True,
        description="Run a job consumer inside each web process (the zero-set-up default); "
        "set false when `processlens worker` runs as a process of its own.",
    )
    job_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Longest a whole job (every team's report, a large organisation report) "
        "may take, over all its attempts; past it the job fails with a message.",
    )
    job_heartbeat_seconds: float = Field(
        default=5.0,
        ge=0.2,
        le=60,
        description="How often a running job writes its heartbeat; a job silent for three "
        "heartbeats counts as abandoned and the sweeper hands it to another worker.",
    )
    job_sweep_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="Period of the sweeper that re-queues abandoned jobs (one run per period "
        "however many processes run it).",
    )
    org_report_job_teams: int = Field(
        default=200,
        ge=0,
        description="Organisation reports of more teams than this are made by the job queue "
        "(202 and a progress page); smaller ones are answered at once.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for e-mail (invitations, reminders, account links); unset: no "
        "e-mail is sent (see mail_outbox).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (port 587), tls (implicit TLS, port 465) or none (a relay on "
        "the same host only).",
    )
    smtp_user: str | None = Field(default=None, description="SMTP user name, if it needs one.")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password, from the environment only."
    )
    mail_from: str = Field(
        default="ProcessLens <processlens@localhost>",
        max_length=320,
        description="The sender of every message, e.g. 'Team survey <survey@example.com>'.",
    )
    mail_outbox: bool = Field(
        default=False,
        description="Without an SMTP server, write messages to <data_dir>/outbox instead of "
        "sending them (the demo; each file is labelled 'not sent').",
    )
    # single sign-on (app.accounts.sso): one OpenID Connect provider, optional
    oidc_issuer: str | None = Field(
        default=None,
        description="Single sign-on: the OpenID Connect issuer URL (its "
        "/.well-known/openid-configuration is read); unset: no single sign-on.",
    )
    oidc_client_id: str | None = Field(
        default=None, description="Single sign-on: the client id registered at the provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="Single sign-on: the client secret, from the environment only."
    )
    oidc_provider_name: str = Field(
        default="your organisation's account",
        min_length=1,
        max_length=80,
        description="Shown on the sign-in page as 'Sign in with <name>', e.g. Contoso ID.",
    )
    oidc_allowed_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="E-mail domains single sign-on accepts (comma-separated, e.g. "
        "example.com,example.org); empty: any domain (the account must still exist).",
    )
    password_sign_in: bool = Field(
        default=True,
        description="Allow sign-in with e-mail address and password; false (single sign-on "
        "only): the sign-in form is gone and `processlens user ...` is the way back in.",
    )
    consultants_create_organisations: bool = Field(
        default=False,
        description="Let consultants create client organisations (they are assigned to each "
        "one they create); off: only administrators create organisations.",
    )
    questionnaire_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra folders of questionnaire files (JSON list or os.pathsep-separated).",
    )

    @property
    def mail_enabled(self) -> bool:
        """E-mail is off unless an SMTP server (or the demo's outbox) is configured."""
        return bool(self.smtp_host) or self.mail_outbox

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_uppercase(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("questionnaire_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part]
        return value

    @field_validator("oidc_allowed_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(part).strip().lstrip("@").lower() for part in value if str(part).strip()]
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _check_issuer(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.strip().rstrip("/")
        local = re.match(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", value)
        if not value.startswith("https://") and not local:
            raise ValueError("use the provider's https:// issuer URL")
        return value

    @field_validator("oidc_client_secret")
    @classmethod
    def _check_oidc_client(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("oidc_issuer") and not (
            info.data.get("oidc_client_id") and value and value.get_secret_value()
        ):
            raise ValueError(
                "single sign-on needs PROCESSLENS_OIDC_CLIENT_ID and "
                "PROCESSLENS_OIDC_CLIENT_SECRET as well as PROCESSLENS_OIDC_ISSUER"
            )
        return value

    @field_validator("password_sign_in")
    @classmethod
    def _someone_can_sign_in(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and not info.data.get("oidc_issuer"):
            raise ValueError(
                "password sign-in can only be turned off when single sign-on is configured "
                "(PROCESSLENS_OIDC_ISSUER)"
            )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                # "*" included: trusting every client would let anyone choose their address
                raise ValueError(
                    f"{entry!r} is not an IP address or network; list the proxies' addresses, "
                    "e.g. 10.0.0.5 or 172.18.0.0/16"
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return normalise_database_url(value) if value else value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, or the SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def auto_migrate(self) -> bool:
        """Development upgrades the schema on start; production refuses an old schema instead."""
        return self.environment is Environment.development

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.environment is Environment.production
        return self.log_format == "json"


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings of a database URL and return the one SQLAlchemy should use.

    ``postgres://`` and ``postgresql://`` mean psycopg 3 here (the only PostgreSQL driver we
    install); anything that is not SQLite or PostgreSQL is refused with a one-line reason.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            "not a database URL; expected e.g. sqlite:///data/processlens.db "
            "or postgresql+psycopg://user:password@host:5432/processlens"
        ) from None
    # read the names from the URL itself: asking SQLAlchemy would import the dialect
    backend, _, driver = parsed.drivername.partition("+")
    if backend in {"postgres", "postgresql"}:
        if driver not in {"", "psycopg"}:
            raise ValueError(
                f"unsupported PostgreSQL driver {driver!r}; use postgresql+psycopg://..."
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        if driver not in {"", "pysqlite"}:
            raise ValueError(f"unsupported SQLite driver {driver!r}; use sqlite:///...")
    else:
        raise ValueError(
            f"unsupported database {backend!r}; ProcessLens supports SQLite and PostgreSQL"
        )
    return parsed.render_as_string(hide_password=False)


def _describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line naming the variable to fix."""
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]).lower() if item["loc"] else "settings"
        variable = {
            "database_url": "DATABASE_URL",
            "redis_url": "REDIS_URL",
        }.get(field, f"PROCESSLENS_{field.upper()}")
        message = re.sub(r"^Value error, ", "", item["msg"])
        parts.append(f"{variable}: {message}")
    return "invalid configuration: " + "; ".join(parts)


def _ensure_secret_key(settings: Settings) -> Settings:
    """Require a secret in production; in development keep a generated one in the data folder."""
    if settings.secret_key is not None:
        if len(settings.secret_key.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"PROCESSLENS_SECRET_KEY is too short; use at least {MIN_SECRET_KEY_LENGTH} "
                'characters, e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return settings
    if settings.environment is Environment.production:
        raise ConfigurationError(
            "PROCESSLENS_SECRET_KEY is required in production; set it to a random string, "
            'e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    if settings.environment is Environment.test:
        # tests must not leave files behind; a fresh key per process is enough for them
        return settings.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(48))})
    key_file = settings.data_dir / SECRET_KEY_FILE_NAME
    try:
        if key_file.exists():
            key = key_file.read_text(encoding="utf-8").strip()
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            # create with owner-only permissions; never overwrite a key another process wrote
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key + "\n")
    except FileExistsError:
        key = key_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigurationError(
            f"cannot keep the development secret in {key_file}: {error.strerror}; "
            "set PROCESSLENS_SECRET_KEY or PROCESSLENS_DATA_DIR"
        ) from None
    return settings.model_copy(update={"secret_key": SecretStr(key)})


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (overrides win) and settle the secret key.

    Raises ConfigurationError with a one-line message when the configuration cannot work.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(_describe_validation_error(error)) from None
    return _ensure_secret_key(settings)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
