"""Test-run settings: under CI (the CI environment variable, set by .ci/run's caller) the
hypothesis properties run derandomized, so a CI verdict is reproducible; a developer's plain
`pytest` keeps exploring new random examples (and saves any failure in .hypothesis/)."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
