"""The documentation states what the code does."""

from pathlib import Path

from cxsim import docs

ROOT = Path(__file__).resolve().parents[1]


def test_odd_generated_tables_are_current():
    text = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    assert docs.render(text) == text, "run: python -m cxsim.docs docs/ODD.md"


def test_odd_documents_every_parameter():
    text = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    from cxsim.params import field_paths

    for path in field_paths():
        shown = path.replace("companies.N.promotions.N.", "companies.N.promotions.M.")
        assert f"`{shown}`" in text, path
