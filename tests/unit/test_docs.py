"""The documents point at what exists: every file of the repository they name, every page
they link, and a section of the command reference for every command."""

import pathlib
import re

from corral import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "bench" / "README.md"])
#: A path in backquotes that starts in one of the repository's directories (a user's own
#: files, such as `limits.py` or `site.toml`, start in none).
REPOSITORY_PATH = re.compile(r"`((?:src|tests|examples|bench|docs|corral)/[^`\s]*)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_repository_file_a_document_names_exists():
    missing = []
    for document in DOCUMENTS:
        text = document.read_text()
        for path in REPOSITORY_PATH.findall(text):
            where = ROOT / "src" / path if path.startswith("corral/") else ROOT / path
            if not where.exists():
                missing.append(f"{document.relative_to(ROOT)}: {path}")
        for target in LINK.findall(text):
            if "://" not in target and not (document.parent / target).exists():
                missing.append(f"{document.relative_to(ROOT)}: link {target}")
    assert missing == []


def test_every_command_has_a_section_in_the_command_reference():
    headings = re.findall(r"^## (.+)$", (ROOT / "docs" / "cli.md").read_text(), re.MULTILINE)
    documented = {word for heading in headings for word in re.findall(r"corral (\S+)", heading)}
    assert sorted(set(cli.COMMANDS) - documented) == []
