"""All database tables: tenancy, accounts, assessment rounds, responses, stored results, audit.

Conventions:
- Timestamps are timezone-aware UTC (``UTCDateTime``); ``utcnow()`` is the default.
- Closed sets of values (mode, status, role, ...) are strings guarded by a named CHECK
  constraint built from the StrEnum below them, which the code uses for the values. Where the
  rubric core names the set as a Literal (stage, kind, mode, respondent role), the column is
  typed with it, so a round's values reach the core without a cast; ``sa_type`` keeps the
  column a plain VARCHAR, as the migrations created it.
- Foreign keys say what happens on delete: everything under an organisation goes with it
  (organisation -> teams -> rounds -> invitations, respondents -> responses -> scores), while
  references to a person (created_by, actor) become NULL so records outlive accounts.
- JSON columns are replaced, never mutated in place (SQLAlchemy does not see in-place edits).
- Secrets (session, invitation, resume and API tokens) are stored only as hashes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from app.db import JSONType, UTCDateTime, utcnow
from app.rubric.answers import Kind, Mode
from app.rubric.rules import Stage
from app.rubric.schema import Role

# ---------------------------------------------------------------- value sets


class UserRole(StrEnum):
    admin = "admin"
    consultant = "consultant"
    org_leader = "org_leader"
    team_lead = "team_lead"


class RespondentRole(StrEnum):
    """Roles of people answering a survey (PRODUCT.md section 6)."""

    data_scientist = "data_scientist"
    ml_engineer = "ml_engineer"
    software_engineer = "software_engineer"
    product_manager = "product_manager"
    team_lead = "team_lead"
    other = "other"


class RoundMode(StrEnum):
    solo = "solo"
    team_survey = "team_survey"


class RoundKind(StrEnum):
    full = "full"
    quick = "quick"


class ProjectStage(StrEnum):
    exploration = "exploration"
    prototype = "prototype"
    productionising = "productionising"
    operating = "operating"


class RoundStatus(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


class ResponseStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """A named CHECK constraint keeping ``column`` inside the values of a StrEnum."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def new_submission_key() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- tenancy


class Organisation(SQLModel, table=True):
    """A client organisation: the tenant boundary, with its branding and privacy settings."""

    __tablename__: ClassVar[str] = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80, unique=True)
    brand_colour: str | None = Field(default=None, max_length=7)
    # uploaded logos are re-encoded raster images (never SVG), so they are plain bytes here
    logo: bytes | None = Field(default=None, sa_type=LargeBinary)
    logo_mime_type: str | None = Field(default=None, max_length=40)
    consultant_name: str | None = Field(default=None, max_length=200)
    # the firm or brand name reports show on the cover and in the footer (NULL: the installation's)
    brand_name: str | None = Field(default=None, max_length=80)
    # NULL means "use the installation default" for both of these
    team_results_min: int | None = Field(default=None)
    retention_days: int | None = Field(default=None)
    # ids of custom instruments (from configured extra questionnaire folders) this
    # organisation's new rounds include; built-in instruments are always available
    custom_instruments: list[str] = Field(
        default_factory=list,
        sa_type=JSONType,
        nullable=False,
        sa_column_kwargs={"server_default": "[]"},
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # True while a long writer (seed, restore) is still adding it in short transactions:
    # app.accounts.tenancy hides it (and everything in it) until it is flipped at the end
    pending: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class BusinessUnit(SQLModel, table=True):
    __tablename__: ClassVar[str] = "business_unit"
    __table_args__ = (Index(None, "organisation_id", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Team(SQLModel, table=True):
    """A team inside an organisation; its business unit is optional.

    Deleting a business unit keeps its teams (their unit becomes NULL): a unit is a grouping
    that gets reorganised, and reorganising must not erase assessment history. Deleting the
    organisation deletes the teams.
    """

    __tablename__: ClassVar[str] = "team"
    __table_args__ = (Index(None, "organisation_id", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    business_unit_id: int | None = Field(
        default=None, foreign_key="business_unit.id", ondelete="SET NULL", index=True
    )
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# ---------------------------------------------------------------- accounts


class User(SQLModel, table=True):
    """A person who signs in. Respondents have no account; they answer through links."""

    __tablename__: ClassVar[str] = "user_account"
    __table_args__ = (one_of("role", UserRole),)

    id: int | None = Field(default=None, primary_key=True)
    # stored lower-cased by the accounts service, so a plain unique index is case-insensitive
    email: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    # NULL until a password is set (invited user, later single sign-on)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    role: str = Field(default=UserRole.team_lead, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Membership(SQLModel, table=True):
    """A user's role in an organisation, or in one team of it (team_id set)."""

    __tablename__: ClassVar[str] = "membership"
    __table_args__ = (
        one_of("role", UserRole),
        # one organisation-wide and one per-team membership per user at most; two partial
        # indexes because a NULL team_id would make a single unique index not unique
        Index(
            "uq_membership_user_organisation",
            "user_id",
            "organisation_id",
            unique=True,
            sqlite_where=text("team_id IS NULL"),
            postgresql_where=text("team_id IS NULL"),
        ),
        Index(
            "uq_membership_user_team",
            "user_id",
            "team_id",
            unique=True,
            sqlite_where=text("team_id IS NOT NULL"),
            postgresql_where=text("team_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE", index=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class UserSession(SQLModel, table=True):
    """A server-side sign-in session; the cookie holds the token, the row only its hash."""

    __tablename__: ClassVar[str] = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=128, unique=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API, stored hashed."""

    __tablename__: ClassVar[str] = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=128, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SsoIdentity(SQLModel, table=True):
    """An account's identity at the single sign-on provider (app.accounts.sso): the issuer
    and the provider's subject, stored once the person has proven both (never an e-mail)."""

    __tablename__: ClassVar[str] = "sso_identity"
    __table_args__ = (
        Index(None, "issuer", "subject", unique=True),
        Index(None, "user_id", "issuer", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    issuer: str = Field(max_length=500)
    subject: str = Field(max_length=255)
    linked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AuditEvent(SQLModel, table=True):
    """Append-only record of security-relevant actions; ``details`` never holds secrets.

    ``organisation_id`` and the target are plain values, not foreign keys, so the record of
    a deletion survives the deletion; the actor becomes NULL when the account is removed.
    """

    __tablename__: ClassVar[str] = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True
    )
    organisation_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=80, index=True)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=80)
    request_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)


# ---------------------------------------------------------------- rubric versions


class RubricFileVersion(SQLModel, table=True):
    """Every version of every rubric file ever served, so old rounds keep their rubric."""

    __tablename__: ClassVar[str] = "rubric_file_version"
    __table_args__ = (Index(None, "kind", "file_name"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)  # instrument, practices, process_models, ...
    file_name: str = Field(max_length=200)
    content_hash: str = Field(max_length=128, unique=True)  # sha256 hex of the content
    content: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# ---------------------------------------------------------------- rounds and answers


class AssessmentRound(SQLModel, table=True):
    """One assessment of a team: solo or a team survey, full or quick check, at a stage."""

    __tablename__: ClassVar[str] = "assessment_round"
    __table_args__ = (
        one_of("mode", RoundMode),
        one_of("kind", RoundKind),
        one_of("stage", ProjectStage),
        one_of("status", RoundStatus),
        CheckConstraint("results_min >= 2", name="results_min"),
        Index(None, "team_id", "created_at"),
        # covers the dashboards' check for closed or reopened rounds (app.dashboards.summaries)
        Index("ix_assessment_round_dashboard_version", "status", "closed_at", "id"),
        # each team's latest closed round, read from the index alone
        Index("ix_assessment_round_latest_closed", "team_id", "status", "closed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", ondelete="CASCADE")
    title: str = Field(default="", max_length=200)
    mode: Mode = Field(default=RoundMode.solo, sa_type=String(20))
    kind: Kind = Field(default=RoundKind.full, sa_type=String(20))
    stage: Stage = Field(sa_type=String(20))
    instruments: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    # rubric file name -> content hash (RubricFileVersion) as of the round's start
    rubric_versions: dict[str, str] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    # minimum submitted responses before team results show: 3, or 2 if the team lowered it
    results_min: int = Field(default=3)
    # whether respondents may see the team results (once the threshold is reached)
    respondents_see_results: bool = Field(
        default=False, sa_column_kwargs={"server_default": false()}
    )
    status: str = Field(default=RoundStatus.draft, max_length=20, index=True)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the consultant's free-text commentary for the team report (app.reports.commentary);
    # plain text, escaped wherever it is shown
    commentary: str | None = Field(default=None, sa_type=Text)
    # a `processlens repo-check` signals file attached to the round (app.repository_check):
    # shown beside the results, never part of a score
    repository_signals: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class RoundCreationKey(SQLModel, table=True):
    """The key a request to start a round came with (the new-round form's per-form token, or
    the API's Idempotency-Key header): a repeat with the same key gets the first round.

    Only keyed requests have a row, so the key is NOT NULL and the database refuses a second
    round under one key per team (a NULL in a unique key would not be unique).
    """

    __tablename__: ClassVar[str] = "round_creation_key"
    __table_args__ = (Index(None, "team_id", "key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", ondelete="CASCADE")
    key: str = Field(max_length=128)
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Invitation(SQLModel, table=True):
    """One link per role per round; the database refuses a use beyond its limit."""

    __tablename__: ClassVar[str] = "invitation"
    __table_args__ = (
        one_of("role", RespondentRole),
        CheckConstraint("use_count >= 0 AND use_count <= use_limit", name="use_count"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE", index=True)
    role: Role = Field(sa_type=String(30))
    token_hash: str = Field(max_length=128, unique=True)
    use_limit: int = Field(default=10)
    use_count: int = Field(default=0)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Respondent(SQLModel, table=True):
    """A pseudonymous person answering a round, known only by their resume link."""

    __tablename__: ClassVar[str] = "respondent"
    __table_args__ = (one_of("role", RespondentRole),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE", index=True)
    invitation_id: int | None = Field(
        default=None, foreign_key="invitation.id", ondelete="SET NULL", index=True
    )
    role: Role = Field(sa_type=String(30))
    resume_token_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# Response.version is SQLAlchemy's version counter: every UPDATE checks and bumps it, so a
# save from a stale tab matches no row and raises StaleDataError instead of overwriting.
_response_version = Column("version", Integer, nullable=False, server_default=text("1"))


class Response(SQLModel, table=True):
    """A respondent's answers, one JSON row per response (fast to save, one write per page).

    ``answers`` maps a qualified question id ("instrument.question") to
    ``{"value", "note", "evidence", "evidence_backed", "note_shareable"}``.
    ``submission_key`` is a per-form token with UNIQUE NOT NULL: generated up front (a NULL
    would escape the unique constraint), so a replayed submit finds the first submission.
    """

    __tablename__: ClassVar[str] = "response"
    __table_args__ = (one_of("status", ResponseStatus),)
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _response_version}

    id: int | None = Field(default=None, primary_key=True)
    respondent_id: int = Field(foreign_key="respondent.id", ondelete="CASCADE", unique=True)
    # also stored here (not only via the respondent) so per-round queries need no join
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE", index=True)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    status: str = Field(default=ResponseStatus.draft, max_length=20)
    version: int | None = Field(default=None, sa_column=_response_version)
    submission_key: str = Field(default_factory=new_submission_key, max_length=64, unique=True)
    # the survey page the respondent last moved to ("instrument.section" or "review"), so the
    # resume link returns there on any device
    resume_at: str | None = Field(default=None, max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# ---------------------------------------------------------------- stored results


class ResponseScore(SQLModel, table=True):
    """One score of one response: small rows that dashboards aggregate instead of raw answers.

    ``sub_dimension`` is "" for the dimension as a whole (never NULL, so the unique key holds).
    """

    __tablename__: ClassVar[str] = "response_score"
    __table_args__ = (
        Index(None, "response_id", "dimension", "sub_dimension", unique=True),
        # a round's dimension scores (sub_dimension "") averaged from the index alone
        Index(
            "ix_response_score_round_totals",
            "round_id",
            "sub_dimension",
            "dimension",
            "score",
            "coverage",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", ondelete="CASCADE")
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE")
    dimension: str = Field(max_length=40)
    sub_dimension: str = Field(default="", max_length=80)
    score: float | None = Field(default=None)  # 0-100; NULL when nothing scorable was answered
    coverage: float = Field(default=0.0)  # share of the weight actually answered, 0-1
    level: str | None = Field(default=None, max_length=40)  # band or handoff level


class RoundResult(SQLModel, table=True):
    """The stored team result of a round, so pages, PDFs and dashboards always agree.

    ``label`` is "original" for the result under the round's own rubric; an explicit rescore
    under a newer rubric is stored beside it under another label, never over it.
    """

    __tablename__: ClassVar[str] = "round_result"
    __table_args__ = (
        Index(None, "round_id", "label", unique=True),
        # covers the dashboards' "which summaries are out of date" check, so SQLite need not
        # read the large computed JSON stored in each row (app.dashboards.summaries)
        Index(
            "ix_round_result_dashboard_version",
            "label",
            "round_id",
            "computed_at",
            "final",
            "respondent_count",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE")
    label: str = Field(default="original", max_length=80)
    computed: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    rubric_versions: dict[str, str] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    respondent_count: int = Field(default=0)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    final: bool = Field(default=False)


class AdoptedPractice(SQLModel, table=True):
    """A practice upgrade the team marked as adopted; the next round shows if answers moved."""

    __tablename__: ClassVar[str] = "adopted_practice"
    __table_args__ = (Index(None, "team_id", "practice_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", ondelete="CASCADE")
    practice_id: str = Field(max_length=80)
    adopted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    adopted_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True
    )


class Target(SQLModel, table=True):
    """A target band or level for one dimension, set by a team or for a whole organisation."""

    __tablename__: ClassVar[str] = "target"
    __table_args__ = (
        CheckConstraint(
            "(team_id IS NULL) <> (organisation_id IS NULL)", name="team_or_organisation"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="CASCADE", index=True
    )
    team_id: int | None = Field(default=None, foreign_key="team.id", ondelete="CASCADE", index=True)
    dimension: str = Field(max_length=40)
    target_level: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ReportJobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ReportJob(SQLModel, table=True):
    """A long report task run by the job queue (app.jobs): every team's report zipped, or a
    large organisation report.

    The row, not the queue, is the source of truth: progress, the worker's heartbeat and its
    claim (``run_token``) live here, so whichever instance answers the job page sees them and
    the sweeper can hand a dead worker's job to another. The output is a ``JobFile`` row.
    """

    __tablename__: ClassVar[str] = "report_job"
    __table_args__ = (
        one_of("status", ReportJobStatus),
        CheckConstraint("done >= 0 AND failed >= 0", name="counts"),
        Index(None, "organisation_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True
    )
    kind: str = Field(default="team_reports", max_length=40)
    status: str = Field(default=ReportJobStatus.queued, max_length=20)
    total: int = Field(default=0)
    done: int = Field(default=0)  # finished, made or not
    failed: int = Field(default=0)  # of those, not made
    error: str | None = Field(default=None, max_length=2000)  # for people: what to do next
    file_name: str | None = Field(default=None, max_length=200)  # no longer written (JobFile)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the job queue's bookkeeping (app.jobs.runner)
    params: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONType,
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # first claim
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    run_token: str | None = Field(default=None, max_length=64)  # the current claim
    ran_by: str | None = Field(default=None, max_length=200)  # host:pid:role of the claim


class JobFile(SQLModel, table=True):
    """A job's output (``final``) or a finished piece of it kept for a resumed run (one team's
    PDF), in the database so that every instance serves it. Unique per job and name: a
    resumed job never stores a team twice."""

    __tablename__: ClassVar[str] = "job_file"
    __table_args__ = (Index(None, "job_id", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="report_job.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    final: bool = Field(default=False)
    media_type: str = Field(max_length=100)
    size: int = Field(default=0)
    data: bytes = Field(sa_type=LargeBinary, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ScheduledRun(SQLModel, table=True):
    """One run of a periodic task in one time slot: the primary key lets only the first of
    several processes claim a slot, so a scheduled task runs once however many run it."""

    __tablename__: ClassVar[str] = "scheduled_run"

    task: str = Field(primary_key=True, max_length=100)
    slot: int = Field(primary_key=True, sa_type=BigInteger)
    ran_by: str = Field(max_length=200)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CacheGeneration(SQLModel, table=True):
    """A counter every instance's in-process caches check: writers bump it in their own
    transaction (app.cache_generations), so no instance serves what another changed."""

    __tablename__: ClassVar[str] = "cache_generation"

    scope: str = Field(primary_key=True, max_length=60)  # "all" or "organisation:<id>"
    value: int = Field(default=0, sa_type=BigInteger)


# ---------------------------------------------------------------- dashboards (derived data)


class ResultSummary(SQLModel, table=True):
    """The values of a closed round's stored result that dashboards and exports count.

    Derived data, rebuilt from ``RoundResult`` (and its ``ResponseScore`` rows) by
    ``app.dashboards.summaries`` whenever the result changes: a computed result is ~100 KB of
    JSON, too much to parse for 1,000 teams on every page view, so dashboards aggregate these
    small rows in SQL instead. Deleting the result, the round or the team deletes the summary.
    """

    __tablename__: ClassVar[str] = "result_summary"
    __table_args__ = (
        Index(None, "organisation_id", "team_id", "closed_at"),
        # covering indexes of the dashboard's two ways in: each team's latest round, and
        # each team's latest round per quarter (the trend)
        Index(
            "ix_result_summary_latest",
            "organisation_id",
            "latest",
            "unit_id",
            "team_id",
            "mode",
            "respondents",
            "result_id",
        ),
        Index(
            "ix_result_summary_latest_in_period",
            "organisation_id",
            "latest_in_period",
            "period",
            "unit_id",
            "team_id",
            "mode",
            "result_id",
        ),
    )

    result_id: int = Field(primary_key=True, foreign_key="round_result.id", ondelete="CASCADE")
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE", index=True)
    team_id: int = Field(foreign_key="team.id", ondelete="CASCADE")
    # the team's organisation and business unit, so dashboards need no join with team; refresh
    # keeps the unit in step when a team moves (teams never change organisation)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    unit_id: int | None = Field(default=None, foreign_key="business_unit.id", ondelete="SET NULL")
    # what the summary was built from: a difference in any of these means "rebuild"
    computed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    final: bool = Field(default=False)
    respondents: int = Field(default=0)
    closed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    period: str = Field(max_length=10)  # the quarter of closed_at (UTC), e.g. "2026 Q3"
    # the team's latest summarised round overall, and within its quarter (kept by refresh)
    latest: bool = Field(default=False)
    latest_in_period: bool = Field(default=False)
    mode: Mode = Field(sa_type=String(20))
    kind: Kind = Field(sa_type=String(20))
    trajectory: str = Field(max_length=200)  # the trajectory type's label
    fit: str = Field(max_length=20)  # good | warnings | unknown
    model_id: str = Field(max_length=80)  # the recommended (top) process model
    model_name: str = Field(max_length=200)
    handoff_level: int | None = Field(default=None)
    change: float | None = Field(default=None)  # mean change of the dimension scores


class ResultDimension(SQLModel, table=True):
    """One practice dimension of a summarised result: the team's cell on a dashboard.

    ``score`` and ``coverage`` are the means of the respondents' stored scores (what the result
    itself says, unrounded); ``respondents`` counts those with a score, so no dashboard cell
    is shown from fewer people than the anonymity rules allow.
    """

    __tablename__: ClassVar[str] = "result_dimension"
    # SQLite keeps the rows in primary-key order, so a result's cells are read in one seek
    __table_args__ = {"sqlite_with_rowid": False}

    result_id: int = Field(
        primary_key=True, foreign_key="result_summary.result_id", ondelete="CASCADE"
    )
    dimension: str = Field(primary_key=True, max_length=40)
    title: str = Field(max_length=200)
    position: int = Field(default=0)
    score: float | None = Field(default=None)
    coverage: float = Field(default=0.0)
    respondents: int = Field(default=0)
    band: str = Field(default="", max_length=80)  # the band's label ("" when none)
    label: str = Field(default="", max_length=80)  # what the cell says: band or "Level 1"


class ResultFact(SQLModel, table=True):
    """One countable item of a summarised result: an artifact level, a Now upgrade, a gap.

    Rows of one ``kind`` are counted across teams with GROUP BY (``app.dashboards.queries``).
    """

    __tablename__: ClassVar[str] = "result_fact"
    __table_args__ = (
        # covers the GROUP BY queries, so counting reads the index alone (labels come after
        # by id), and serves the cascade from result_summary
        Index(
            "ix_result_fact_counting",
            "result_id",
            "kind",
            "key",
            "value",
            "position",
            "respondents",
            "id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="result_summary.result_id", ondelete="CASCADE")
    kind: str = Field(max_length=20)
    key: str = Field(max_length=120)
    label: str = Field(max_length=300)
    detail: str = Field(default="", max_length=300)
    position: int = Field(default=0)
    value: float | None = Field(default=None)
    # respondents behind the fact where that decides whether it may be shown (levels)
    respondents: int = Field(default=0)


# ---------------------------------------------------------------- e-mail


class MailStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    refused = "refused"  # the SMTP server refused it at sending time: never retried
    failed = "failed"  # could not be handed over after every retry


class OutgoingMail(SQLModel, table=True):
    """One message to send. ``idempotency_key`` (UNIQUE) queues a message once however often
    it is asked for, and the claim (queued -> sending) lets one worker send it once. Once sent,
    the recipient and the text (which hold personal links) are blanked; a round's rows are
    deleted when it closes (app.surveys.email_invitations)."""

    __tablename__: ClassVar[str] = "outgoing_mail"
    __table_args__ = (one_of("status", MailStatus),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    round_id: int | None = Field(
        default=None, foreign_key="assessment_round.id", ondelete="CASCADE", index=True
    )
    purpose: str = Field(max_length=30)
    recipient: str = Field(max_length=320)
    message: str = Field(sa_type=Text)
    status: str = Field(default=MailStatus.queued, max_length=20, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class InvitationAddress(SQLModel, table=True):
    """The one join of an address to a response: an address invited by e-mail, its role, the
    hash of its personal resume token and whether it has submitted (for reminders). Never
    shown to anyone, never in a backup, deleted when the round closes."""

    __tablename__: ClassVar[str] = "invitation_address"
    __table_args__ = (
        one_of("role", RespondentRole),
        Index(None, "round_id", "address", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE")
    address: str = Field(max_length=320)
    role: Role = Field(sa_type=String(30))
    token_hash: str = Field(max_length=128, unique=True)
    # random; with the server's secret key it derives the personal link, so a reminder resends
    # the same link (email_invitations.link_token); NULL for rows made before it existed
    link_nonce: str | None = Field(default=None, max_length=64)
    submitted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    reminders: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RoundMailing(SQLModel, table=True):
    """A round's e-mail totals and reminder schedule: counts only, never who."""

    __tablename__: ClassVar[str] = "round_mailing"

    round_id: int = Field(foreign_key="assessment_round.id", ondelete="CASCADE", primary_key=True)
    reminder_every_days: int | None = Field(default=None)
    next_reminder_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invitations_sent: int = Field(default=0)
    invitations_refused: int = Field(default=0)
    reminders_sent: int = Field(default=0)
    reminders_refused: int = Field(default=0)
