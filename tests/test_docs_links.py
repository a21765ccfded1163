"""Every relative link of README.md and docs/*.md resolves: the file exists, and a `#anchor`
names a heading of the target by GitHub's slug (as github.com renders the Markdown)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def documents(root: Path = REPO) -> list[Path]:
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def _prose(text: str) -> str:
    """The Markdown outside fenced blocks and inline code, where links and headings live."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its rendered text lower-cased, every character but
    letters, digits, `_`, `-` and spaces dropped, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's slug; a repeated one gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    out = set()
    for h in HEADING.findall(FENCE.sub("", text)):
        s = slug(h)
        out.add(f"{s}-{seen[s]}" if s in seen else s)
        seen[s] = seen.get(s, 0) + 1
    return out


def broken_links(doc: Path) -> list[str]:
    """The relative links of `doc` that name no file, or no heading of their target."""
    bad = []
    for target in LINK.findall(_prose(doc.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            bad.append(f"{target}: no file {dest}")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest.read_text())):
            bad.append(f"{target}: no heading #{anchor} in {dest.name}")
    return bad


def test_slug_follows_github():
    assert slug("What the replication finds") == "what-the-replication-finds"
    assert slug("GPUs, speed and precision") == "gpus-speed-and-precision"
    assert slug("Studies: what runs") == "studies-what-runs"
    assert slug("`F18`, the *replication* table") == "f18-the-replication-table"
    assert slug("CI and the results_regression") == "ci-and-the-results_regression"
    assert anchors("# A\n## B\n```bash\n# not a heading\n```\n## B\n") == {"a", "b", "b-1"}


def test_broken_links_are_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/x.md").write_text("# X\n## Has this\n")
    doc = tmp_path / "README.md"
    doc.write_text("[ok](docs/x.md) [ok](docs/x.md#has-this) [ok](#top) [web](https://a.b/c)\n"
                   "# Top\n[gone](docs/y.md) [no anchor](docs/x.md#has-that)\n"
                   "`[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n")
    assert [b.split(":")[0] for b in broken_links(doc)] == ["docs/y.md", "docs/x.md#has-that"]


def test_every_relative_link_of_the_readme_and_docs_resolves():
    docs = documents()
    assert len(docs) > 1, "docs/ holds the reference material the README links to"
    readme_links = LINK.findall(_prose(docs[0].read_text()))
    # the README reaches every document of docs/
    assert {d.name for d in docs[1:]} <= {Path(t.partition("#")[0]).name for t in readme_links}
    bad = [f"{d.relative_to(REPO)}: {b}" for d in docs for b in broken_links(d)]
    assert not bad, "\n".join(bad)
