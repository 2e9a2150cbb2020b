"""The README is a front door and docs/ holds the reference: every relative link in them resolves (to a
file, and to a heading where it names one), the README stays short, and the generated parts are the
generated ones."""

import re
from pathlib import Path

import pytest

from contracts.catalogue import embedded, render

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters of any script kept), spaces to '-'."""
    text = CODE.sub(lambda m: m.group(0).strip("`"), heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def links(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def images(page: Path) -> list[str]:
    """The page's images, Markdown's and HTML's (the README sizes its screenshots with <img>)."""
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    found = [a or b for a, b in IMAGE.findall(text)]
    return [target for target in found if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page) + images(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif fragment and (file.suffix != ".md" or fragment not in anchors(file)):
            broken.append(f"{target}: no such heading in {file.relative_to(ROOT)}")
    assert not broken, broken


def test_the_image_check_sees_the_readmes_screenshots():
    """The README's screenshots are seen by the check above (an <img> it missed would pass unseen)."""
    assert [i for i in images(ROOT / "README.md") if i.startswith("docs/console/")], images(ROOT / "README.md")


def test_the_link_check_sees_links_and_anchors():
    """The check above could pass by finding nothing: the README links every docs page it is the door to."""
    found = links(ROOT / "README.md")
    assert "docs/partners.md#webhooks" in found and "docs/events.md" in found
    assert anchor("Recovering an overpayment (追回)") == "recovering-an-overpayment-追回"
    assert anchor("`matter.opened` (v1)") == "matteropened-v1"


def test_the_readme_fits_on_two_screens():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 130


def test_the_events_page_is_the_generated_catalogue():
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert embedded(page) == render(), "run: make catalogue"


def test_every_screenshot_the_browser_tests_take_is_committed_and_shown():
    """tests/browser photographs each page into docs/console/: each is there and docs/console.md shows it."""
    source = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "browser").glob("test_*.py")))
    shots = re.findall(r'(?:check_page\([^,]+, |shot=)"([^"]+)"', source)
    assert len(shots) > 20, shots  # the pattern still finds the tests' names
    shown = set(links(ROOT / "docs" / "console.md"))
    missing = [s for s in shots if not (ROOT / "docs" / "console" / f"{s}.png").exists()]
    unshown = [s for s in shots if f"console/{s}.png" not in shown]
    assert (missing, unshown) == ([], []), (missing, unshown)
