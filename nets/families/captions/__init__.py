"""Visual attention: a network that captions an image word by word and, for each word,
looks at a different part of it (Xu, Ba, Kiros, Cho, Courville, Salakhutdinov, Zemel &
Bengio 2015, "Show, Attend and Tell", with soft attention).

No captioned photos or pretrained CNNs can be downloaded here, so it learns from scenes the
app draws itself (scenes.py: "a small red circle left of a large blue 7"), fresh ones every
batch, and is scored on fixed test scenes and on scenes with colour-shape pairs it never
saw; or from a folder of the person's own captioned images (sources.py). `runner.fit_keras`
trains it; every few seconds and at each epoch's end the run also sends
    Artifact("captions", evaluation.Panel)  a fixed panel of test scenes captioned, and
                                            the scores on the test and held-out scenes

The package: scenes.py (the scene maker and its grammar), model.py (the captioner),
decoding.py (greedy and beam search, with the attention maps), bleu.py, sources.py (data),
evaluation.py (scores, attention on objects, the live panel); here, the settings, training,
loading and the family's declaration.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nets import storage
from nets.config import batch_size_param, epochs_param, learning_rate_param, param
from nets.errors import DataError
from nets.progress import Artifact, Log
from nets.registry import Family

from nets.families.captions import scenes
from nets.families.captions.decoding import Caption, Decoder
from nets.families.captions.evaluation import LivePanel, Panel, Report, scene_report
from nets.families.captions.model import Vocabulary, build_model
from nets.families.captions.sources import (as_input, fixed_scenes, load_folder,
                                            scene_batches, scene_max_words,
                                            scene_vocabulary)

SOURCES = ("scenes", "folder")
VALIDATION_SCENES = 512


@dataclass
class Config:
    source: str = param("scenes", "Images", "scenes: pictures the app draws, one to three "
                        "shapes or handwritten digits with a caption that names them in "
                        "order, new ones every batch. folder: your own images with a "
                        "captions.txt (one 'image<TAB>caption' line per caption).",
                        choices=SOURCES)
    scene_kind: str = param("shapes and digits", "Objects", "What the scenes show: circles, "
                            "squares and triangles; handwritten digits from the bundled "
                            "MNIST set (the test scenes' digits are ones it never trained "
                            "on); or both.", choices=scenes.KINDS,
                            when=("source", ("scenes",)))
    max_objects: int = param(3, "Objects per scene (at most)", "Each scene has 1 to this "
                             "many objects; more objects make longer captions.", minimum=1,
                             maximum=scenes.MAX_OBJECTS, when=("source", ("scenes",)))
    folder: str = param("", "Your images", "A folder of images with captions.txt in it: "
                        "one 'image<TAB>caption' (or 'image,caption') line per caption. "
                        "A tenth of the images is held out to score the model.",
                        when=("source", ("folder",)))
    filters: int = param(16, "Encoder filters", "The CNN's first layer has this many "
                         "filters, then twice and four times as many; after three "
                         "halvings a 64 x 64 image is an 8 x 8 grid of feature vectors.",
                         minimum=4, maximum=128)
    units: int = param(128, "LSTM units", "The size of the decoder's memory.", minimum=16,
                       maximum=1024)
    embedding: int = param(48, "Word vector size", "Each word becomes a learnt vector of "
                           "this size.", minimum=4, maximum=512)
    attention: int = param(64, "Attention size", "The width of the small net that scores "
                           "each place of the grid against the LSTM's state.", minimum=4,
                           maximum=512)
    dropout: float = param(0.1, "Dropout", "Dropout on the LSTM's output before the word "
                           "layer.", minimum=0.0, maximum=0.9, decimals=2)
    doubly_stochastic: float = param(0.0, "Doubly stochastic attention", "lambda of the "
                                     "paper's penalty, lambda times the mean over the "
                                     "grid's places of (1 - sum_t alpha_ti)^2: it asks "
                                     "every place to be looked at about once over a "
                                     "caption (the paper summed over places and used "
                                     "lambda = 1). 0 leaves it out.", minimum=0.0,
                                     maximum=100.0, decimals=3)
    learning_rate: float = learning_rate_param(0.003)
    clip_norm: float = param(5.0, "Gradient clip", "Each step's gradient is scaled down to "
                             "at most this length.", minimum=0.01, maximum=1000.0,
                             decimals=2)
    batch_size: int = batch_size_param(64)
    scenes_per_epoch: int = param(6400, "Scenes per epoch", "New training scenes drawn "
                                  "for each epoch (scenes only; a folder's epoch is all of "
                                  "its captions).", minimum=64, maximum=1_000_000,
                                  when=("source", ("scenes",)))
    epochs: int = epochs_param(30, "Epochs (about 20 s each for scenes on two CPU cores).")


def train(request, reporter):
    from nets.loop import Loop
    from nets.runner import config_meta, fit_keras, seed_everything

    run = Loop.begin(request, reporter, Config)
    config = run.config
    seed_everything(run.request.seed)
    if config.source == "folder":
        reporter.emit(Log("Reading your images and captions ..."))
        folder = load_folder(config.folder)
        vocab, max_words, description = folder.vocab, folder.max_words, folder.description
        if folder.report:
            reporter.emit(Log(folder.report))
        x, y = folder.pairs(folder.train_images, folder.train_captions)
        validation = folder.pairs(folder.test_images, folder.test_captions)
        panel = LivePanel(vocab, max_words, folder.test_images,
                          [" ".join(caps[0]) for caps in folder.test_captions])
    else:
        vocab, max_words = scene_vocabulary(), scene_max_words(config.max_objects)
        description = f"new scenes of {config.scene_kind} (1 to {config.max_objects} objects)"
        x = scene_batches(config.scene_kind, config.max_objects, vocab, max_words,
                          config.batch_size, max(1, config.scenes_per_epoch //
                                                 config.batch_size), run.request.seed)
        y = None
        # a short run (a test's) scores fewer scenes than an epoch trains on
        scored = min(VALIDATION_SCENES, config.scenes_per_epoch)
        val_scenes, val_images = fixed_scenes(config.scene_kind, "test", scored,
                                              config.max_objects)
        tokens, targets = vocab.encode([s.words for s in val_scenes], max_words + 1)
        validation = ((as_input(val_images), tokens), targets)
        panel = LivePanel(vocab, max_words, val_images, [s.caption for s in val_scenes],
                          config.scene_kind, config.max_objects, scored // 2)
    reporter.emit(Log(f"Data: {description}. Vocabulary: {len(vocab)} words."))
    reporter.emit(Artifact("vocabulary", vocab))  # what the views decode live with
    saved = run.saved.get("vocabulary")
    if saved is not None and tuple(saved) != vocab.words:
        raise DataError("These captions do not use the words the autosave learnt (its "
                        "vocabulary differs), so training cannot go on from it. Start "
                        "afresh, or choose the images it was trained on.")
    reporter.controls.checkpoint()
    shape = (scenes.SIZE, scenes.SIZE, 3)
    steps = len(x) if y is None else -(-len(y) // config.batch_size)
    # the learning rate falls over the run asked for (to a tenth, along a cosine)
    model = build_model(config, len(vocab), shape, max_words,
                        decay_steps=config.epochs * steps)
    meta = config_meta(run.request, vocabulary=list(vocab.words), max_words=max_words,
                       input_shape=list(shape), dataset_description=description)
    start = run.restore(model)
    if y is None:
        x.epoch = start  # a resumed run goes on to new scenes, not the first epoch's again
    history = list(run.saved.get("history", []))[:start]
    done = fit_keras(model, family_key="captions", meta=meta, x=x, y=y,
                     validation=validation, epochs=config.epochs,
                     batch_size=config.batch_size, reporter=reporter, initial_epoch=start,
                     history=history, images=panel, images_every_s=15.0,
                     autosave=run.request.autosave,
                     description=f"A CNN + LSTM with soft attention learns to caption "
                                 f"{description}.")
    if done.result is not None:
        done.result.extra = vocab
    return dataclasses.replace(done, headline=headline(done.result, panel.last))


def headline(result, panel: Panel | None) -> str:
    """The scene scores of the run's last panel; for a person's folder, the next-word
    figures of the last epoch."""
    report = panel.report if panel is not None else None
    if report is not None and result is not None and result.history:
        held = (f"; held-out pairs {report.held_out.exact:.1%}" if report.held_out else "")
        return (f"Test scenes: {report.test.exact:.1%} captioned exactly right (BLEU-4 "
                f"{report.test.bleu['bleu4']:.3f}){held}")
    last = (result.history or [{}])[-1] if result is not None else {}
    if "val_word_accuracy" not in last:
        return ""
    return (f"Held-out: {last['val_word_accuracy']:.1%} of next words right "
            f"({last['val_nats_per_word']:.3f} nats per word)")


def load(path):
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "captions", Config, "a captioning model")
    words, max_words = meta.get("vocabulary"), meta.get("max_words")
    if not isinstance(words, list) or len(words) < 5 or not isinstance(max_words, int) \
            or not all(isinstance(w, str) for w in words) or len(set(words)) != len(words):
        raise storage.damaged_description(path, ValueError("its vocabulary is missing"))
    vocab = Vocabulary(words)
    model = build_model(config, len(vocab), shape, max_words)
    storage.load_weights(model, path)  # weights only: a stranger's file runs no code
    return TrainedModel(model, "captions", meta, list(meta.get("history", [])),
                        extra=vocab)


FAMILY = Family(key="captions", title="Visual attention: captions",
                summary="A CNN and an LSTM that caption a scene word by word, looking at "
                        "a different part of it for each word.",
                config=Config, train=train, load=load, datasets=())

__all__ = ["Config", "FAMILY", "Caption", "Decoder", "LivePanel", "Panel", "Report",
           "Vocabulary", "build_model", "load_folder", "scene_report", "scenes", "train"]
