"""docs/json.md is generated from the output models (scripts/gen_json_docs.py): the committed file is
current, and every example has exactly its model's fields."""

from __future__ import annotations

import runpy
from typing import Any

from typing_extensions import TypedDict

from cstar_cli.output import json_doc
from tests.support.cli import ROOT


class _Script:
    """The generator's functions, run from its file as ``python scripts/gen_json_docs.py`` would."""

    def __init__(self) -> None:
        self.__dict__.update(runpy.run_path(str(ROOT / "scripts" / "gen_json_docs.py"), run_name="gen_json_docs"))


gen: Any = _Script()


def test_committed_json_md_is_current() -> None:
    committed = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    assert committed == gen.generate(), "docs/json.md is stale: run python scripts/gen_json_docs.py"


def test_every_example_matches_its_model() -> None:
    assert gen.problems() == []


class _Inner(TypedDict):
    a: int


@json_doc("cstar nothing", example='{"inner": {"a": 1, "b": 2}}')
class _Outer(TypedDict):
    """A model for the checker.

    Notes.
    """

    inner: _Inner | None
    missing: str


def test_the_checker_names_missing_and_extra_fields_at_any_depth() -> None:
    problems = gen.check_example(_Outer, {"inner": {"a": 1, "b": 2}})
    assert problems == [
        "_Outer: the example lacks ['missing']",
        "_Inner.inner: the example has ['b'], which the model does not",
    ]
    assert gen.check_example(_Outer, [{"inner": None, "missing": "x"}]) == []


def test_a_section_is_heading_intro_example_then_the_docstring_body() -> None:
    assert gen._section(_Outer) == '### `cstar nothing`\n\n```json\n{"inner": {"a": 1, "b": 2}}\n```\n\nNotes.\n\n'
