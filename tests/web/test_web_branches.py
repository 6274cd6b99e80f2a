"""The item page's buttons per branch (issue 12): each fires its own branch or shows its own refusal.

The ticket workflow (tests/web/data/workflows/ticket.yaml) has two `revisit` branches chosen by
the 回访结果 typed in; each is a button with its own form, which sends the branch back.
"""

from __future__ import annotations

import re


def fire_url(item, name):
    return f"/items/{item.id}/fire/{name}"


def _form(page: str, label: str) -> str:
    """The form under the button labelled `label`."""
    start = page.index(f'<summary class="button primary">{label}</summary>')
    return page[start:page.index("</form>", start)]


def _revisiting(world):
    item = world.fire(world.make_item(), "dispatch", "cs_supervisor", department="engineering")
    return world.fire(item, "finish", "engineer", amount="100", done_at="2026-03-02T10:00")


def test_each_branch_button_has_its_own_form_marks_and_branch(auth, client, world):
    item = _revisiting(world)
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    good, bad = _form(page, "回访满意"), _form(page, "回访不满意")
    branches = [re.search(r'name="branch" value="(\d+)"', form).group(1) for form in (good, bad)]
    assert branches[0] != branches[1]
    # Inputs are told apart per form (no two ids alike on the page) and marked required where required.
    assert f'id="revisit-{branches[0]}-result"' in good and f'id="revisit-{branches[1]}-result"' in bad
    assert good.count('class="req"') == 2 and "确认回访满意" in good
    # Each form offers the 回访结果 its branch fires with, not the other branch's.
    assert '<option value="good"' in good and '<option value="bad"' not in good
    assert '<option value="bad"' in bad and '<option value="good"' not in bad


def test_a_branch_button_with_input_for_the_other_branch_is_refused_with_its_own_reason(auth, client, world):
    item = _revisiting(world)
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    branch = re.search(r'name="branch" value="(\d+)"', _form(page, "回访满意")).group(1)
    before = world.snapshot()
    response = auth.post(fire_url(item, "revisit"), {"version": item.version, "result": "bad", "note": "还在漏",
                                                      "branch": branch})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "不能回访满意：条件不满足（与“回访结果”有关）" in text
    assert "result ==" not in text and "&#39;bad&#39;" not in text
    # The refused branch's form is the one shown open again, with what was typed (kept as an option).
    assert re.search(r'<details class="action" open>\s*<summary class="button primary">回访满意</summary>', text)
    assert '<option value="bad" selected>不满意</option>' in _form(text, "回访满意")
    assert world.snapshot() == before


def test_a_forged_branch_is_refused_and_writes_nothing(auth, world):
    item = _revisiting(world)
    auth.login("frontdesk")
    before = world.snapshot()
    response = auth.post(fire_url(item, "revisit"), {"version": item.version, "result": "good", "note": "好",
                                                      "branch": "0"})  # dispatch's entry, not a revisit branch
    assert response.status_code == 404
    assert world.snapshot() == before
