"""A viewer never gets two verdicts on one round (issue 17, review of "an unknown viewer
assumes any workspace answerer").

Reads that do not know the viewer (a batch of reports, the previous round, lists) decided for
``ANYONE``; the results page decides for the signed-in viewer. The two verdicts could withhold
different role groups, and one person saw both: the team figures less every role group shown on
either page isolated whoever was left. A read for ``ANYONE`` now shows team figures only, so the
union of what a viewer sees is their own verdict.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.results.visibility import ANYONE, OUTSIDER, Member, Shown, Viewer, decide

GROUPS = ("data_science", "engineering", "product_and_lead", None)


def _partition_holds(members: tuple[Member, ...], shown: Shown, k: int, own: int | None) -> bool:
    """Each part of the split by the groups shown (and the rest), less ``own``, is empty or
    holds at least k."""
    parts = [[m for m in members if m.group == g] for g in shown.groups]
    parts.append([m for m in members if m.group not in shown.groups])
    lefts = [len([m for m in part if m.response_id != own]) for part in parts]
    return all(left == 0 or left >= k for left in lefts)


def test_a_lead_who_did_not_answer_and_a_batch_never_add_up_to_a_person() -> None:
    """Three data scientists, three engineers, an org leader's own answers with two product
    managers, and one 'other': the lead's page withheld data science (the smallest first, by
    name), a batch deciding for anyone withheld product and lead (the leader's own answers
    leave two): together they showed all three groups, and the 'other' was left alone."""
    members = (
        *(Member(i, "data_science", may_view=False) for i in range(3)),
        *(Member(i, "engineering", may_view=False) for i in range(3, 6)),
        Member(6, "product_and_lead", may_view=True),  # answered through the workspace
        *(Member(i, "product_and_lead", may_view=False) for i in range(7, 9)),
        Member(9, None, may_view=False),
    )
    page = decide(members, k=3, viewer=OUTSIDER)
    batch = decide(members, k=3, viewer=ANYONE)
    assert batch.team
    assert batch.groups == frozenset()
    seen = Shown(True, page.groups | batch.groups, frozenset())
    assert _partition_holds(members, seen, 3, None)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    groups=st.lists(st.sampled_from(GROUPS), min_size=2, max_size=12),
    may_view=st.lists(st.booleans(), min_size=12, max_size=12),
    k=st.sampled_from((2, 3)),
    viewer=st.one_of(st.none(), st.integers(min_value=0, max_value=11)),
)
def test_what_a_viewer_sees_for_themselves_and_for_anyone_keeps_the_partition(
    groups: list[str | None], may_view: list[bool], k: int, viewer: int | None
) -> None:
    members = tuple(Member(i, g, may_view[i]) for i, g in enumerate(groups))
    if viewer is not None and (viewer >= len(members) or not members[viewer].may_view):
        viewer = None  # only someone who may look is a viewer with a response
    mine = decide(members, k=k, viewer=Viewer(own_response_id=viewer))
    anyone = decide(members, k=k, viewer=ANYONE)
    if anyone.team:
        assert mine.team  # the team part for anyone holds for every viewer
    if not (mine.team or anyone.team):
        return
    seen = Shown(True, mine.groups | anyone.groups, frozenset())
    assert seen.groups == mine.groups
    group_min = max(k, 3)
    for group in seen.groups:
        part = [m for m in members if m.group == group and m.response_id != viewer]
        assert len(part) >= group_min
    rest = [m for m in members if m.group not in seen.groups and m.response_id != viewer]
    assert len(rest) == 0 or len(rest) >= k
