"""Config dataclasses as the one declaration behind forms, options and saved models."""
import argparse
import dataclasses

import pytest

from nets.families import cnn
from nets.config import add_arguments, from_arguments, from_dict, param, specs, validate


def test_every_cnn_field_is_declared_with_label_and_help():
    names = {f.name for f in dataclasses.fields(cnn.Config)}
    declared = {s.name: s for s in specs(cnn.Config)}
    assert set(declared) == names
    for s in declared.values():
        assert s.info.label and len(s.info.help) > 15
        assert s.type in (int, float, bool, str)


def test_validate_names_the_bad_value_in_words():
    assert validate(cnn.Config()) == []
    problems = validate(dataclasses.replace(cnn.Config(), epochs=0, pooling="median"))
    assert any("Epochs must be at least 1" in p for p in problems)
    assert any("Pooling must be one of" in p for p in problems)


def test_from_dict_ignores_unknown_and_falls_back_on_bad_values():
    cfg = from_dict(cnn.Config, {"epochs": "7", "filters": "many", "colour": "red",
                                 "augment": "false"})
    assert cfg.epochs == 7 and cfg.filters == cnn.Config().filters and cfg.augment is False
    with pytest.raises(ValueError):
        from_dict(cnn.Config, {"filters": "many"}, strict=True)


def test_command_line_options_come_from_the_dataclass():
    parser = argparse.ArgumentParser()
    add_arguments(parser, cnn.Config)
    args = parser.parse_args(["--epochs", "3", "--no-augment", "--pooling", "average",
                              "--learning-rate", "0.01"])
    cfg = from_arguments(cnn.Config, args)
    assert (cfg.epochs, cfg.augment, cfg.pooling, cfg.learning_rate) == (3, False,
                                                                         "average", 0.01)
    assert cfg.filters == cnn.Config().filters
    with pytest.raises(ValueError, match="at least"):
        from_arguments(cnn.Config, parser.parse_args(["--epochs", "0"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--pooling", "median"])


def test_a_percent_sign_in_a_help_text_prints_as_one():
    @dataclasses.dataclass
    class Held:
        share: int = param(5, "Held out", "The last 5% is kept aside.", minimum=1,
                           maximum=50)

    parser = argparse.ArgumentParser()
    add_arguments(parser, Held)
    assert "The last 5% is kept aside." in " ".join(parser.format_help().split())


def test_nan_and_infinity_are_refused_by_name():
    from nets.families import cnn

    for value in (float("nan"), float("inf"), float("-inf")):
        problems = validate(cnn.Config(learning_rate=value))
        assert problems == [f"Learning rate must be a finite number (got {value})."]
