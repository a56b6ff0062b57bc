"""Property-based checks of the HTTP trigger API against its own OpenAPI document (schemathesis).

The app talks to a real PocketBase (a fresh one for this module) for the token check; FPVTrackside is a closed port
with a single attempt per document, so that no generated request can start a long sync: a superuser's triggers end
within milliseconds with 502 (FPVTrackside unreachable), and ``full`` with a background run that fails as fast.

``not_a_server_error`` is told that 502 and 503 are expected: they are this API's documented answers for
"FPVTrackside unreachable" (every trigger here) and "PocketBase unreachable" (``/healthz`` here, with FPVTrackside
down). Every other 5xx, an undocumented status, or a body that does not match the document still fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import settings

from fpvsync.api import Service, create_app
from fpvsync.config import Settings
from fpvsync.pb.local import LocalPocketBase, free_port
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, RunningPocketBase

CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503"]}}}
)
MAX_EXAMPLES = 25

# The schema is loaded at import (``schemathesis.pytest.from_fixture`` does not work with pytest 9), so the app is
# built here, pointing at the port the module's PocketBase will be started on.
PB_PORT = free_port()
SETTINGS = Settings(
    trackside_url=f"http://127.0.0.1:{free_port()}",
    pb_url=f"http://127.0.0.1:{PB_PORT}",
    pb_email=SUPERUSER_EMAIL,
    pb_password=SUPERUSER_PASSWORD,
    trackside_attempts=1,
)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def schema_pb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPocketBase]:
    server = LocalPocketBase(tmp_path_factory.mktemp("pb_schema"), port=PB_PORT)
    server.upsert_superuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
    server.start()
    yield RunningPocketBase(server)
    service = APP.state.service
    assert isinstance(service, Service)
    assert service.wait_idle(30), "background runs still running"
    service.close()
    server.stop()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None)
def test_anonymous_requests_follow_the_document(case: Any) -> None:
    """No token: every /ingest route answers 401 (or 422/404/405 for what cannot be routed or parsed)."""
    response = case.call_and_validate()
    if case.path.startswith("/ingest"):
        assert response.status_code in (401, 404, 405, 422), response.text


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None)
def test_superuser_requests_follow_the_document(case: Any, schema_pb: RunningPocketBase) -> None:
    response = case.call_and_validate(headers={"Authorization": f"Bearer {schema_pb.token()}"})
    assert response.status_code < 500 or response.status_code in (502, 503), response.text


def test_the_document_under_test_is_the_apps_own() -> None:
    assert schema.raw_schema == APP.openapi()
