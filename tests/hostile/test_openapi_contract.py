"""The OpenAPI document and the Chalice routes describe the same API."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from chalicelib import errors

OPENAPI = Path(__file__).resolve().parents[2] / "chalice_app" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return loaded


@pytest.fixture(scope="module")
def routes() -> dict[str, set[str]]:
    from app import app

    return {path: {m.lower() for m in entry} for path, entry in app.routes.items()}


def documented(document: dict[str, Any]) -> dict[str, set[str]]:
    return {
        path: {method for method in item if method in METHODS}
        for path, item in document["paths"].items()
    }


def test_every_route_and_method_is_documented(
    document: dict[str, Any], routes: dict[str, set[str]]
) -> None:
    assert document["openapi"].startswith("3.")
    assert documented(document) == routes


def test_every_error_code_is_documented_and_nothing_else() -> None:
    document = yaml.safe_load(OPENAPI.read_text())
    error_schema = document["components"]["schemas"]["Error"]
    listed = set(error_schema["properties"]["error"]["enum"])
    codes = {
        cls.code
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ApiError)
    }
    assert listed == codes
