"""The dashboard's own settings: frame origins go verbatim into a CSP header, so only origins pass;
live refresh reloads a page whose data moves, until the person switches it off."""

from __future__ import annotations

import pytest

from jobtrail.errors import ConfigError
from jobtrail.web.pages.settings import DashSettings

from .conftest import Serve, Watched


def test_frame_origins_read_read_only_and_refresh_from_the_environment() -> None:
    settings = DashSettings.from_env({"JOBTRAIL_FRAME_ORIGINS": "https://a.example, http://b.test:8080",
                                      "JOBTRAIL_READ_ONLY": "yes", "JOBTRAIL_REFRESH": "0"})
    assert settings.frame_origins == ("https://a.example", "http://b.test:8080")
    assert settings.read_only and settings.refresh_seconds == 0
    assert DashSettings.from_env({}) == DashSettings(("'self'",), False, 30)


@pytest.mark.parametrize("origin", ["https://a.example; script-src *", "*", "javascript:x",
                                    "https://a.example'"])
def test_a_frame_origin_that_could_smuggle_a_directive_is_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match="JOBTRAIL_FRAME_ORIGINS"):
        DashSettings.from_env({"JOBTRAIL_FRAME_ORIGINS": origin})


def test_live_refresh_reloads_the_overview_until_switched_off(serve_dash: Serve,
                                                              watched: Watched) -> None:
    server = serve_dash(env={"JOBTRAIL_REFRESH": "1"})
    watched.open(server.url + "/queues")
    with watched.page.expect_navigation(timeout=5000):
        pass  # the page reloads by itself within about a second
    watched.settle()
    watched.page.uncheck("#live-toggle")
    watched.page.evaluate("() => { window.__stayed = true; }")
    watched.page.wait_for_timeout(2500)
    assert watched.page.evaluate("() => window.__stayed") is True  # no reload since
