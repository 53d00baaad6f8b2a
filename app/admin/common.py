"""What the administration pages share: their router's prefix, the fixed ``?done=`` messages
(Post/Redirect/Get) and the role choices of the forms."""

from __future__ import annotations

from fastapi.responses import RedirectResponse

from app.accounts.tenancy import ROLE_LABELS
from app.models import UserRole

PREFIX = "/admin"

# Messages for ?done=...: fixed texts, so nothing from the address bar is ever shown.
DONE_MESSAGES = {
    "organisation-created": "Organisation created.",
    "organisation-deleted": "Organisation deleted, with everything in it.",
    "unit-created": "Business unit created.",
    "team-created": "Team created.",
    "team-deleted": "Team deleted, with its rounds and answers.",
    "assigned": "Assignment saved.",
    "unassigned": "Assignment removed.",
    "user-created": "Account created. Give the person a password-reset link to sign in.",
    "user-disabled": "Account disabled; its sessions have ended.",
    "sso-unlinked": "Single sign-on unlinked; the account's sessions have ended.",
    "user-enabled": "Account enabled.",
    "role-changed": "Role changed; earlier assignments were removed.",
    "token-revoked": "API token revoked.",
    "respondent-erased": "The respondent's answers were erased and the round's results recomputed.",
}


def done_message(code: str | None) -> str | None:
    return DONE_MESSAGES.get(code or "")


def redirect_done(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


ROLE_CHOICES = tuple((role.value, ROLE_LABELS[role]) for role in UserRole)
