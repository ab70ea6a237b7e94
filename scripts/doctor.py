"""``make doctor STAGE=<stage>``: is every piece of config true to what is deployed?

Compares the Terraform outputs, the SSM parameters, the Chalice stage config and
the front end's config with the live resources, through the same boto3 calls
against AWS or the offline stack, and prints one row per check with a one-line
fix for each failure. Exit status 1 when anything is stale.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from chalicelib.config import PARAMETERS, AppConfig, ConfigError

from scripts import sync_config

# Second-level public suffixes under which two hosts do not share a site. A
# deployment on another multi-label suffix should put both on one host.
MULTI_LABEL_SUFFIXES = frozenset(
    {"co.kr", "or.kr", "go.kr", "ac.kr", "ne.kr", "co.uk", "com.au", "co.jp"}
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


class Doctor:
    """Runs the checks in order; later checks use what earlier ones read."""

    def __init__(
        self,
        stage: str,
        outputs: sync_config.Outputs,
        clients: Callable[[str], Any],
        chalice_config: Path = sync_config.CHALICE_CONFIG,
        frontend_config: Path = sync_config.FRONTEND_CONFIG,
    ) -> None:
        self.stage = stage
        self.outputs = outputs
        self.client = clients
        self.chalice_config = chalice_config
        self.frontend_config = frontend_config
        self.ssm: dict[str, str] = {}
        self.ssm_types: dict[str, str] = {}
        self.app_client: dict[str, Any] | None = None

    def run(self) -> list[Check]:
        return list(self._checks())

    def _checks(self) -> Iterator[Check]:
        yield self._check_ssm_parameters()
        yield from self._check_ssm_matches_outputs()
        yield self._check_client_exists()
        yield from self._check_urls_registered()
        yield from self._check_identity_providers()
        yield self._check_domain()
        yield self._check_sessions_table()
        yield self._check_chalice_stage()
        yield self._check_same_site()
        yield from self._check_fingerprints()

    # -- SSM ----------------------------------------------------------------

    def _check_ssm_parameters(self) -> Check:
        prefix = self.outputs["ssm_prefix"]
        try:
            pages = self.client("ssm").get_paginator("get_parameters_by_path")
            for page in pages.paginate(Path=prefix, WithDecryption=True):
                for parameter in page["Parameters"]:
                    name = parameter["Name"][len(prefix) :]
                    self.ssm[name] = parameter["Value"]
                    self.ssm_types[name] = parameter["Type"]
        except (ClientError, BotoCoreError) as error:
            return Check(
                "SSM parameters readable",
                False,
                _aws_error(error),
                _fix_apply(self.stage),
            )
        missing = sorted(set(PARAMETERS) - set(self.ssm))
        wrong_type = sorted(
            name
            for name, secret in PARAMETERS.items()
            if name in self.ssm_types
            and self.ssm_types[name] != ("SecureString" if secret else "String")
        )
        if missing or wrong_type:
            detail = f"missing {missing}" if missing else f"wrong type {wrong_type}"
            return Check(
                "SSM parameters present",
                False,
                f"{prefix}: {detail}",
                _fix_apply(self.stage),
            )
        return Check(
            "SSM parameters present", True, f"{len(PARAMETERS)} under {prefix}"
        )

    def _check_ssm_matches_outputs(self) -> Iterator[Check]:
        if not self.ssm:
            return
        out = self.outputs
        expected = {
            "user_pool_id": out["user_pool_id"],
            "client_id": out["app_client_id"],
            "cognito_domain_url": out["cognito_domain_url"],
            "issuer": out["cognito_issuer"],
            "jwks_url": out["jwks_url"],
            "callback_url": out["api_callback_url"],
            "frontend_url": out["frontend_url"],
            "identity_providers": ",".join(out["identity_providers"]),
            "allowed_origins": ",".join(out["allowed_origins"]),
            "token_delivery": out["token_delivery"],
        }
        for name, value in expected.items():
            actual = self.ssm.get(name)
            ok = actual == value
            detail = value if ok else f"SSM has {actual!r}, outputs say {value!r}"
            yield Check(
                f"SSM {name} matches outputs", ok, detail, _fix_apply(self.stage)
            )

    # -- Cognito ------------------------------------------------------------

    def _check_client_exists(self) -> Check:
        pool = self.outputs["user_pool_id"]
        client_id = self.ssm.get("client_id") or self.outputs["app_client_id"]
        try:
            answer = self.client("cognito-idp").describe_user_pool_client(
                UserPoolId=pool, ClientId=client_id
            )
        except (ClientError, BotoCoreError) as error:
            return Check(
                "app client exists in the pool",
                False,
                f"client {client_id}: {_aws_error(error)} in pool {pool}",
                f"client id {client_id} is stale: {_fix_apply(self.stage)}",
            )
        self.app_client = answer["UserPoolClient"]
        return Check("app client exists in the pool", True, f"{client_id} in {pool}")

    def _check_urls_registered(self) -> Iterator[Check]:
        if self.app_client is None:
            return
        callbacks = self.app_client.get("CallbackURLs", [])
        logouts = self.app_client.get("LogoutURLs", [])
        in_use = {
            "callback_url": (self.ssm.get("callback_url"), callbacks, "callback"),
            "frontend_url": (self.ssm.get("frontend_url"), callbacks, "callback"),
            "logout_redirect_url": (
                self.ssm.get("logout_redirect_url"),
                logouts,
                "sign-out",
            ),
        }
        for name, (url, registered, kind) in in_use.items():
            ok = url in registered
            yield Check(
                f"{name} registered as a {kind} URL",
                ok,
                str(url) if ok else f"{url} not in {registered}",
                f"add {url} to the client's {kind} URLs in Terraform and apply",
            )

    def _check_identity_providers(self) -> Iterator[Check]:
        if self.app_client is None:
            return
        supported = self.app_client.get("SupportedIdentityProviders", [])
        names = self.ssm.get("identity_providers", "").split(",")
        for name in filter(None, names):
            if name != "COGNITO":
                try:
                    self.client("cognito-idp").describe_identity_provider(
                        UserPoolId=self.outputs["user_pool_id"], ProviderName=name
                    )
                except (ClientError, BotoCoreError) as error:
                    yield Check(
                        f"identity provider {name} exists",
                        False,
                        _aws_error(error),
                        _fix_apply(self.stage),
                    )
                    continue
            yield Check(
                f"identity provider {name} enabled on the client",
                name in supported,
                f"client supports {supported}",
                f"add {name} to supported_identity_providers and apply",
            )

    def _check_domain(self) -> Check:
        pool = self.outputs["user_pool_id"]
        try:
            described = self.client("cognito-idp").describe_user_pool(UserPoolId=pool)
            domain = described["UserPool"].get("Domain")
            if not domain:
                return Check(
                    "hosted-UI domain exists",
                    False,
                    "pool has no domain",
                    _fix_apply(self.stage),
                )
            found = self.client("cognito-idp").describe_user_pool_domain(Domain=domain)
        except (ClientError, BotoCoreError) as error:
            return Check(
                "hosted-UI domain exists",
                False,
                _aws_error(error),
                _fix_apply(self.stage),
            )
        owner = found.get("DomainDescription", {}).get("UserPoolId")
        url = self.outputs["cognito_domain_url"]
        host = urlsplit(url).hostname or ""
        if owner != pool:
            return Check(
                f"domain {domain} exists",
                False,
                f"belongs to {owner}",
                _fix_apply(self.stage),
            )
        if not _is_loopback(host) and not host.startswith(domain + "."):
            return Check(
                f"domain {domain} matches {url}",
                False,
                "outputs name another domain",
                _fix_apply(self.stage),
            )
        return Check("hosted-UI domain exists", True, f"{domain} at {url}")

    # -- DynamoDB -----------------------------------------------------------

    def _check_sessions_table(self) -> Check:
        table = self.outputs["sessions_table_name"]
        try:
            ttl = self.client("dynamodb").describe_time_to_live(TableName=table)
        except (ClientError, BotoCoreError) as error:
            return Check(
                "sessions table exists",
                False,
                f"{table}: {_aws_error(error)}",
                _fix_apply(self.stage),
            )
        description = ttl.get("TimeToLiveDescription", {})
        on = description.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        attribute = description.get("AttributeName")
        return Check(
            "sessions table has TTL on expires_at",
            on and attribute == "expires_at",
            f"{table}: TTL {description.get('TimeToLiveStatus')} on {attribute}",
            "enable TTL on expires_at in dynamodb.tf and apply",
        )

    # -- generated config ---------------------------------------------------

    def _check_chalice_stage(self) -> Check:
        fix = f"run `make sync-config STAGE={self.stage}`"
        try:
            stages = json.loads(self.chalice_config.read_text())["stages"]
            actual = stages[self.stage]["environment_variables"]
        except (OSError, ValueError, KeyError):
            return Check("Chalice stage config", False, f"no stage {self.stage}", fix)
        expected = sync_config.chalice_stage(self.outputs)["environment_variables"]
        stale = sorted(key for key in expected if actual.get(key) != expected[key])
        return Check(
            "Chalice stage config matches outputs",
            not stale,
            "region, SSM prefix, table" if not stale else f"stale {stale}",
            fix,
        )

    def _check_same_site(self) -> Check:
        front = urlsplit(self.outputs["frontend_url"])
        api = urlsplit(self.outputs["api_base_url"])
        ok = front.scheme == api.scheme and _site(front.hostname) == _site(api.hostname)
        return Check(
            "front end and API share a site",
            ok,
            f"{front.hostname} / {api.hostname}",
            "serve both from one domain (see infra/terraform/README.md): the "
            "SameSite session cookie cannot work across sites",
        )

    def _check_fingerprints(self) -> Iterator[Check]:
        fix = f"run `make sync-config STAGE={self.stage}` and redeploy the front end"
        from_outputs = sync_config.frontend_config(self.outputs)["fingerprint"]
        try:
            page = json.loads(self.frontend_config.read_text())
        except (OSError, ValueError):
            yield Check(
                "front-end config present", False, str(self.frontend_config), fix
            )
            return
        ok = page.get("fingerprint") == from_outputs
        yield Check(
            "front-end fingerprint matches outputs",
            ok,
            from_outputs
            if ok
            else f"page {page.get('fingerprint')}, outputs {from_outputs}",
            fix,
        )
        ok = page.get("api_base_url") == self.outputs["api_base_url"].rstrip("/")
        yield Check(
            "front-end API URL matches outputs",
            ok,
            str(page.get("api_base_url")),
            fix,
        )
        if self.ssm:
            try:
                region = self.outputs["region"]
                from_ssm = AppConfig.from_parameters(region, self.ssm).public()
            except ConfigError as error:
                yield Check(
                    "SSM config is usable", False, str(error), _fix_apply(self.stage)
                )
                return
            ok = from_ssm["fingerprint"] == from_outputs
            yield Check(
                "API fingerprint (SSM) matches outputs",
                ok,
                from_outputs
                if ok
                else f"SSM {from_ssm['fingerprint']}, outputs {from_outputs}",
                _fix_apply(self.stage),
            )


def _fix_apply(stage: str) -> str:
    if stage == "local":
        return "run `python -m devstack provision` then `make sync-config STAGE=local`"
    return f"run `make deploy STAGE={stage}` (terraform apply, then sync-config)"


def _aws_error(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def _site(host: str | None) -> str:
    """The registrable domain, close enough for the hosts a deployment uses."""
    labels = (host or "").lower().split(".")
    keep = 3 if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def render(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        mark = "✓" if check.ok else "✗"
        lines.append(f"{mark} {check.name:<{width}}  {check.detail}")
        if not check.ok:
            lines.append(f"  fix: {check.fix}")
    failed = sum(not check.ok for check in checks)
    lines.append(f"doctor: {len(checks) - failed} ok, {failed} stale")
    return "\n".join(lines)


def boto3_clients(region: str) -> Callable[[str], Any]:
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            build: Any = boto3.client
            cache[service] = build(service, region_name=region)
        return cache[service]

    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--outputs-file", type=Path)
    args = parser.parse_args(argv)
    if args.stage == "local":
        from devstack.runner import port_is_free
        from devstack.settings import StackSettings

        settings = StackSettings.from_env()
        if port_is_free(settings.aws_port):
            print(
                f"✗ offline stack running  nothing answers at {settings.aws_url}\n"
                "  fix: start it with `python -m devstack up --detach` (or `make demo`)"
            )
            return 1
        os.environ.update(settings.aws_env())
    try:
        outputs = sync_config.load_outputs(args.stage, args.outputs_file)
    except sync_config.OutputsError as error:
        print(f"✗ Terraform outputs readable  {error}")
        return 1
    checks = Doctor(
        args.stage,
        outputs,
        boto3_clients(outputs["region"]),
        frontend_config=sync_config.frontend_config_path(args.stage),
    ).run()
    print(render(checks))
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
