"""checkov, offline, with our Cognito policies: clean stack, caught mutations.

checkov lives in its own virtual environment (its bundled ``hcl2`` clashes
with python-hcl2), so it runs as a subprocess. One run scans two copies side
by side, ``clean/`` (the stack as it is) and ``mutated/`` (three guards
removed), and the report is split by directory: one checkov start, not two.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.structure import TERRAFORM_DIR, Mutation, mutated_copy

ROOT = TERRAFORM_DIR.parents[1]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
POLICIES = TERRAFORM_DIR / "checkov_policies"
SCAN_TIMEOUT_SECONDS = 180

pytestmark = pytest.mark.skipif(
    not CHECKOV.exists(),
    reason=".venv-checkov is missing: `make checkov-setup` (part of `make test`)",
)

# Each mutation removes what exactly one custom policy looks at.
CHECKOV_MUTATIONS = [
    Mutation(
        "client_secret_not_generated",
        "cognito.tf",
        "generate_secret = true",
        "generate_secret = false",
        "CKV2_KL_1 aws_cognito_user_pool_client.web",
    ),
    Mutation(
        "kakao_scopes_without_openid",
        "kakao_idp.tf",
        '"openid profile_nickname account_email"',
        '"profile_nickname account_email"',
        "CKV2_KL_6 aws_cognito_identity_provider.kakao",
    ),
    Mutation(
        "client_rotation_block_removed",
        "cognito.tf",
        "  refresh_token_rotation {\n"
        '    feature                    = "ENABLED"\n'
        "    retry_grace_period_seconds = var.refresh_rotation_grace_seconds\n"
        "  }\n",
        "",
        "CKV2_KL_7 aws_cognito_user_pool_client.web",
    ),
]


def _scan(directory: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        # Offline: no Prisma Cloud mapping, no update check, no guidelines.
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
    }
    command = [
        str(CHECKOV),
        "-d",
        str(directory),
        "--skip-download",
        "--framework",
        "terraform",
        "--external-checks-dir",
        str(POLICIES),
        "-o",
        "json",
    ]
    # Without --quiet the report lists passed checks too, which proves that
    # every custom policy was loaded and evaluated.
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=SCAN_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode in (0, 1), (
        f"checkov crashed: {completed.stderr[-2000:]}"
    )
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def _split(report: dict[str, Any], copy: str) -> dict[str, list[dict[str, Any]]]:
    """The results of one copy, by kind (passed_checks, failed_checks, ...)."""
    prefix = f"/{copy}/"
    return {
        kind: [r for r in results if r["file_path"].startswith(prefix)]
        for kind, results in report["results"].items()
    }


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("checkov")
    mutated_copy([], root / "clean")
    mutated_copy(CHECKOV_MUTATIONS, root / "mutated")
    for copy in ("clean", "mutated"):
        # Policies come from the real directory only, never from a copy.
        shutil.rmtree(root / copy / POLICIES.name)

    report = _scan(root)

    return {
        "summary": report["summary"],
        "clean": _split(report, "clean"),
        "mutated": _split(report, "mutated"),
    }


def _results(results: dict[str, list[dict[str, Any]]], kind: str) -> set[str]:
    return {f"{r['check_id']} {r['resource']}" for r in results.get(kind, [])}


def _custom_policy_ids() -> set[str]:
    ids = set()
    for path in POLICIES.glob("*.yaml"):
        match = re.search(r"^\s*id:\s*(\S+)", path.read_text(encoding="utf-8"), re.M)
        assert match, f"{path.name} has no metadata id"
        ids.add(match.group(1))
    return ids


def test_clean_stack_has_no_failed_check(reports: dict[str, Any]) -> None:
    assert reports["summary"]["parsing_errors"] == 0
    assert _results(reports["clean"], "failed_checks") == set()


def test_every_custom_policy_is_evaluated_and_passes(
    reports: dict[str, Any],
) -> None:
    passed_ids = {
        result.split()[0] for result in _results(reports["clean"], "passed_checks")
    }

    assert _custom_policy_ids() <= passed_ids


def test_every_skip_carries_its_reason(reports: dict[str, Any]) -> None:
    inline = re.findall(
        r"#checkov:skip=([A-Z0-9_]+)(?::(.*))?",
        "".join(p.read_text(encoding="utf-8") for p in TERRAFORM_DIR.glob("*.tf")),
    )
    skipped = reports["clean"].get("skipped_checks", [])

    assert inline, "expected the documented skips"
    assert all(reason and len(reason.strip()) >= 20 for _, reason in inline)
    assert len(skipped) == len(inline)
    assert all(r["check_result"].get("suppress_comment") for r in skipped)


@pytest.mark.parametrize("mutation", CHECKOV_MUTATIONS, ids=lambda m: m.name)
def test_custom_policy_fails_when_its_guard_is_removed(
    reports: dict[str, Any], mutation: Mutation
) -> None:
    failed = _results(reports["mutated"], "failed_checks")

    assert mutation.check in failed


def test_mutations_fail_only_the_policies_they_target(
    reports: dict[str, Any],
) -> None:
    failed = _results(reports["mutated"], "failed_checks")

    assert failed == {m.check for m in CHECKOV_MUTATIONS}
