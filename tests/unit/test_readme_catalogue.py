"""The README's events catalogue is generated from contracts, never hand-edited."""

from pathlib import Path

from contracts.catalogue import embedded, render


def test_readme_catalogue_is_the_generated_one():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert embedded(readme) == render(), "run: make catalogue"
