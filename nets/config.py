"""Hyperparameters declared once, used three times: GUI form, command line, saved model.

A family's config is a dataclass whose fields are made with `param(...)`, carrying a
label, a one-line help text and a range or a list of choices.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParamInfo:
    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None
    step: float | None = None
    decimals: int = 4
    when: tuple | None = None  # (other field, values): only used when it has one of them
    # it may change while a run goes on (a learning rate): the form keeps it editable and
    # the run reads it from Controls.changes()
    live: bool = False


def param(default, label: str, help: str, *, minimum=None, maximum=None, choices=None,
          step=None, decimals: int = 4, when: tuple | None = None, live: bool = False):
    info = ParamInfo(label, help, minimum, maximum, tuple(choices) if choices else None,
                     step, decimals, (when[0], tuple(when[1])) if when else None, live)
    return field(default=default, metadata={"param": info})


OPTIMIZERS = ("adam", "sgd", "rmsprop")


# The training fields every Keras family has, declared once.
def optimizer_param():
    return param("adam", "Optimizer", "The gradient descent variant that updates the "
                 "weights.", choices=OPTIMIZERS)


def learning_rate_param(default: float):
    return param(default, "Learning rate", "Step size of each weight update; too large and "
                 "the loss explodes.", minimum=1e-6, maximum=10.0, decimals=6)


def batch_size_param(default: int):
    return param(default, "Batch size", "Images per gradient step.", minimum=1, maximum=4096)


def epochs_param(default: int, help: str = "Passes over the training set."):
    return param(default, "Epochs", help, minimum=1, maximum=1000)


@dataclass(frozen=True)
class ParamSpec:
    """One field of a config, with its type resolved: what a form or a parser needs."""

    name: str
    type: type
    default: Any
    info: ParamInfo


def specs(config_cls) -> list[ParamSpec]:
    hints = {f.name: f.type for f in dataclasses.fields(config_cls)}
    out = []
    for f in dataclasses.fields(config_cls):
        info = f.metadata.get("param")
        if info is None:
            continue
        t = hints[f.name]
        if isinstance(t, str):  # postponed annotations
            t = {"int": int, "float": float, "bool": bool, "str": str}[t]
        out.append(ParamSpec(f.name, t, f.default, info))
    return out


def validate(config) -> list[str]:
    """Plain-words problems with a config's values (empty when all is well)."""
    problems = []
    for s in specs(type(config)):
        value = getattr(config, s.name)
        i = s.info
        if s.type in (int, float) and not isinstance(value, bool) and \
                isinstance(value, (int, float)) and not math.isfinite(value):
            problems.append(f"{i.label} must be a finite number (got {value}).")
            continue
        if i.choices is not None and value not in i.choices:
            problems.append(f"{i.label} must be one of {', '.join(map(str, i.choices))} "
                            f"(got {value!r}).")
        if i.minimum is not None and value < i.minimum:
            problems.append(f"{i.label} must be at least {i.minimum} (got {value}).")
        if i.maximum is not None and value > i.maximum:
            problems.append(f"{i.label} must be at most {i.maximum} (got {value}).")
    return problems


SEED_RANGE = (0, 2**31 - 1)


def seed_argument(text: str) -> int:
    """argparse type of --seed: a whole number in SEED_RANGE, or a message naming it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the seed must be a whole number (got {text!r})") \
            from None
    if not SEED_RANGE[0] <= value <= SEED_RANGE[1]:
        raise argparse.ArgumentTypeError(f"the seed must be between {SEED_RANGE[0]} and "
                                         f"{SEED_RANGE[1]:,} (got {value})")
    return value


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(config_cls, values: dict, *, strict: bool = False):
    """Build a config from stored values; unknown keys are ignored, bad types coerced.

    Stored settings and saved models may come from an older version: a missing or
    unusable value falls back to the default rather than failing (unless strict).
    """
    kwargs = {}
    for s in specs(config_cls):
        if s.name not in values:
            continue
        try:
            v = values[s.name]
            kwargs[s.name] = _coerce(s.type, v)
        except (TypeError, ValueError):
            if strict:
                raise
    cfg = config_cls(**kwargs)
    if strict and (problems := validate(cfg)):
        raise ValueError(" ".join(problems))
    return cfg


def _coerce(t: type, v):
    if t is bool:
        if isinstance(v, str):
            return v.strip().lower() in ("1", "true", "yes", "on")
        return bool(v)
    return t(v)


def add_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """One `--option` per field, with its help, range and default."""
    for s in specs(config_cls):
        flag = "--" + s.name.replace("_", "-")
        i = s.info
        extra = ""
        if i.minimum is not None or i.maximum is not None:
            extra = f" [{i.minimum} .. {i.maximum}]"
        # argparse reads % in a help text as a format ("5%" of a text held out)
        help_text = f"{i.help}{extra} (default: {s.default})".replace("%", "%%")
        if s.type is bool:
            parser.add_argument(flag, dest=s.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        else:
            parser.add_argument(flag, dest=s.name, type=s.type, default=None,
                                choices=list(i.choices) if i.choices else None,
                                help=help_text)


def from_arguments(config_cls, namespace: argparse.Namespace, base=None):
    """The config the command line asked for: given options over `base` (or defaults)."""
    base = base or config_cls()
    given = {s.name: getattr(namespace, s.name) for s in specs(config_cls)
             if getattr(namespace, s.name, None) is not None}
    cfg = dataclasses.replace(base, **given)
    if problems := validate(cfg):
        raise ValueError(" ".join(problems))
    return cfg
