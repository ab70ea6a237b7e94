"""Checks that need the Terraform binary: run where it is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.terraform.structure import TERRAFORM_DIR

TERRAFORM = shutil.which("terraform")


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH")
def test_every_file_is_in_terraform_fmt_style() -> None:
    assert TERRAFORM is not None
    done = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stdout
