"""Fixtures of the alert tests (helpers are in `support`)."""

from __future__ import annotations

import pytest

from alerts.support import Feed
from jobtrail.store.base import Store


@pytest.fixture
def feed(store: Store) -> Feed:
    return Feed(store)
