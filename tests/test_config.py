"""Settings.from_env: bad values are refused with the variable's name, not taken as given."""

import pytest

from jobtrail.config import Settings
from jobtrail.errors import ConfigError


@pytest.mark.parametrize("key, value", [
    ("JOBTRAIL_BATCH_SIZE", "0"),
    ("JOBTRAIL_BUFFER_SIZE", "-5"),
    ("JOBTRAIL_MAX_EVENTS", "0"),
    ("JOBTRAIL_MAX_BODY_BYTES", "-1"),
    ("JOBTRAIL_MINUTE_ROLLUP_DAYS", "nan"),
    ("JOBTRAIL_MINUTE_ROLLUP_DAYS", "-1"),
])
def test_a_count_below_one_or_a_non_finite_day_count_is_a_config_error(key: str, value: str) -> None:
    # Given an environment with a value no client or server can work with
    # When the settings are read
    # Expect a ConfigError naming the variable (a batch of 0 events would never send anything)
    with pytest.raises(ConfigError, match=key):
        Settings.from_env({key: value})
