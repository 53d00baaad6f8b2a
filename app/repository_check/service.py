"""A round's repository signals: attaching a signals file, and comparing it with the result.

The file is stored on the round as it was checked (app.models.AssessmentRound.
repository_signals); the comparison is computed when it is read, from the round's visible team
result, so it follows the same anonymity rule as the result and never changes it.
"""

from __future__ import annotations

from sqlmodel import Session

from app.accounts import audit, tenancy
from app.accounts.audit import Actor
from app.accounts.tenancy import Principal
from app.config import QUESTIONNAIRES_DIR
from app.errors import InvalidInputError
from app.models import AssessmentRound, RoundMode, RoundStatus, Team, UserRole
from app.results import visibility
from app.results.reads import result_of
from app.rubric import repository_compare, repository_signals
from app.rubric.loader import Catalog
from app.rubric.repository_match import RepositorySignals
from app.workspace.results import load_results, require_visible


class SignalsNotUsableError(InvalidInputError):
    status_code = 422
    title = "The signals file could not be attached"
    default_message = (
        "This signals file was made with another version of the repository signals. Run "
        "`processlens repo-check` again and attach the new file; nothing was changed."
    )


def signal_catalog(catalog: Catalog) -> repository_signals.SignalCatalog:
    """The built-in signals, checked against `catalog` (once: kept with it)."""
    signals = repository_compare.signals_for(catalog, QUESTIONNAIRES_DIR)
    if signals is None:
        raise SignalsNotUsableError("The repository check is not available with this rubric.")
    return signals


def may_attach(principal: Principal) -> bool:
    """The team's lead, the organisation's consultants and admins (tenancy scopes each)."""
    return principal.is_admin or principal.role in (UserRole.team_lead, UserRole.consultant)


def attach_and_audit(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    team_id: int,
    round_id: int,
    signals_file: RepositorySignals | None,
    actor: Actor,
) -> AssessmentRound:
    """Attach a checked signals file to a round the principal may see (None removes it);
    another tenant's round is a 404. Audits the change for `actor`."""
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    if signals_file is not None and signals_file.signals_version != signal_catalog(catalog).version:
        raise SignalsNotUsableError()
    stored = None if signals_file is None else signals_file.model_dump(mode="json")
    team = session.get(Team, assessment_round.team_id)
    assert team is not None
    assessment_round.repository_signals = stored
    session.add(assessment_round)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="round.repository_signals_" + ("removed" if stored is None else "attached"),
        target_type="round",
        target_id=round_id,
        organisation_id=team.organisation_id,
        details={}
        if signals_file is None
        else {
            "repository": signals_file.repository,
            "signals_version": signals_file.signals_version,
        },
    )
    return assessment_round


def stored_signals(assessment_round: AssessmentRound) -> RepositorySignals | None:
    if assessment_round.repository_signals is None:
        return None
    return RepositorySignals.model_validate(assessment_round.repository_signals)


def comparison_for(
    *,
    session: Session,
    catalog: Catalog,
    assessment_round: AssessmentRound,
    viewer: visibility.Viewer = visibility.ANYONE,
) -> repository_compare.RepositoryComparison | None:
    """The round's comparison, None without a signals file; the results' own error while they
    are not visible to `viewer` (the comparison reads the team's answers)."""
    readings = stored_signals(assessment_round)
    if readings is None:
        return None
    loaded = load_results(session=session, assessment_round=assessment_round, viewer=viewer)
    result = result_of(require_visible(loaded))
    return repository_compare.compare(
        catalog=catalog,
        signals=signal_catalog(catalog),
        readings=readings,
        spreads=result.answers,
    )


def solo_prefills(*, catalog: Catalog, assessment_round: AssessmentRound) -> int | None:
    """How many answers the lead's survey of an open solo round pre-fills from its signals file
    (app.surveys.pages marks each until the lead keeps or changes it); None for any other round."""
    readings = stored_signals(assessment_round)
    if (
        readings is None
        or assessment_round.mode != RoundMode.solo
        or assessment_round.status == RoundStatus.closed
    ):
        return None
    found = repository_compare.suggestions(
        catalog=catalog, signals=signal_catalog(catalog), readings=readings
    )
    return len(found)
