"""The benchmark machinery works end to end with tiny counts (no timing asserted)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts import bench
from scripts.bench_package import describe_archive
from scripts.bench_warm import CATEGORIES, ROUTES


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One bench run with tiny counts and no package build (that reaches PyPI)."""
    output = tmp_path_factory.mktemp("bench")
    argv = ["--cold-runs", "1", "--requests", "2", "--no-package"]
    return output, bench.main([*argv, "--output", str(output)])


def _report(tiny_run: tuple[Path, int]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((tiny_run[0] / "bench.json").read_text())
    return report


def test_a_tiny_run_writes_the_report_with_every_section(
    tiny_run: tuple[Path, int],
) -> None:
    # given a tiny run; when its report is read
    output, exit_code = tiny_run
    report = _report(tiny_run)

    # then the JSON holds every section, with the app answering its cold request
    assert exit_code == 0
    assert {"machine", "cold_start", "warm", "package"} <= report.keys()
    cold = report["cold_start"]["variants"]
    assert set(cold) == {
        "python_pass",
        "python_script",
        "boto3_client",
        "app_user_info",
    }
    for figures in cold.values():
        assert figures["wall_ms"] > 0
        assert figures["runs"] == 1
    assert cold["app_user_info"]["peak_rss_kb"] > 0
    assert "requests" not in cold["app_user_info"]["heavy_modules"]
    assert set(report["cold_start"]["ratios"]) == {
        "wall_vs_python_pass",
        "wall_vs_boto3_client",
        "in_process_vs_boto3_client",
    }
    assert report["package"] == {"built": False, "reason": "skipped (--no-package)"}
    assert (output / "bench.txt").read_text().startswith("machine:")


def test_each_route_is_timed_and_its_calls_counted(
    tiny_run: tuple[Path, int],
) -> None:
    # given a tiny run; when its warm section is read
    routes = _report(tiny_run)["warm"]["routes"]

    # then every route has both sides, and a warm user-info costs one read
    assert set(routes) == set(ROUTES)
    for row in routes.values():
        assert row["ours"]["n"] == 2
        assert row["direct"]["n"] == 2
        assert set(row["ours"]["calls_per_request"]) == set(CATEGORIES)
        assert set(row["calls_minimum"]) == set(CATEGORIES)
    assert routes["user_info"]["ours"]["calls_per_request"]["dynamodb"] == 1
    assert routes["user_info"]["ours"]["calls_per_request"]["ssm"] == 0
    assert routes["code_exchange"]["calls_first_request"]["jwks"] == 1
    assert routes["logout"]["ours"]["calls_per_request"]["cognito"] == 1


def test_package_sizes_group_files_by_distribution(tmp_path: Path) -> None:
    # given a Lambda archive with a package, its metadata and the app
    archive = tmp_path / "deployment.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("cryptography/hazmat/x.py", "x" * 3000)
        bundle.writestr("cryptography-46.0.0.dist-info/METADATA", "m" * 100)
        bundle.writestr("app.py", "a" * 10)

    # when it is described
    described = describe_archive(archive)

    # then sizes add up and the largest distribution comes first
    assert described["unzipped_bytes"] == 3110
    assert described["zipped_bytes"] == archive.stat().st_size
    assert described["largest"][0] == {"name": "cryptography", "unzipped_bytes": 3100}
    assert {"name": "app", "unzipped_bytes": 10} in described["largest"]
