"""Which model families exist, and the contract each one keeps.

`ENTRIES` is the one list of families: the command line, the window, `--selftest`, the
benchmarks and the tests all read it. Each line names a family's key, its nets module and
its tab class (as an import string, so that nets never imports Qt).

A family's nets module declares what it is once, at its end, as

    FAMILY = Family(key="cnn", title="Convolutional nets", summary="...",
                    config=Config, train=train, load=load)

`Family` checks the declaration when the module is imported: a missing or mistyped part
fails there, with the family's name, not later in a tab. See CONTRIBUTING.md, "Adding a
family", for a worked example.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Callable

from nets.backend import BACKENDS

# (key, nets module, tab "module:Class"), in the order of the course. Adding a family
# adds one line here.
ENTRIES = (
    ("neurons", "nets.families.neurons", "app.tabs.neurons:NeuronsTab"),
    ("depth", "nets.families.depth", "app.tabs.depth:DepthTab"),
    ("kmeans", "nets.families.kmeans", "app.tabs.kmeans:KMeansTab"),
    ("sparse_coding", "nets.families.sparse_coding", "app.tabs.sparse_coding:SparseCodingTab"),
    ("autoencoder", "nets.families.autoencoder", "app.tabs.autoencoder:AutoencoderTab"),
    ("vae", "nets.families.vae", "app.tabs.vae:VAETab"),
    ("rbm", "nets.families.rbm", "app.tabs.rbm:RBMTab"),
    ("rnn", "nets.families.rnn", "app.tabs.rnn:RNNTab"),
    ("gates", "nets.families.gates", "app.tabs.gates:GatesTab"),
    ("draw", "nets.families.draw", "app.tabs.draw:DRAWTab"),
    ("cnn", "nets.families.cnn", "app.tabs.cnn:CNNTab"),
    ("captions", "nets.families.captions", "app.tabs.captions:CaptionsTab"),
    ("dqn", "nets.families.dqn", "app.tabs.dqn:DQNTab"),
    ("gan", "nets.families.gan", "app.tabs.gan:GANTab"),
)


@dataclass(frozen=True)
class Family:
    """What a family is, declared once in its nets module as `FAMILY`.

    Required:
      key      the registry key ("cnn"); also the name of its autosave folder
      title    the tab's title ("Convolutional nets")
      summary  one sentence for the welcome page and `main.py list`
      config   its Config dataclass (fields made with nets.config.param)
      train    train(request: runner.RunRequest, reporter) -> progress.Done; never raises
               for a stop (StopRequested ends in Done("stopped")); the Done's result is a
               runner.TrainedModel
      load     load(path) -> runner.TrainedModel, from a file `TrainedModel.save` wrote;
               storage.StorageError in plain words when it cannot
    Optional:
      datasets        the dataset keys it offers (nets.data.CHOICES), in the order shown,
                      the first its default; None: the default choices; () for a family
                      whose data is not a dataset (a game, points on a plane)
      length_field    the Config field that says how long a run is, which resuming may
                      lengthen ("epochs"; the Q-learner's "total_steps")
      can_resume      whether its train() resumes from an autosave
      autosave_variant  config -> str: a setting that changes what the model is (the
                      game), so that each keeps its own autosaves; None: one slot
      event_interval_ms  how often the window is sent its events (a game asks for ~30/s)
      defaults_for    options -> Config: defaults that suit the options a person gave on
                      the command line (the Q-learner: its game's); None: Config()
      run_length      config -> int: how far a whole run goes, in the unit its autosaves
                      count (a stacked autoencoder: epochs of all its stages); None: the
                      length_field's value
      backends        the Keras backends it runs on (nets.backend.BACKENDS keys); None:
                      every one. On another, a run ends at once with words saying so.
    """

    key: str
    title: str
    summary: str
    config: type
    train: Callable
    load: Callable
    datasets: tuple[str, ...] | None = None
    length_field: str = "epochs"
    can_resume: bool = True
    autosave_variant: Callable | None = None
    event_interval_ms: int = 100
    defaults_for: Callable | None = None
    run_length: Callable | None = None
    backends: tuple[str, ...] | None = None

    def __post_init__(self):
        where = f"Family {self.key!r}"
        for name in ("key", "title", "summary", "length_field"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise TypeError(f"{where}: {name} must be a non-empty string")
        if not dataclasses.is_dataclass(self.config) or not isinstance(self.config, type):
            raise TypeError(f"{where}: config must be a dataclass (its Config)")
        for name in ("train", "load"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{where}: {name} must be a function")
        for name in ("autosave_variant", "defaults_for", "run_length"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise TypeError(f"{where}: {name} must be a function or None")
        fields = {f.name for f in dataclasses.fields(self.config)}
        if self.length_field not in fields:
            raise TypeError(f"{where}: length_field {self.length_field!r} is not a field "
                            f"of its Config")
        if self.datasets is not None and not (isinstance(self.datasets, tuple) and all(
                isinstance(d, str) for d in self.datasets)):
            raise TypeError(f"{where}: datasets must be a tuple of dataset keys")
        if self.backends is not None and not (isinstance(self.backends, tuple) and set(
                self.backends) <= set(BACKENDS) and self.backends):
            raise TypeError(f"{where}: backends must be a tuple of {', '.join(BACKENDS)}")
        if not isinstance(self.event_interval_ms, int) or self.event_interval_ms <= 0:
            raise TypeError(f"{where}: event_interval_ms must be a positive int")

    @property
    def unit(self) -> str:
        """What its runs count: "steps" (a Q-learner's) or "epochs"."""
        return "steps" if "step" in self.length_field else "epochs"

    def length(self, config) -> int:
        """How far a run of this config goes (epochs or steps), as its autosaves count."""
        return int(self.run_length(config) if self.run_length else
                   getattr(config, self.length_field))

    def variant(self, config) -> str:
        """Which of the family's autosave slots a config trains into ("" for the one)."""
        return self.autosave_variant(config) if self.autosave_variant else ""


def keys() -> list[str]:
    return [key for key, _, _ in ENTRIES]


def _entry(key: str):
    for entry in ENTRIES:
        if entry[0] == key:
            return entry
    raise ValueError(f"Unknown model family '{key}'. Known: {', '.join(keys())}.")


def family(key: str) -> Family:
    """The declaration of a family (importing its nets module, and so Keras)."""
    _, module_name, _ = _entry(key)
    declared = getattr(importlib.import_module(module_name), "FAMILY", None)
    if not isinstance(declared, Family) or declared.key != key:
        raise TypeError(f"{module_name} must declare FAMILY = Family(key={key!r}, ...)")
    return declared


def tab_spec(key: str) -> str:
    """The family's tab, as "module:Class" (imported by the app, never by nets)."""
    return _entry(key)[2]
