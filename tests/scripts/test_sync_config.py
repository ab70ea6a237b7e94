"""The config generator: outputs in, config out, and a clear error otherwise."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from chalicelib.config import AppConfig

from scripts import sync_config
from scripts.outputs import render

SECRET = "client-secret-that-must-never-be-written"


POOL = "ap-northeast-2_AbC123"
ISSUER = f"https://cognito-idp.ap-northeast-2.amazonaws.com/{POOL}"


def outputs_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "project": "kakao-login",
        "stage": "dev",
        "region": "ap-northeast-2",
        "user_pool_id": "ap-northeast-2_AbC123",
        "app_client_id": "client123",
        "app_client_secret": SECRET,
        "cognito_domain_url": "https://kl-dev.auth.ap-northeast-2.amazoncognito.com",
        "cognito_issuer": ISSUER,
        "jwks_url": f"{ISSUER}/.well-known/jwks.json",
        "identity_providers": ["Kakao"],
        "callback_urls": ["https://app.example.com/auth/callback"],
        "sign_out_urls": ["https://app.example.com/"],
        "api_callback_url": "https://app.example.com/auth/callback",
        "frontend_url": "https://app.example.com/",
        "api_base_url": "https://app.example.com/",
        "allowed_origins": ["https://app.example.com"],
        "ssm_prefix": "/kakao-login/dev/",
        "sessions_table_name": "kakao-login-dev-sessions",
        "lambda_role_arn": "arn:aws:iam::123456789012:role/kakao-login-dev-api",
        "token_delivery": "bff",
        "app_public_config": {"app_api_url": "https://app.example.com/app-api"},
    }
    values.update(overrides)
    return values


def write_outputs(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(json.dumps(raw))
    return path


def generate(tmp_path: Path, raw: dict[str, Any], stage: str = "dev") -> list[Path]:
    outputs = sync_config.read_outputs_file(write_outputs(tmp_path / "o.json", raw))
    return sync_config.write_config(
        outputs,
        stage,
        chalice_config=tmp_path / "chalice.json",
        frontend_config_file=tmp_path / "frontend.json",
    )


def test_config_is_generated_with_pointers_only(tmp_path: Path) -> None:
    generate(tmp_path, render(outputs_values()))

    chalice = json.loads((tmp_path / "chalice.json").read_text())
    stage = chalice["stages"]["dev"]
    assert stage["environment_variables"] == {
        "KL_REGION": "ap-northeast-2",
        "KL_SSM_PREFIX": "/kakao-login/dev/",
        "KL_SESSIONS_TABLE": "kakao-login-dev-sessions",
    }
    assert stage["manage_iam_role"] is False
    assert "client123" not in (tmp_path / "chalice.json").read_text()
    frontend = json.loads((tmp_path / "frontend.json").read_text())
    assert frontend["api_base_url"] == "https://app.example.com"
    assert frontend["stage"] == "dev"


def test_frontend_fingerprint_equals_the_one_the_api_computes_from_ssm(
    tmp_path: Path,
) -> None:
    values = outputs_values()
    generate(tmp_path, render(values))

    ssm = {
        "user_pool_id": values["user_pool_id"],
        "client_id": values["app_client_id"],
        "client_secret": SECRET,
        "cognito_domain_url": values["cognito_domain_url"],
        "issuer": values["cognito_issuer"],
        "jwks_url": values["jwks_url"],
        "callback_url": values["api_callback_url"],
        "logout_redirect_url": values["sign_out_urls"][0],
        "frontend_url": values["frontend_url"],
        "allowed_origins": ",".join(values["allowed_origins"]),
        "identity_providers": ",".join(values["identity_providers"]),
        "token_delivery": values["token_delivery"],
        "session_idle_timeout_seconds": "1800",
        "session_absolute_timeout_seconds": "28800",
        "app_public_config": json.dumps(values["app_public_config"]),
    }
    api_view = AppConfig.from_parameters(values["region"], ssm).public()
    frontend = json.loads((tmp_path / "frontend.json").read_text())
    assert frontend["fingerprint"] == api_view["fingerprint"]


def test_a_new_client_id_changes_the_fingerprint(tmp_path: Path) -> None:
    generate(tmp_path, render(outputs_values()))
    before = json.loads((tmp_path / "frontend.json").read_text())["fingerprint"]

    generate(tmp_path, render(outputs_values(app_client_id="client456")))

    after = json.loads((tmp_path / "frontend.json").read_text())["fingerprint"]
    assert before != after


def test_sensitive_output_never_reaches_a_written_file(tmp_path: Path) -> None:
    written = generate(tmp_path, render(outputs_values()))

    for path in written:
        assert SECRET not in path.read_text()


def test_secret_output_not_marked_sensitive_is_refused(tmp_path: Path) -> None:
    raw = render(outputs_values())
    raw["app_client_secret"]["sensitive"] = False

    with pytest.raises(sync_config.OutputsError, match=r"app_client_secret.*sensitive"):
        generate(tmp_path, raw)
    assert not (tmp_path / "frontend.json").exists()


def test_missing_output_is_named_with_what_to_run(tmp_path: Path) -> None:
    raw = render(outputs_values())
    del raw["app_client_id"]

    with pytest.raises(sync_config.OutputsError) as error:
        generate(tmp_path, raw)
    assert "app_client_id" in str(error.value)
    assert "terraform" in str(error.value)


def test_renamed_output_is_reported_as_missing(tmp_path: Path) -> None:
    raw = render(outputs_values())
    raw["client_id"] = raw.pop("app_client_id")

    with pytest.raises(sync_config.OutputsError, match="lacks outputs app_client_id"):
        generate(tmp_path, raw)


def test_empty_outputs_say_terraform_has_not_been_applied(tmp_path: Path) -> None:
    with pytest.raises(sync_config.OutputsError, match="holds no outputs"):
        generate(tmp_path, {})


def test_wrongly_typed_output_is_refused(tmp_path: Path) -> None:
    raw = render(outputs_values())
    raw["identity_providers"]["value"] = "Kakao"

    with pytest.raises(sync_config.OutputsError, match="identity_providers"):
        generate(tmp_path, raw)


def test_outputs_of_another_stage_are_refused(tmp_path: Path) -> None:
    with pytest.raises(sync_config.OutputsError, match="belong to stage 'dev'"):
        generate(tmp_path, render(outputs_values()), stage="prod")


def test_other_stages_in_chalice_config_are_kept(tmp_path: Path) -> None:
    generate(tmp_path, render(outputs_values()))
    generate(tmp_path, render(outputs_values(stage="prod")), stage="prod")

    stages = json.loads((tmp_path / "chalice.json").read_text())["stages"]
    assert set(stages) == {"dev", "prod"}


def fake_terraform(tmp_path: Path, script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "terraform"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_terraform_answering_nothing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = fake_terraform(tmp_path, "echo 'No state file' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", env["PATH"])

    with pytest.raises(sync_config.OutputsError, match="answered nothing"):
        sync_config.read_terraform_outputs(tmp_path)


def test_terraform_outputs_are_read_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = tmp_path / "out.json"
    document.write_text(json.dumps(render(outputs_values())))
    env = fake_terraform(tmp_path, f"cat {document}\n")
    monkeypatch.setenv("PATH", env["PATH"])

    outputs = sync_config.read_terraform_outputs(tmp_path)

    assert outputs["app_client_id"] == "client123"
    assert "app_client_secret" not in outputs.public


def test_command_line_failure_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = sync_config.main(
        ["--stage", "dev", "--outputs-file", str(tmp_path / "absent.json")]
    )

    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_terraform_missing_from_path_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(sync_config.OutputsError, match="terraform is not installed"):
        sync_config.read_terraform_outputs(tmp_path)
