"""`python -m app.tabs.rnn`: the recurrent-nets tab alone, for quick work on it."""
from app.main_window import run_standalone
from app.tabs.rnn import RNNTab

run_standalone(RNNTab)
