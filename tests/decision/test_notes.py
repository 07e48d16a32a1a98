"""notes.md edited by two writers: a person in their editor and the review page (or an agent) at the same time."""

from __future__ import annotations

from pathlib import Path

import pytest

from base_model_selector.decision.notes import Notes, NotesChanged, merge_notes, parse_notes, update_notes
from base_model_selector.study.directory import Study
from decision_fixture import write_study


@pytest.fixture
def study(tmp_path: Path) -> Study:
    return Study.open(write_study(tmp_path / "s"))


def test_an_empty_pattern_removes_that_criterion_line_and_keeps_the_others() -> None:
    before = "## Failure patterns\n- CQ1: generic filler\n- CQ2: refunds after 30 days\n"
    after = merge_notes(before, patterns={"CQ1": "  ", "SAFE1": ""})
    assert parse_notes(after).patterns == {"CQ2": "refunds after 30 days"}
    assert "SAFE1" not in after


def test_update_notes_keeps_the_text_written_by_hand(study: Study) -> None:
    study.paths.notes_md.write_text("# Ours\nby hand\n\n## Next steps\nship\n", encoding="utf-8")
    notes = update_notes(study, qualitative="Polite.", patterns={"CQ1": "filler"}, base=Notes(next_steps="ship"))
    text = study.paths.notes_md.read_text(encoding="utf-8")
    assert text.startswith("# Ours\nby hand\n") and notes.next_steps == "ship"
    assert notes.qualitative == "Polite." and notes.patterns == {"CQ1": "filler"}


@pytest.mark.parametrize(
    ("on_disk", "change", "refused"),
    [
        pytest.param("## Qualitative notes\nedited\n", {"qualitative": "mine"}, "qualitative notes", id="qual"),
        pytest.param("## Failure patterns\n- CQ1: edited\n", {"patterns": {"CQ1": "mine"}}, "CQ1", id="pattern"),
        pytest.param("## Next steps\nedited\n", {"next_steps": "mine"}, "next steps", id="next-steps"),
    ],
)
def test_a_section_edited_on_disk_since_the_writer_read_it_is_not_overwritten(
    study: Study, on_disk: str, change: dict, refused: str
) -> None:
    study.paths.notes_md.write_text(on_disk, encoding="utf-8")
    with pytest.raises(NotesChanged, match=refused):
        update_notes(study, base=Notes(), **change)
    assert study.paths.notes_md.read_text(encoding="utf-8") == on_disk


def test_an_edit_elsewhere_in_notes_md_does_not_block_a_save(study: Study) -> None:
    study.paths.notes_md.write_text("## Next steps\nedited meanwhile\n", encoding="utf-8")
    notes = update_notes(study, qualitative="mine", base=Notes())
    assert notes.qualitative == "mine" and notes.next_steps == "edited meanwhile"


def test_update_notes_without_changes_leaves_the_file_untouched(study: Study) -> None:
    study.paths.notes_md.write_text("## Qualitative notes\n\nsame\n", encoding="utf-8")
    before = study.paths.notes_md.stat().st_mtime_ns
    update_notes(study, qualitative="same", base=Notes(qualitative="same"))
    assert study.paths.notes_md.stat().st_mtime_ns == before
