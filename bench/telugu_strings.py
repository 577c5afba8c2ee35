"""A Telugu text of about 10,000 sentences from the Debian archive, for bench/vocab.py (issue 15).

No Telugu corpus of that size is on the package registries these machines reach (PyPI, npm, Debian:
searched by name and content; none holds Samanantar, FLORES, Tatoeba or IndicCorp). The largest
Telugu text there is software translated into Telugu: MediaWiki's, LibreOffice's and Firefox's
Telugu interface strings. This script downloads the three pinned Debian packages (`apt-get
download`), checks each against its sha256, and writes every distinct line that is mostly Telugu
(more than half its letters in the Telugu block) and has at least 3 words, NFC, markup and
placeholders removed, to bench/out/te_strings.txt. Interface text, not prose: a vocabulary learned
from it is measured on Samanantar sentences it never saw, of another domain.

    .venv/bin/python bench/telugu_strings.py   # then: bench/vocab.py --text bench/out/te_strings.txt --measure all
"""

from __future__ import annotations

import gettext
import hashlib
import json
import re
import subprocess
import tempfile
import unicodedata
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
# Debian 12 (bookworm): each package's pinned versions with the sha256 of each .deb, newest first. A
# mirror keeps only the current version of a security-updated package (firefox-esr), so an older pin
# vanishes; the first pinned version the mirror still has is used, and the text's line count says which.
PACKAGES = {
    "mediawiki": {"1:1.39.17-1+deb12u2": "dee6a9e1f11cf72ff9764f94815df980e120102984d15d489af079de7e980bba"},
    "libreoffice-l10n-te": {"4:7.4.7-1+deb12u14": "14b624fcbb7b8da3bcac05e354845ccc68d86ece4b86adb7448e3568f8a5ed49"},
    "firefox-esr-l10n-te": {
        "153.8.0esr-1~deb12u1": "593023fd714d6781caa0dc45156a3cc805f003129091bedba6c51a91028a2b08",  # 10,188 lines
        "140.12.0esr-1~deb12u1": "2a8ad7d5e8e167df187b40174605d665c8580be5455379663442e910336b4315",
    },
}
MARKUP = re.compile(r"<[^>]+>|\$\d+|%\d*\$?[sd]|\{[^}]*\}")
ENTRY = re.compile(r"\s*[\w.-]+\s*[=:]\s*(.*)")


def mostly_telugu(line: str) -> bool:
    letters = [c for c in line if c.isalpha() or unicodedata.category(c).startswith("M")]
    telugu = sum(1 for c in letters if "\u0c00" <= c <= "\u0c7f")
    return bool(letters) and telugu / len(letters) > 0.5 and len(line.split()) >= 3


def messages(path: Path) -> list[str]:
    """A MediaWiki message file's messages (none where it is missing or not JSON)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [v for k, v in found.items() if isinstance(v, str) and not k.startswith("@")]


def strings(root: Path) -> list[str]:
    """Every translated string of the unpacked packages: MediaWiki's te.json messages, LibreOffice's
    .mo catalogues, and the Fluent / properties files of Firefox's language pack."""
    out: list[str] = []
    for path in sorted(root.rglob("te.json")):
        out += messages(path)
    for path in sorted(root.rglob("*.mo")):
        with open(path, "rb") as handle:
            out += [v for v in gettext.GNUTranslations(handle)._catalog.values() if isinstance(v, str)]
    for xpi in sorted(root.rglob("*.xpi")):
        with zipfile.ZipFile(xpi) as archive:
            for name in sorted(archive.namelist()):
                if name.endswith((".ftl", ".properties", ".dtd")):
                    for line in archive.read(name).decode("utf-8", errors="ignore").splitlines():
                        if m := ENTRY.match(line):
                            out.append(m.group(1))
    return out


def mostly_latin(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    latin = sum(1 for c in letters if c.isascii())
    return bool(letters) and latin / len(letters) > 0.9 and len(line.split()) >= 3


def english_strings(root: Path) -> list[str]:
    """The English originals of the same packages (the replay text of bench/adapt.py): MediaWiki's
    en.json beside each te.json, and the message ids of LibreOffice's .mo catalogues. Firefox's
    language pack holds only its translations."""
    out: list[str] = []
    for path in sorted(root.rglob("te.json")):
        out += messages(path.parent / "en.json")
    for path in sorted(root.rglob("*.mo")):
        with open(path, "rb") as handle:
            keys = gettext.GNUTranslations(handle)._catalog  # msgid, or (msgid, plural form); "context\x04msgid"
            out += [(k if isinstance(k, str) else k[0]).split("\x04")[-1] for k in keys]
    return out


def distinct_lines(values: list[str], keep) -> list[str]:
    lines, seen = [], set()
    for value in values:
        for line in value.splitlines():
            line = unicodedata.normalize("NFC", MARKUP.sub("", line).strip())
            if keep(line) and line not in seen:
                seen.add(line)
                lines.append(line)
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        used = {}
        for package, versions in PACKAGES.items():
            for version, digest in versions.items():
                before = set(tmp.glob("*.deb"))
                if subprocess.run(["apt-get", "download", "-q", f"{package}={version}"], cwd=tmp,
                                  capture_output=True).returncode == 0:
                    (deb,) = set(tmp.glob("*.deb")) - before
                    actual = hashlib.sha256(deb.read_bytes()).hexdigest()
                    if actual != digest:
                        raise SystemExit(f"{deb.name}: sha256 {actual}, pinned {digest}")
                    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True)
                    used[package] = version
                    break
            else:
                raise SystemExit(f"{package}: none of the pinned versions {list(versions)} is on the mirror; pin the "
                                 f"current one (apt-cache madison {package}) with its sha256")
        lines = distinct_lines(strings(tmp / "root"), mostly_telugu)
        english = distinct_lines(english_strings(tmp / "root"), mostly_latin)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "te_strings.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (OUT / "en_strings.txt").write_text("\n".join(english) + "\n", encoding="utf-8")
    print(f"{len(lines)} Telugu lines -> {OUT / 'te_strings.txt'}, {len(english)} English lines -> "
          f"{OUT / 'en_strings.txt'} (from {', '.join(f'{p}={v}' for p, v in used.items())})")


if __name__ == "__main__":
    main()
