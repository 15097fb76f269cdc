"""Faults a person can act on, said in plain words. The runner shows their message as it
is (no traceback); anything else is an unexpected error."""


class PlainError(Exception):
    """A fault whose message is meant for the person."""


class DataError(PlainError):
    """A dataset could not be provided (missing, unreadable, too small)."""


class SettingsError(PlainError):
    """Settings that cannot work here: K larger than the patches to cluster, a replay memory
    larger than this computer's, a game that will not start."""
