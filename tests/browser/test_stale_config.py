"""The stale-config failure, replayed in the browser, and what makes it loud.

A redeploy replaces the user pool and app client while the page is open. With
config generated from outputs and read at login time, the next login simply
works; with a piece of config made stale on purpose, the login stops on our own
page with a clear message, and `make doctor` names the stale value and the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devstack.aws import aws_client
from devstack.settings import ROOT, StackSettings
from tests.browser.test_login_in_browser import Shoot, log_in_at_kakao, open_app
from tests.stack import devstack, running_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def own_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StackSettings, dict[str, str]]]:
    # This module replaces the pool and client, so it gets a stack of its own.
    with running_stack(tmp_path_factory.mktemp("stale-stack")) as running:
        yield running


def outputs(settings: StackSettings) -> dict[str, str]:
    raw = json.loads(settings.outputs_file.read_text())
    return {name: entry["value"] for name, entry in raw.items()}


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.doctor", "--stage", "local"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def log_out(page: Page, settings: StackSettings) -> None:
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{settings.frontend_url}/**")
    expect(page.get_by_test_id("signed-out")).to_be_visible()


def test_redeploy_with_new_ids_then_stale_config_is_caught(
    own_stack: tuple[StackSettings, dict[str, str]], page: Page, shoot: Shoot
) -> None:
    settings, env = own_stack
    old = outputs(settings)
    open_app(page, settings)
    log_in_at_kakao(page, settings)
    log_out(page, settings)

    # when the stack is re-provisioned with new ids and config regenerated,
    # with the page still open and neither the API nor the front end restarted
    devstack(env, "provision", "--recreate")
    new = outputs(settings)
    assert new["app_client_id"] != old["app_client_id"]
    assert new["user_pool_id"] != old["user_pool_id"]

    # then the next login succeeds, and it used the new client id
    with page.expect_request(f"{settings.cognito_url}/oauth2/authorize*") as sent:
        page.get_by_test_id("login").click()
    assert f"client_id={new['app_client_id']}" in sent.value.url
    page.wait_for_url(f"{settings.kakao_url}/**")
    page.get_by_test_id("user-4000000001").click()
    page.wait_for_url(f"{settings.frontend_url}/**")
    expect(page.get_by_test_id("user-name")).to_have_text("Minji Kim")
    shoot(page, "logged-in-after-recreate")
    log_out(page, settings)
    assert doctor(env).returncode == 0

    # when SSM is left holding the old, deleted client id
    ssm = aws_client("ssm", settings)
    name = settings.ssm_prefix + "client_id"
    ssm.put_parameter(Name=name, Value=old["app_client_id"], Overwrite=True)
    open_app(page, settings)
    page.get_by_test_id("login").click()

    # then the login stops on our page with our message, not Cognito's
    page.wait_for_url(f"{settings.frontend_url}/**")
    expect(page.get_by_test_id("message")).to_contain_text("out of date")
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    shoot(page, "stale-ssm-client-id")
    report = doctor(env)
    assert report.returncode == 1
    assert f"client id {old['app_client_id']} is stale" in report.stdout
    assert "fix: run `python -m devstack provision`" in report.stdout

    # when SSM is repaired but the front end's config is stale
    ssm.put_parameter(Name=name, Value=new["app_client_id"], Overwrite=True)
    page_config = settings.frontend_config_file
    fresh = json.loads(page_config.read_text())
    page_config.write_text(json.dumps({**fresh, "fingerprint": "0000000000000000"}))
    open_app(page, settings)

    # then the page says so, a login is refused with our message, and doctor
    # names the front end's fingerprint and the command that fixes it
    expect(page.get_by_test_id("message")).to_contain_text("make sync-config")
    page.get_by_test_id("login").click()
    page.wait_for_url(f"{settings.frontend_url}/**")
    expect(page.get_by_test_id("message")).to_contain_text("out of date")
    shoot(page, "stale-frontend-config")
    report = doctor(env)
    assert report.returncode == 1
    assert "✗ front-end fingerprint matches outputs" in report.stdout
    assert "make sync-config STAGE=local" in report.stdout

    # and regenerating the config is all it takes
    page_config.write_text(json.dumps(fresh))
    assert doctor(env).returncode == 0
    open_app(page, settings)
    log_in_at_kakao(page, settings)
    expect(page.get_by_test_id("user-name")).to_have_text("Minji Kim")


def test_doctor_names_a_deleted_app_client(
    own_stack: tuple[StackSettings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = own_stack
    current = outputs(settings)
    cognito = aws_client("cognito-idp", settings)

    cognito.delete_user_pool_client(
        UserPoolId=current["user_pool_id"], ClientId=current["app_client_id"]
    )

    report = doctor(env)
    assert report.returncode == 1
    assert f"client id {current['app_client_id']} is stale" in report.stdout
    devstack(env, "provision")
    assert doctor(env).returncode == 0
