"""`python -m app.tabs.captions`: the captions tab alone, for quick work on it."""
from app.main_window import run_standalone
from app.tabs.captions import CaptionsTab

run_standalone(CaptionsTab)
