"""Generate the Chalice stage config and the front end's config from outputs.

Config is never typed by hand: ``terraform apply`` (or the offline stack's
provisioning) is the only place ids are born, and this generator is the only
thing that copies them. It writes:

- ``chalice_app/.chalice/config.json``: for the stage, only pointers that cannot
  go stale (region, SSM prefix, table name, the Lambda role). The API reads the
  client id and every other value from SSM when it needs them.
- ``frontend/config.json``: the API's base URL and the fingerprint of the public
  config, so the page can tell at once when the API serves other config.

Sensitive outputs are dropped before anything is written.

Usage: ``python -m scripts.sync_config --stage dev`` (runs ``terraform output
-json`` in ``infra/terraform``) or ``--outputs-file outputs.json``. The ``local``
stage reads the offline stack's ``.devstack/outputs.json`` by default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.config import public_config

from scripts.outputs import OUTPUTS

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "infra" / "terraform"
# Where generated files go; the deploy tests point it at a scratch folder so a
# rehearsal never overwrites a real stage's config.
CONFIG_ROOT = Path(os.environ.get("KAKAO_LOGIN_CONFIG_ROOT", ROOT))
CHALICE_CONFIG = CONFIG_ROOT / "chalice_app" / ".chalice" / "config.json"
FRONTEND_CONFIG = CONFIG_ROOT / "frontend" / "config.json"
APP_NAME = "kakao-login"


class OutputsError(Exception):
    """The outputs cannot produce config; the message says what to run."""


@dataclass(frozen=True)
class Outputs:
    """Terraform outputs with the sensitive ones kept apart."""

    public: dict[str, Any]
    sensitive_names: frozenset[str]

    def __getitem__(self, name: str) -> Any:
        return self.public[name]


def parse_outputs(raw: object, *, source: str, hint: str) -> Outputs:
    """Check ``terraform output -json`` data against the outputs we read."""
    if not isinstance(raw, dict) or not raw:
        raise OutputsError(f"{source} holds no outputs. {hint}")
    missing = sorted(name for name in OUTPUTS if name not in raw)
    if missing:
        raise OutputsError(f"{source} lacks outputs {', '.join(missing)}. {hint}")
    public: dict[str, Any] = {}
    sensitive: set[str] = set()
    for name, spec in OUTPUTS.items():
        entry = raw[name]
        if not isinstance(entry, dict) or "value" not in entry:
            raise OutputsError(f"output {name} in {source} is not in Terraform shape")
        if entry.get("sensitive", False):
            sensitive.add(name)
            continue
        if spec.sensitive:
            raise OutputsError(
                f"output {name} is a secret but {source} does not mark it "
                "sensitive: add `sensitive = true` to it in outputs.tf"
            )
        public[name] = entry["value"]
    _check_types(public, source)
    return Outputs(public=public, sensitive_names=frozenset(sensitive))


def _check_types(values: dict[str, Any], source: str) -> None:
    for name, value in values.items():
        expected = OUTPUTS[name].type
        ok = (
            isinstance(value, str)
            if expected == "string"
            else isinstance(value, list)
            if expected[0] == "list"
            else isinstance(value, dict)
        )
        if not ok:
            raise OutputsError(f"output {name} in {source} is not of type {expected}")


def read_outputs_file(path: Path) -> Outputs:
    hint = (
        "Write it with `terraform output -json > FILE` in infra/terraform "
        "(the offline stack: `python -m devstack provision`)."
    )
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputsError(f"{path} does not exist. {hint}") from None
    except ValueError:
        raise OutputsError(f"{path} is not JSON. {hint}") from None
    return parse_outputs(raw, source=str(path), hint=hint)


def read_terraform_outputs(working_dir: Path = TERRAFORM_DIR) -> Outputs:
    """Ask Terraform itself, through python-terraform."""
    from python_terraform import Terraform  # imported only when Terraform is used

    hint = f"Run `terraform init && terraform apply` in {working_dir}."
    # python-terraform answers None instead of raising when the command fails.
    try:
        raw = Terraform(working_dir=str(working_dir)).output(json=True)
    except FileNotFoundError:
        raise OutputsError(
            "terraform is not installed or not on PATH: install Terraform >= 1.11, "
            "or pass the outputs with --outputs-file (OUTPUTS_FILE=... for make)"
        ) from None
    if raw is None:
        raise OutputsError(f"`terraform output -json` answered nothing. {hint}")
    return parse_outputs(raw, source="terraform output", hint=hint)


def chalice_stage(outputs: Outputs) -> dict[str, Any]:
    return {
        "api_gateway_stage": "api",
        "manage_iam_role": False,
        "iam_role_arn": outputs["lambda_role_arn"],
        "environment_variables": {
            "KL_REGION": outputs["region"],
            "KL_SSM_PREFIX": outputs["ssm_prefix"],
            "KL_SESSIONS_TABLE": outputs["sessions_table_name"],
        },
    }


def frontend_config(outputs: Outputs) -> dict[str, Any]:
    public = public_config(
        region=outputs["region"],
        user_pool_id=outputs["user_pool_id"],
        client_id=outputs["app_client_id"],
        cognito_domain_url=outputs["cognito_domain_url"],
        identity_providers=outputs["identity_providers"],
        token_delivery=outputs["token_delivery"],
        app=outputs["app_public_config"],
    )
    return {
        "stage": outputs["stage"],
        "api_base_url": outputs["api_base_url"].rstrip("/"),
        "fingerprint": public["fingerprint"],
    }


def write_config(
    outputs: Outputs,
    stage: str,
    *,
    chalice_config: Path = CHALICE_CONFIG,
    frontend_config_file: Path = FRONTEND_CONFIG,
) -> list[Path]:
    if outputs["stage"] != stage:
        raise OutputsError(
            f"the outputs belong to stage {outputs['stage']!r}, not {stage!r}: "
            "select the right Terraform workspace or outputs file"
        )
    existing: dict[str, Any] = {}
    if chalice_config.exists():
        existing = json.loads(chalice_config.read_text())
    stages = dict(existing.get("stages", {}))
    stages[stage] = chalice_stage(outputs)
    config = {"version": "2.0", "app_name": APP_NAME, "stages": stages}
    _write_json(chalice_config, config)
    _write_json(frontend_config_file, frontend_config(outputs))
    return [chalice_config, frontend_config_file]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def load_outputs(stage: str, outputs_file: Path | None) -> Outputs:
    if outputs_file is not None:
        return read_outputs_file(outputs_file)
    if stage == "local":
        from devstack.settings import StackSettings

        return read_outputs_file(StackSettings.from_env().outputs_file)
    return read_terraform_outputs()


def frontend_config_path(stage: str) -> Path:
    """Where the page's config lives: the offline stack serves its own copy."""
    if stage == "local":
        from devstack.settings import StackSettings

        return StackSettings.from_env().frontend_config_file
    return FRONTEND_CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--outputs-file", type=Path)
    args = parser.parse_args(argv)
    try:
        outputs = load_outputs(args.stage, args.outputs_file)
        written = write_config(
            outputs,
            args.stage,
            frontend_config_file=frontend_config_path(args.stage),
        )
    except OutputsError as error:
        print(f"sync-config: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"sync-config: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
