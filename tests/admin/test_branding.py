"""An organisation's report branding, set on its page, through the API and with
`processlens org brand`: one service that checks everything first, stores the logo re-encoded
in the database and records one audit event; every report the server makes then shows it."""

from __future__ import annotations

import io
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.accounts import api_tokens
from app.accounts.audit import Actor
from app.config import ROOT_DIR, Settings
from app.main import create_app
from app.models import AuditEvent, Organisation, RoundResult, UserRole
from app.reports import branding_service, pdf
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.output import to_data
from tests.accounts import helpers
from tests.reports import published

FIRM = "Northwind Advisory"


def png(width: int = 120, height: int = 40, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(output, format="PNG")
    return output.getvalue()


def jpeg() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 90, 160)).save(output, format="JPEG")
    return output.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'


@pytest.fixture
def world(session: Session, settings: Settings) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    admin = helpers.user(session, UserRole.admin)
    people = {
        "admin": helpers.sign_in(session, settings, admin),
        "consultant": helpers.sign_in(session, settings, alpha.consultant),
        "org_leader": helpers.sign_in(session, settings, alpha.org_leader),
        "team_lead": helpers.sign_in(session, settings, alpha.team_lead),
        "bravo_consultant": helpers.sign_in(session, settings, bravo.consultant),
    }
    token = api_tokens.create(session=session, settings=settings, user=alpha.consultant, name="t")
    session.commit()
    return {"alpha": alpha, "bravo": bravo, "token": token.token, **people}


def _branding_events(session: Session, org_id: int) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(
                AuditEvent.action == "organisation.branding_changed",
                AuditEvent.organisation_id == org_id,
            )
            .order_by(col(AuditEvent.id))
        ).all()
    )


def _post_branding(
    client: TestClient, world: dict[str, Any], who: str = "consultant", **fields: Any
) -> Any:
    logo = fields.pop("logo", None)
    files = {"logo": ("logo.png", logo, "image/png")} if logo is not None else None
    data = {"display_name": "", "consultant": "", "colour": "", **fields}
    return client.post(
        f"/organisations/{world['alpha'].org.id}/branding",
        data=data,
        files=files,
        headers=world[who].headers(),
        follow_redirects=False,
    )


# ---------------------------------------------------------------- the page


def test_assigned_consultant_sets_branding_with_a_logo_on_the_page(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    org = world["alpha"].org
    response = _post_branding(
        client, world, display_name=FIRM, consultant="Dana Reyes", colour="#1A4480", logo=png()
    )
    assert response.status_code == 303
    session.refresh(org)
    assert (org.brand_name, org.consultant_name, org.brand_colour) == (
        FIRM,
        "Dana Reyes",
        "#1a4480",
    )
    assert org.logo is not None
    assert Image.open(io.BytesIO(org.logo)).format == "PNG"  # re-encoded, stored in the row
    [event] = _branding_events(session, org.id or 0)
    assert event.details["fields"] == ["display_name", "consultant", "colour", "logo"]
    assert event.actor_id == world["alpha"].consultant.id

    page = client.get(response.headers["location"], headers=world["consultant"].headers())
    assert page.status_code == 200
    context = page.context["page"]  # type: ignore[attr-defined]
    assert context.message.startswith("Branding saved")
    assert context.branding.effective.name == FIRM
    assert context.branding.has_logo
    assert 'src="data:image/png;base64,' in page.text  # the preview shows the stored logo


def test_a_jpeg_logo_is_accepted_and_stored_as_png(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    org = world["alpha"].org
    logo = jpeg()
    response = client.post(
        f"/organisations/{org.id}/branding",
        data={"display_name": FIRM},
        files={"logo": ("logo.jpg", logo, "image/jpeg")},
        headers=world["admin"].headers(),
        follow_redirects=False,
    )
    assert response.status_code == 303
    session.refresh(org)
    assert org.logo is not None
    assert org.logo.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"logo": SVG}, "SVG logos are not accepted"),
        ({"logo": b"GIF89a" + b"\x00" * 40}, "not a readable PNG or JPEG"),
        ({"logo": png(100_000, 1)}, "100000 x 1 pixels"),
        ({"logo": png() + b"\x00" * (600 * 1024)}, "the limit is 512 KB"),
        ({"colour": "#ffff00"}, "contrast of 1.1:1"),
        ({"colour": "navy"}, "six hexadecimal digits"),
        ({"display_name": "x" * 81}, "limit is 80"),
    ],
    ids=["svg", "gif", "100000-pixels-wide", "over-512-kb", "low-contrast", "not-hex", "long"],
)
def test_bad_branding_is_refused_with_a_clear_error_and_changes_nothing(
    client: TestClient,
    session: Session,
    world: dict[str, Any],
    fields: dict[str, Any],
    expected: str,
) -> None:
    org = world["alpha"].org
    org.brand_name, org.brand_colour = "Before", "#1f5f5b"
    session.add(org)
    session.commit()
    response = _post_branding(
        client, world, **{"display_name": "After", "colour": "#123456", **fields}
    )
    assert response.status_code == 400
    page = response.context["page"]
    assert expected in page.error
    assert page.form.display_name == fields.get("display_name", "After")  # kept to correct
    session.refresh(org)
    assert (org.brand_name, org.brand_colour, org.logo) == ("Before", "#1f5f5b", None)
    assert _branding_events(session, org.id or 0) == []


def test_a_10_mb_upload_is_answered_413_by_the_body_limit(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    response = _post_branding(client, world, display_name=FIRM, logo=b"\x89PNG" * (2_500_000))
    assert response.status_code == 413
    assert "larger than this service accepts" in response.text
    session.refresh(world["alpha"].org)
    assert world["alpha"].org.brand_name is None


@pytest.mark.parametrize("who", ["org_leader", "team_lead", "bravo_consultant"])
def test_only_admins_and_assigned_consultants_reach_the_branding_page(
    client: TestClient, session: Session, world: dict[str, Any], who: str
) -> None:
    org_id = world["alpha"].org.id
    for path in ("", "/preview", "/preview.pdf"):
        assert (
            client.get(f"/organisations/{org_id}/branding{path}", headers=world[who].headers())
        ).status_code == 404
    assert _post_branding(client, world, who=who, display_name="Mine").status_code == 404
    session.refresh(world["alpha"].org)
    assert world["alpha"].org.brand_name is None


def test_removing_the_logo_shows_the_name_on_the_cover(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    _post_branding(client, world, display_name=FIRM, logo=png())
    _post_branding(client, world, display_name=FIRM, remove_logo="1")
    session.refresh(world["alpha"].org)
    assert world["alpha"].org.logo is None
    preview = client.get(
        f"/organisations/{world['alpha'].org.id}/branding/preview",
        headers=world["consultant"].headers(),
    )
    assert preview.status_code == 200
    assert f'<p class="cover-brand">{FIRM}</p>' in preview.text


# ---------------------------------------------------------------- the API


def _api(world: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {world['token']}"}


def test_the_api_sets_reads_and_removes_branding(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    base = f"/api/organisations/{world['alpha'].org.id}/branding"
    put = client.put(
        base,
        json={"display_name": FIRM, "consultant": "Dana Reyes", "colour": "#1a4480"},
        headers=_api(world),
    )
    assert put.status_code == 200, put.text
    assert put.json()["effective"] == {
        "name": FIRM,
        "colour": "#1a4480",
        "consultant": "Dana Reyes",
        "has_logo": False,
    }
    logo = client.put(
        f"{base}/logo", content=png(), headers={**_api(world), "content-type": "image/png"}
    )
    assert logo.status_code == 200, logo.text
    assert logo.json()["logo_url"] == f"{base}/logo"
    served = client.get(f"{base}/logo", headers=_api(world))
    assert served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (120, 40)
    assert client.get(base, headers=_api(world)).json()["display_name"] == FIRM
    assert client.delete(f"{base}/logo", headers=_api(world)).status_code == 204
    assert client.get(f"{base}/logo", headers=_api(world)).status_code == 204
    fields = [e.details["fields"] for e in _branding_events(session, world["alpha"].org.id or 0)]
    assert fields == [["display_name", "consultant", "colour"], ["logo"], ["logo removed"]]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (SVG, "image/svg+xml", "Content-Type image/png or image/jpeg"),
        (SVG, "image/png", "SVG logos are not accepted"),
        (png(100_000, 1), "image/png", "100000 x 1 pixels"),
    ],
)
def test_the_api_refuses_bad_logos_with_a_clear_error(
    client: TestClient,
    session: Session,
    world: dict[str, Any],
    body: bytes,
    content_type: str,
    expected: str,
) -> None:
    response = client.put(
        f"/api/organisations/{world['alpha'].org.id}/branding/logo",
        content=body,
        headers={**_api(world), "content-type": content_type},
    )
    assert response.status_code == 400
    assert expected in response.json()["detail"]
    session.refresh(world["alpha"].org)
    assert world["alpha"].org.logo is None


def test_another_organisations_branding_is_404_in_the_api(
    client: TestClient, world: dict[str, Any]
) -> None:
    other = f"/api/organisations/{world['bravo'].org.id}/branding"
    assert client.get(other, headers=_api(world)).status_code == 404
    assert client.put(other, json={"display_name": "x"}, headers=_api(world)).status_code == 404


# ---------------------------------------------------------------- the reports use it


def test_team_and_organisation_reports_show_the_firm_and_the_logo(
    client: TestClient,
    session: Session,
    settings: Settings,
    world: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    alpha = world["alpha"]
    catalog = helpers.catalog()
    example = read_answers_file(ROOT_DIR / "examples" / "full-assessment.yaml", catalog)
    published.publish(session, alpha.round, 6)
    session.add(
        RoundResult(
            round_id=alpha.round.id,
            computed=to_data(catalog, assess_file(catalog, example)),
            respondent_count=6,
            final=True,
        )
    )
    session.commit()
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1, seconds=60))
    monkeypatch.setattr(pdf, "get_pool", lambda limits=None: pool)
    try:
        _post_branding(
            client, world, display_name=FIRM, consultant="Dana Reyes", logo=png(), who="admin"
        )
        headers = world["consultant"].headers()
        page = client.get(
            f"/teams/{alpha.team.id}/rounds/{alpha.round.id}/report.html", headers=headers
        )
        assert 'class="cover-logo" src="data:image/png;base64,' in page.text
        assert "Dana Reyes, Northwind Advisory" in page.text
        for path in (
            f"/teams/{alpha.team.id}/rounds/{alpha.round.id}/report.pdf",
            f"/organisations/{alpha.org.id}/report.pdf",
            f"/organisations/{alpha.org.id}/branding/preview.pdf",
        ):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text[:200])
            document = tmp_path / "report.pdf"
            document.write_bytes(response.content)
            text = subprocess.run(
                ["pdftotext", str(document), "-"], check=True, capture_output=True, text=True
            ).stdout
            assert FIRM in text, path
            images = subprocess.run(
                ["pdfimages", "-list", str(document)], check=True, capture_output=True, text=True
            ).stdout
            sizes = [line.split()[3:5] for line in images.splitlines()[2:]]
            assert ["120", "40"] in sizes, (path, images)  # the logo, at its own size
    finally:
        pool.close()


# ---------------------------------------------------------------- the command line


def test_processlens_org_brand_sets_the_same_branding_and_event(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "cli-data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    svg = tmp_path / "logo.svg"
    svg.write_bytes(SVG)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["org", "create", "Globex"]).exit_code == 0
    refused = runner.invoke(cli.app, ["org", "brand", "globex", "--name", FIRM, "--logo", str(svg)])
    assert refused.exit_code == 1
    assert "SVG logos are not accepted" in refused.stderr
    done = runner.invoke(
        cli.app,
        ["org", "brand", "globex", "--name", FIRM, "--colour", "#1a4480", "--logo", str(logo)],
    )
    assert done.exit_code == 0, done.stderr
    shown = runner.invoke(cli.app, ["org", "brand", "globex"])
    assert f"name on reports: {FIRM}" in shown.stdout
    assert "logo: yes" in shown.stdout
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            org = session.exec(select(Organisation)).one()
            assert (org.brand_name, org.brand_colour) == (FIRM, "#1a4480")
            [event] = _branding_events(session, org.id or 0)
            assert event.details["via"] == "cli"
    finally:
        engine.dispose()


def test_the_admin_organisation_page_links_its_branding(
    client: TestClient, world: dict[str, Any]
) -> None:
    org_id = world["alpha"].org.id
    page = client.get(f"/admin/organisations/{org_id}", headers=world["admin"].headers())
    assert f'href="/organisations/{org_id}/branding"' in page.text


@pytest.fixture
def own_client(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[TestClient]:
    """The real app on a database of its own: the report job commits from its own
    connections, as in production."""
    application = create_app(make_settings(fresh_database_url, data_dir=tmp_path / "data"))
    with TestClient(application) as client:
        yield client
    application.state.engine.dispose()


def _pdf_shows_the_branding(document: bytes, tmp_path: Path) -> None:
    path = tmp_path / "entry.pdf"
    path.write_bytes(document)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    assert FIRM in text.stdout
    images = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert ["120", "40"] in [line.split()[3:5] for line in images.splitlines()[2:]], images


def test_the_zip_of_every_teams_report_shows_the_branding(
    own_client: TestClient, tmp_path: Path
) -> None:
    """The batch zip, made by the job queue, looks the branding up like every other report."""
    app: Any = own_client.app
    settings: Settings = app.state.settings
    catalog = helpers.catalog()
    example = read_answers_file(ROOT_DIR / "examples" / "quick-check.yaml", catalog)
    with Session(app.state.engine) as session:
        alpha = helpers.tenant(session, settings, "Alpha")
        assert alpha.round.id is not None
        published.publish(session, alpha.round, 4)
        session.add(
            RoundResult(
                round_id=alpha.round.id,
                computed=to_data(catalog, assess_file(catalog, example)),
                respondent_count=4,
                final=True,
            )
        )
        branding_service.update(
            session=session,
            settings=settings,
            organisation=alpha.org,
            change=branding_service.BrandingChange(display_name=FIRM, logo=png()),
            actor=Actor(user_id=None),
        )
        consultant = helpers.sign_in(session, settings, alpha.consultant)
        session.commit()
        base = f"/organisations/{alpha.org.id}/report-exports"
    started = own_client.post(base, headers=consultant.headers(), follow_redirects=False)
    assert started.status_code == 303
    job_url = started.headers["location"]
    deadline = time.monotonic() + 240
    while True:
        page = own_client.get(job_url, headers=consultant.headers())
        if not page.context["page"].under_way:  # type: ignore[attr-defined]
            break
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    download = own_client.get(job_url + "/download", headers=consultant.headers())
    assert download.status_code == 200, download.text[:300]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        [name] = archive.namelist()
        _pdf_shows_the_branding(archive.read(name), tmp_path)
