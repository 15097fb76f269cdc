"""The family contract: one registry, each family declared once and checked."""
import dataclasses

import pytest

from nets import registry
from nets.config import param


def test_every_registered_family_declares_itself_under_its_key():
    assert len(set(registry.keys())) == len(registry.ENTRIES) >= 6
    for key in registry.keys():
        fam = registry.family(key)
        assert fam.key == key and fam.title and fam.summary
        assert fam.length_field in {f.name for f in dataclasses.fields(fam.config)}
        assert registry.tab_spec(key).startswith(f"app.tabs.{key}:")


def test_titles_are_unique_and_an_unknown_key_is_named():
    titles = [registry.family(k).title for k in registry.keys()]
    assert len(set(titles)) == len(titles)
    with pytest.raises(ValueError, match="Unknown model family 'transformer'.*Known: "
                                         "neurons, depth, kmeans"):
        registry.family("transformer")


@dataclasses.dataclass
class _Config:
    epochs: int = param(3, "Epochs", "How long.", minimum=1, maximum=10)


def _train(request, reporter):
    raise NotImplementedError


def test_a_mistaken_declaration_fails_when_its_module_is_imported():
    good = dict(key="toy", title="Toy", summary="A toy.", config=_Config, train=_train,
                load=_train)
    assert registry.Family(**good).variant(_Config()) == ""
    for change, words in ((dict(config=dict), "config must be a dataclass"),
                          (dict(train="train"), "train must be a function"),
                          (dict(length_field="steps"), "length_field 'steps' is not a field"),
                          (dict(title=""), "title must be a non-empty string"),
                          (dict(datasets="mnist"), "datasets must be a tuple"),
                          (dict(autosave_variant=3), "autosave_variant must be a function"),
                          (dict(event_interval_ms=0), "event_interval_ms must be a positive"),
                          (dict(backends=("theano",)), "backends must be a tuple of")):
        with pytest.raises(TypeError, match=words):
            registry.Family(**{**good, **change})


def test_a_module_without_its_declaration_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "ENTRIES", (("images", "nets.images", "app.tabs.x:X"),))
    with pytest.raises(TypeError, match="must declare FAMILY = Family"):
        registry.family("images")


def test_a_family_on_a_backend_it_does_not_run_on_says_so_in_words(monkeypatch):
    import keras

    from nets import runner
    from nets.progress import ListReporter

    others = tuple(b for b in ("tensorflow", "jax", "torch") if b != keras.backend.backend())
    fam = registry.Family(key="toy", title="Toy", summary="A toy.", config=_Config,
                          train=_train, load=_train, backends=others)
    monkeypatch.setattr(registry, "family", lambda key: fam)
    done = runner.execute(runner.RunRequest("toy", _Config(), ""), ListReporter())
    assert done.status == "failed" and not done.detail  # words, no traceback
    assert "Toy does not run on" in done.message and f"--backend {others[0]}" in done.message
