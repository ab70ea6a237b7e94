"""A moto server on loopback with one provisioned stage, for doctor and deploy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.aws import AwsServer
from devstack.settings import StackSettings
from tests.stack import free_port

STAGE = "doctortest"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    settings = StackSettings(
        aws_port=free_port(),
        stage=STAGE,
        state_dir=tmp_path_factory.mktemp("doctor"),
    )
    with AwsServer(settings):
        yield settings
