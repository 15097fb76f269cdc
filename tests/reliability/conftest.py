"""The reliability suite: bad model files, bad data, training and saving faults, each
tried against every family or tab it applies to. The app tests' fixtures apply here too
(private settings, no thread left running, tabs opened at a desktop size)."""
from tests.app.conftest import (no_thread_left, nothing_left_frozen, open_tab,  # noqa: F401
                               private_settings)
