"""Signed embed links: HMAC-SHA256 over the chart's path and every query parameter but the
signature, so a link works as minted, in any parameter order, and fails once anything changes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from jobtrail import Settings, signed_embed_url
from jobtrail.embeds import CHART_PARAMS, EmbedDenied, check_params, verify
from jobtrail.errors import ConfigError, InvalidInput

SECRET = "s" * 32 + "-embed-secret"
NOW = 1_800_000_000.0
Pairs = list[tuple[str, str]]


def _mint(chart: str = "gantt", params: dict[str, str] | None = None, secret: str = SECRET,
          expires_in: float | str = 3600) -> tuple[str, Pairs]:
    params = {"batch": "req 7/é&x", "highlight": "job-3"} if params is None else params
    url = signed_embed_url("http://jobs.example:8765/", chart, params, secret, expires_in, now=NOW)
    parts = urlsplit(url)
    return parts.path.removeprefix("/embed/"), parse_qsl(parts.query)


def _replace(pairs: Pairs, key: str, value: str) -> Pairs:
    return [(k, value if k == key else v) for k, v in pairs]


def test_a_minted_link_verifies_until_it_expires() -> None:
    chart, pairs = _mint()
    assert chart == "gantt"
    assert dict(pairs)["batch"] == "req 7/é&x"
    assert verify(chart, pairs, SECRET, now=NOW) == NOW + 3600
    assert verify(chart, pairs, SECRET, now=NOW + 3599) == NOW + 3600


def test_the_order_of_the_parameters_does_not_matter() -> None:
    chart, pairs = _mint()
    assert verify(chart, list(reversed(pairs)), SECRET, now=NOW)
    assert verify(chart, pairs[1:] + pairs[:1], SECRET, now=NOW)


def test_another_chart_fails() -> None:
    _, pairs = _mint("load", {"range": "7d"})
    with pytest.raises(EmbedDenied, match="signature does not match"):
        verify("throughput", pairs, SECRET, now=NOW)


@pytest.mark.parametrize("key", ["batch", "highlight", "expires"])
def test_changing_any_parameter_fails(key: str) -> None:
    chart, pairs = _mint()
    changed = _replace(pairs, key, dict(pairs)[key] + "1")
    with pytest.raises(EmbedDenied, match="signature does not match"):
        verify(chart, changed, SECRET, now=NOW)


def test_adding_or_dropping_a_parameter_fails() -> None:
    chart, pairs = _mint()
    with pytest.raises(EmbedDenied, match="signature does not match"):
        verify(chart, [*pairs, ("highlight", "other")], SECRET, now=NOW)
    with pytest.raises(EmbedDenied, match="signature does not match"):
        verify(chart, [p for p in pairs if p[0] != "highlight"], SECRET, now=NOW)


def test_a_changed_or_repeated_or_missing_signature_fails() -> None:
    chart, pairs = _mint()
    signature = dict(pairs)["signature"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(EmbedDenied, match="signature does not match"):
        verify(chart, _replace(pairs, "signature", flipped), SECRET, now=NOW)
    with pytest.raises(EmbedDenied, match="exactly one signature"):
        verify(chart, [*pairs, ("signature", signature)], SECRET, now=NOW)
    with pytest.raises(EmbedDenied, match="exactly one signature"):
        verify(chart, [p for p in pairs if p[0] != "signature"], SECRET, now=NOW)


def test_another_secret_fails() -> None:
    chart, pairs = _mint(secret="o" * 40)
    with pytest.raises(EmbedDenied, match="signature does not match"):
        verify(chart, pairs, SECRET, now=NOW)


def test_an_expired_link_fails_and_says_when_it_expired() -> None:
    chart, pairs = _mint(expires_in="1h")
    with pytest.raises(EmbedDenied, match=r"expired at 2027-01-15 09:00:00 UTC"):
        verify(chart, pairs, SECRET, now=NOW + 3600)


def test_minting_refuses_unknown_charts_parameters_and_expiries() -> None:
    with pytest.raises(InvalidInput, match="no chart 'pie'"):
        _mint("pie", {})
    with pytest.raises(InvalidInput, match="takes no parameter 'name'"):
        _mint("gantt", {"batch": "b", "name": "x"})
    with pytest.raises(InvalidInput, match="needs the parameter 'job'"):
        _mint("busy", {})
    with pytest.raises(InvalidInput, match="range must be"):
        _mint("load", {"range": "10s"})
    with pytest.raises(InvalidInput, match="expires_in"):
        _mint(expires_in="400d")
    with pytest.raises(InvalidInput, match="expires_in"):
        _mint(expires_in=0)


def test_every_dashboard_chart_can_be_signed() -> None:
    from jobtrail.web.pages.charts import CHARTS

    assert set(CHART_PARAMS) == set(CHARTS)
    assert check_params("load", {"range": "", "name": "x"}) == {"name": "x"}


def test_the_secret_must_be_long_and_is_never_shown() -> None:
    with pytest.raises(ConfigError, match="at least 32 characters") as raised:
        Settings.from_env({"JOBTRAIL_EMBED_SECRET": "short-secret"})
    assert "short-secret" not in str(raised.value)
    with pytest.raises(ConfigError, match="at least 32"):
        _mint(secret="x" * 31)
    settings = Settings.from_env({"JOBTRAIL_EMBED_SECRET": SECRET})
    assert settings.embed_secret == SECRET
    assert SECRET not in repr(settings)
    assert Settings.from_env({}).embed_secret is None


def test_the_secret_can_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    assert Settings.from_env({"JOBTRAIL_EMBED_SECRET_FILE": str(path)}).embed_secret == SECRET
    with pytest.raises(ConfigError, match="cannot read JOBTRAIL_EMBED_SECRET_FILE"):
        Settings.from_env({"JOBTRAIL_EMBED_SECRET_FILE": str(path) + ".missing"})
