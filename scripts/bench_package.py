"""The Lambda package ``chalice package`` builds: zipped and unzipped size, and
what takes the room.

The app is copied into a work folder with a minimal ``bench`` stage, so the
generated ``.chalice/config.json`` of a real stage is neither needed nor
touched. Chalice downloads the requirements' Lambda wheels from PyPI and caches
the built package in the copy's ``.chalice/deployments``, which stays in the work
folder between runs. Anything that stops the build is reported, never raised.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from scripts.bench_cold import APP_DIR

STAGE = "bench"
TOP_DEPENDENCIES = 8
MINIMAL_CONFIG = {
    "version": "2.0",
    "app_name": "kakao-login",
    "stages": {STAGE: {"api_gateway_stage": "api"}},
}


def measure_package(work_dir: Path, timeout: float = 300.0) -> dict[str, Any]:
    project = work_dir / "project"
    output = work_dir / "out"
    _copy_app(project)
    shutil.rmtree(output, ignore_errors=True)

    chalice = Path(sys.executable).parent / "chalice"
    env = {
        **os.environ,
        # chalice package resolves a region though it deploys nothing.
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "ap-northeast-2"),
    }
    try:
        finished = subprocess.run(
            [str(chalice), "package", "--stage", STAGE, str(output)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"built": False, "reason": f"chalice package did not finish: {exc}"}
    archive = output / "deployment.zip"
    if finished.returncode != 0 or not archive.is_file():
        tail = (finished.stderr or finished.stdout).strip().splitlines()[-3:]
        return {
            "built": False,
            "reason": f"chalice package exited {finished.returncode}: "
            + " / ".join(tail),
        }
    return {"built": True, **describe_archive(archive)}


def describe_archive(archive: Path) -> dict[str, Any]:
    by_top: Counter[str] = Counter()
    unzipped = 0
    with zipfile.ZipFile(archive) as bundle:
        for entry in bundle.infolist():
            unzipped += entry.file_size
            by_top[_distribution(entry.filename)] += entry.file_size
    return {
        "zipped_bytes": archive.stat().st_size,
        "unzipped_bytes": unzipped,
        "largest": [
            {"name": name, "unzipped_bytes": size}
            for name, size in by_top.most_common(TOP_DEPENDENCIES)
        ],
    }


def _distribution(path: str) -> str:
    """Group a file under its top-level package (metadata with its package)."""
    top = path.split("/", 1)[0]
    for suffix in (".dist-info", ".data"):
        if top.endswith(suffix):
            return top[: -len(suffix)].split("-", 1)[0].lower()
    if top.endswith(".py") or top.endswith(".so"):
        return top.split(".", 1)[0]
    return top


def _copy_app(project: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".chalice")
    for name in ("app.py", "requirements.txt"):
        project.mkdir(parents=True, exist_ok=True)
        shutil.copy2(APP_DIR / name, project / name)
    shutil.rmtree(project / "chalicelib", ignore_errors=True)
    shutil.copytree(APP_DIR / "chalicelib", project / "chalicelib", ignore=ignore)
    config = project / ".chalice" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(MINIMAL_CONFIG, indent=2) + "\n")
