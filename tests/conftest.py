"""Test-run settings: under CI (the CI environment variable, set by .ci/run's caller) the
hypothesis properties run derandomized, so a CI verdict is reproducible; a developer's plain
`pytest` keeps exploring new random examples (and saves any failure in .hypothesis/).

Neither profile has a per-example deadline (hypothesis's default is 200 ms): that would be a
timed assertion, and on a loaded machine one descheduled example fails a property that holds
("Unreliable test timings" / DeadlineExceeded). Most properties already set ``deadline=None``;
this covers the ones that did not (tests/test_techmodel.py, test_report.py,
test_training_bound.py)."""

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True,
                          database=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
