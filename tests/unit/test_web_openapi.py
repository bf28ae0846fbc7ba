"""The dashboard API against its own OpenAPI document (/api/openapi.json), schema-tested by schemathesis.

Requests are generated from the document (valid and invalid query parameters) and sent in-process
through the ASGI transport to an app over the synthetic site. Every response must be a non-5xx,
carry a documented status code and content type, and match the documented schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from schemathesis import BaseSchema, Case
from schemathesis.openapi import from_asgi

from agent.web import HistorySource, create_app
from tests.e2e.synthetic import NOW, build_site

ROUTES = [
    "/api/overview",
    "/api/devices",
    "/api/energy",
    "/api/compressors",
    "/api/compressors/trace",
    "/api/control",
    "/api/savings",
    "/api/rating",
    "/api/rating/package",
]
RATING = {
    "grade": {"grade": "B", "gap_to_next": 4.5, "next_grade": "A"},
    "total": {"points": 75.5, "max_points": 100},
    "dimensions": [],
    "indicators": [],
    "improvements": [],
}


def _rating(period: str) -> Mapping[str, Any] | None:
    return {**RATING, "period": {"label": period}} if period.startswith("2025") else None


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    site = build_site(Path(tmp_path_factory.mktemp("openapi")) / "history.sqlite")
    source = HistorySource(site.path, site.settings, rating=_rating, clock=lambda: NOW)
    return create_app(source)


@pytest.fixture(scope="module")
def api_schema(app: FastAPI) -> BaseSchema:
    return from_asgi("/api/openapi.json", app)


# schemathesis.pytest.from_fixture fails under pytest 9 ('Function' object has no attribute
# '_nodeid'), so each operation's strategy drives a plain hypothesis test instead.
@pytest.mark.parametrize("path", ROUTES)
def test_every_api_route_answers_within_its_documented_schema(api_schema: BaseSchema, path: str) -> None:
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, database=None, derandomize=True)
    def check(case: Case) -> None:
        response = case.call_and_validate()
        assert response.status_code < 500

    check()


def test_the_document_lists_every_api_route(app: FastAPI) -> None:
    paths = set(app.openapi()["paths"])
    assert paths == set(ROUTES)
