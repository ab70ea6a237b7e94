"""`make doctor`: every stale piece of config is named with its fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.aws import aws_client
from devstack.provision import provision
from devstack.settings import StackSettings
from scripts import sync_config
from scripts.doctor import Check, Doctor, render
from tests.scripts.conftest import STAGE


@pytest.fixture
def deployed(settings: StackSettings, tmp_path: Path) -> dict[str, Path]:
    """A freshly provisioned stage with its config generated into tmp_path."""
    provision(settings)
    files = {
        "chalice": tmp_path / "chalice.json",
        "frontend": tmp_path / "frontend.json",
    }
    outputs = sync_config.read_outputs_file(settings.outputs_file)
    sync_config.write_config(
        outputs,
        STAGE,
        chalice_config=files["chalice"],
        frontend_config_file=files["frontend"],
    )
    return files


def run_doctor(settings: StackSettings, files: dict[str, Path]) -> list[Check]:
    return Doctor(
        STAGE,
        sync_config.read_outputs_file(settings.outputs_file),
        lambda service: aws_client(service, settings),
        chalice_config=files["chalice"],
        frontend_config=files["frontend"],
    ).run()


def failed(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks if not check.ok}


def test_fresh_stage_passes_every_check(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    checks = run_doctor(settings, deployed)

    assert failed(checks) == {}
    assert len(checks) >= 20
    assert render(checks).endswith(f"doctor: {len(checks)} ok, 0 stale")


def test_deleted_app_client_is_named_with_its_id(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    outputs = json.loads(settings.outputs_file.read_text())
    pool = outputs["user_pool_id"]["value"]
    client_id = outputs["app_client_id"]["value"]
    aws_client("cognito-idp", settings).delete_user_pool_client(
        UserPoolId=pool, ClientId=client_id
    )

    checks = run_doctor(settings, deployed)

    check = failed(checks)["app client exists in the pool"]
    assert client_id in check.detail
    assert check.fix.startswith(f"client id {client_id} is stale")
    report = render(checks)
    assert "✗ app client exists in the pool" in report
    assert f"fix: client id {client_id} is stale" in report


def test_ssm_value_differing_from_outputs_is_named(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    aws_client("ssm", settings).put_parameter(
        Name=settings.ssm_prefix + "callback_url",
        Value="http://localhost:1/auth/callback",
        Overwrite=True,
    )

    problems = failed(run_doctor(settings, deployed))

    assert "SSM callback_url matches outputs" in problems
    assert "callback_url registered as a callback URL" in problems
    assert "API fingerprint (SSM) matches outputs" not in problems


def test_unregistered_sign_out_url_and_disabled_provider_are_named(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    outputs = json.loads(settings.outputs_file.read_text())
    cognito = aws_client("cognito-idp", settings)
    client = cognito.describe_user_pool_client(
        UserPoolId=outputs["user_pool_id"]["value"],
        ClientId=outputs["app_client_id"]["value"],
    )["UserPoolClient"]
    keep = {
        key: client[key]
        for key in ("UserPoolId", "ClientId", "CallbackURLs", "AllowedOAuthFlows")
    }
    cognito.update_user_pool_client(
        **keep,
        LogoutURLs=["http://localhost:1/"],
        SupportedIdentityProviders=["COGNITO"],
        AllowedOAuthScopes=client["AllowedOAuthScopes"],
        AllowedOAuthFlowsUserPoolClient=True,
    )

    problems = failed(run_doctor(settings, deployed))

    assert "logout_redirect_url registered as a sign-out URL" in problems
    assert "identity provider Kakao enabled on the client" in problems


def test_table_without_ttl_is_named(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    aws_client("dynamodb", settings).update_time_to_live(
        TableName=settings.sessions_table,
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"},
    )

    problems = failed(run_doctor(settings, deployed))

    assert "sessions table has TTL on expires_at" in problems
    assert "enable TTL" in problems["sessions table has TTL on expires_at"].fix


@pytest.mark.parametrize(
    ("file", "change", "check"),
    [
        (
            "frontend",
            {"fingerprint": "0" * 16},
            "front-end fingerprint matches outputs",
        ),
        ("frontend", {"api_base_url": "http://x"}, "front-end API URL matches outputs"),
    ],
)
def test_stale_front_end_config_is_named(
    settings: StackSettings,
    deployed: dict[str, Path],
    file: str,
    change: dict[str, Any],
    check: str,
) -> None:
    path = deployed[file]
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))

    problems = failed(run_doctor(settings, deployed))

    assert set(problems) == {check}
    assert "make sync-config STAGE=doctortest" in problems[check].fix


def test_stale_chalice_stage_is_named(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    config = json.loads(deployed["chalice"].read_text())
    variables = config["stages"][STAGE]["environment_variables"]
    variables["KL_SESSIONS_TABLE"] = "an-old-table"
    deployed["chalice"].write_text(json.dumps(config))

    problems = failed(run_doctor(settings, deployed))

    assert (
        "KL_SESSIONS_TABLE" in problems["Chalice stage config matches outputs"].detail
    )


def test_front_end_on_another_site_is_named(
    settings: StackSettings, deployed: dict[str, Path]
) -> None:
    raw = json.loads(settings.outputs_file.read_text())
    raw["frontend_url"]["value"] = "https://app.example.com/"
    raw["api_base_url"]["value"] = "https://api.example.net"
    settings.outputs_file.write_text(json.dumps(raw))
    outputs = sync_config.read_outputs_file(settings.outputs_file)

    checks = Doctor(
        STAGE,
        outputs,
        lambda service: aws_client(service, settings),
        chalice_config=deployed["chalice"],
        frontend_config=deployed["frontend"],
    ).run()

    assert "front end and API share a site" in failed(checks)


def test_doctor_for_the_offline_stage_without_a_stack_says_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import doctor
    from tests.stack import free_port

    monkeypatch.setenv("DEVSTACK_AWS_PORT", str(free_port()))
    monkeypatch.setenv("DEVSTACK_STATE_DIR", str(tmp_path))

    code = doctor.main(["--stage", "local"])

    assert code == 1
    assert "python -m devstack up --detach" in capsys.readouterr().out
