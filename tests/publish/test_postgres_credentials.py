"""A PostgreSQL URL's password never reaches an error message (Dagster stores step
errors, with their chained causes, in the event log)."""

from __future__ import annotations

import traceback

import pytest

from restock.publish.postgres import PostgresConnectionError, connect, redact

SECRET = "s3cr%zzet"  # malformed percent-encoding: libpq quotes the token back


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://restock:{SECRET}@127.0.0.1:1/db",  # invalid percent-encoding
        "postgresql://restock:s3cr/et:w@rd@127.0.0.1:1/db",  # unencoded '/', ':' and '@'
        "postgresql://restock:s3cretword@127.0.0.1:1/db",  # well-formed, server down
    ],
)
def test_a_failed_connection_names_the_problem_but_not_the_password(url):
    password = url.split("://", 1)[1].split(":", 1)[1].rsplit("@", 1)[0]
    with pytest.raises(PostgresConnectionError) as err:
        connect(url)
    shown = "".join(traceback.format_exception(err.value))
    assert password not in shown and password not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__, "the original error is not chained"
    assert "PostgreSQL connection failed" in str(err.value) and "password hidden" in str(err.value)


def test_redact_hides_user_password_pairs_and_the_known_password():
    url = "postgresql://restock:p@ss:w/rd@db.example:5432/restock"
    assert (
        redact(f"could not connect to {url}", url)
        == "could not connect to postgresql://restock:***@db.example:5432/restock"
    )
    assert redact('invalid token "p@ss:w/rd"', url) == 'invalid token "***"'
    assert redact("nothing secret here", "postgresql://host/db") == "nothing secret here"
