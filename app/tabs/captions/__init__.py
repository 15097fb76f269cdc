"""The visual-attention tab: a CNN + LSTM learns to caption scenes while the person watches
its captions go from babble to right, then shows where it looked for every word, captions
scenes the person composes (and their twins with a colour-shape pair it never saw), and
scores itself.

Run alone with `python -m app.tabs.captions`.
"""
from __future__ import annotations

import threading
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtWidgets import QFileDialog, QFrame, QScrollArea, QWidget

from app.tabs.base import FamilyTab
from app.tabs.captions.composer import ComposeView
from app.tabs.captions.views import CHOICES as LOOK_CHOICES
from app.tabs.captions.views import LiveView, LookView, ScoresView
from nets.errors import DataError
from nets.families.captions import scenes as sc
from nets.families.captions.decoding import Decoder
from nets.families.captions.evaluation import PANEL, SCORED, Panel, scene_report
from nets.families.captions.sources import (as_input, fixed_scenes, open_image,
                                            scene_max_words, scene_vocabulary)
from nets.progress import Artifact

ABOUT = """<h3>Visual attention: captions, and where the network looks for each word</h3>
<p><b>Show, Attend and Tell</b> (Xu et al. 2015) writes a sentence about an image a word at
a time and, before each word, chooses where in the image to look. A convolutional net
first turns the image into a grid of feature vectors a<sub>1</sub> &hellip; a<sub>L</sub>,
one per place: here three rounds of convolution and pooling turn a 64 &times; 64 scene
into an 8 &times; 8 grid (L = 64), each vector also told where its place is. An LSTM then
writes. Before word t, a small net f<sub>att</sub> scores every place against the LSTM's
last state, and a softmax over the places turns the scores into weights:
&alpha;<sub>ti</sub> = softmax<sub>i</sub>(f<sub>att</sub>(a<sub>i</sub>,
h<sub>t&minus;1</sub>)), all positive, summing to 1: the attention map the views show.
The LSTM reads the context z<sub>t</sub> = &beta;<sub>t</sub> &Sigma;<sub>i</sub>
&alpha;<sub>ti</sub> a<sub>i</sub> with the word before, where the gate &beta;<sub>t</sub>
= &sigma;(f<sub>&beta;</sub>(h<sub>t&minus;1</sub>)) lets it turn the image down for
words like &ldquo;of&rdquo;; the next word's probabilities come from the word before, the
new state and the context together. Here f<sub>att</sub>(a<sub>i</sub>, h) =
w<sup>T</sup> tanh(W<sub>a</sub> a<sub>i</sub> + W<sub>h</sub> h + b): the additive
attention Bahdanau, Cho &amp; Bengio (2015) invented for translation, pointed at places
of an image instead of words of a sentence. This is <i>soft</i> attention, a weighted
average, so backpropagation learns where to look like everything else. (The paper's
<i>hard</i> attention picks one place at random by &alpha; and needs a sampled,
REINFORCE-like gradient; it is not in this tab.)</p>
<p><b>Learning and writing.</b> Training uses <i>teacher forcing</i>: at every step the
LSTM is given the true word before, and the loss is the cross-entropy of the true next
word (nats per word, in the plots, with the share of next words it ranks first). To write,
it is fed its own words back. <b>Greedy</b> decoding takes the likeliest word each time;
<b>beam search</b> (the paper's) keeps the k likeliest partial captions at each step and
returns the likeliest finished one, which can recover from a first word that looked best
but led nowhere. <b>Doubly stochastic attention</b>: &alpha; sums to 1 over the places for
every word; the paper also asked every place to be looked at about once over the whole
caption, &Sigma;<sub>t</sub> &alpha;<sub>ti</sub> &asymp; 1, with a penalty &lambda;
&Sigma;<sub>i</sub> (1 &minus; &Sigma;<sub>t</sub> &alpha;<sub>ti</sub>)<sup>2</sup>,
which made its maps richer. The form's <i>Doubly stochastic attention</i> sets &lambda;
(0: off; averaged over the places here).</p>
<p><b>The scenes.</b> The paper learnt from photographs with five human captions each
(Flickr8k, Flickr30k, COCO) and a CNN pretrained on ImageNet. None of that can be
downloaded here, and it would not train on two CPU cores, so the tab draws its own
pictures: 64 &times; 64 scenes with one to three objects (circles, squares, triangles and
handwritten digits from the bundled MNIST digits; five colours; small or large), and a
caption from a small grammar that names them in order, left to right (&ldquo;left
of&rdquo;) or top to bottom (&ldquo;above&rdquo;): &ldquo;a small red circle left of a
large blue 7&rdquo;. Every batch is new, so it cannot learn scenes by heart, and test
scenes use handwritten digits it never trained on. A caption is a function of its scene,
so it can be exactly right; and since we know where each object is, we can check whether
the model looks at an object when it names it.</p>
<p><b>Held-out pairs.</b> Four colour-shape pairs never appear in training: a green
triangle, a yellow square, a red 7 and a blue 3. The model sees green things and
triangles, but never a green triangle. Scenes with these pairs ask whether it puts
together words it learnt apart (systematic generalisation) or learnt the pairs it saw as
wholes. Their scores are the orange curves and the <i>Held-out pairs</i> column.</p>
<p><b>The scores.</b> <i>Exact match</i>: the share of captions right word for word.
<i>BLEU</i> (Papineni et al. 2002): for n = 1 to 4, the share of the caption's runs of n
words that also occur in the true caption (each counted at most as often as it occurs
there), combined as a geometric mean and multiplied by a penalty for captions shorter than
the truth; counted over all captions at once (corpus BLEU, as captioning papers report
it). BLEU-4 is the usual headline. A caption with one word wrong still keeps most of its
BLEU, so the two together say more than either. The paper reached BLEU-4 19.5 with soft
and 21.3 with hard attention on Flickr8k (24.3 and 25.0 on COCO): photos and human
captions, not comparable with a grammar's scenes, where a perfect score is possible.</p>
<p><b>How well it does here</b> (the defaults, 10 minutes on a 2-core laptop CPU, three
seeds, <code>benchmarks/captions.py</code>): 90 to 96% of 1,000 test scenes captioned
exactly right (BLEU-4 0.97 to 0.99), but only 44 to 73% of scenes with a held-out pair;
for a pair it never saw it often names one it did (a yellow square becomes &ldquo;a yellow
2&rdquo;), so it has not fully learnt colour and shape as separate words. For the words
that name an object, 67 to 71% of the attention falls inside that object, where looking
everywhere alike would give 7%.</p>
<p><b>Your own images.</b> Choose <i>folder</i> under Images and a folder holding the
images and a file <code>captions.txt</code> with one caption a line:
<code>photo1.jpg&lt;TAB&gt;a dog runs on the grass</code> (or a comma in place of the
tab; several lines for one image are fine; an <code>image,caption</code> header is
skipped and Flickr8k's <code>name.jpg#0</code> is read as <code>name.jpg</code>). Images
are scaled to 64 &times; 64, a tenth of them is held out, words said only once become
&lt;unk&gt;, and at least 20 images are needed. Scene scores do not apply to such a model.</p>
<p><b>Try this</b>: train with the defaults and watch the <i>Captions</i> view: first the
same babble for every scene, then the right number of objects and their colours, then
the shapes, the digits last. In <i>Where it looks</i>, play a caption and see whether the light sits on
each object while its colour and shape are named, and where it goes for &ldquo;left
of&rdquo;; try beam width 5 on a scene greedy gets wrong. In <i>Make a scene</i>, drag
two objects onto a diagonal, where the grammar has no sentence; draw your own 7 and make
it red; check whether the recoloured twin's caption names the pair it never saw. Train
with <i>Objects</i> = shapes and show it a digit; train with at most one object and show
it three; set doubly stochastic attention to 1 and compare the maps.</p>
<p><b>Papers</b>: Xu, Ba, Kiros, Cho, Courville, Salakhutdinov, Zemel &amp; Bengio 2015,
<i>Show, attend and tell: neural image caption generation with visual attention</i>
(ICML); Bahdanau, Cho &amp; Bengio 2015, <i>Neural machine translation by jointly learning
to align and translate</i> (ICLR); Vinyals, Toshev, Bengio &amp; Erhan 2015, <i>Show and
tell: a neural image caption generator</i> (CVPR); Papineni, Roukos, Ward &amp; Zhu 2002,
<i>BLEU: a method for automatic evaluation of machine translation</i> (ACL); Hochreiter
&amp; Schmidhuber 1997, <i>Long short-term memory</i> (Neural Computation).</p>"""

SCORED_SCENES = SCORED  # test scenes (and as many held-out-pair scenes) scored
GALLERY = 6  # captioned scenes of each set in the Scores view


@dataclass(frozen=True)
class Captioner:
    """The model the views show and what decoding and scoring need to know about it."""

    model: Any
    vocab: Any  # nets.families.captions.Vocabulary
    max_words: int
    source: str = "scenes"  # or "folder"
    kind: str = "shapes and digits"
    max_objects: int = sc.MAX_OBJECTS
    folder: str = ""

    @classmethod
    def of_trained(cls, trained) -> "Captioner":
        config = trained.meta.get("config", {})
        return cls(trained.model, trained.extra, int(trained.meta["max_words"]),
                   config.get("source", "scenes"),
                   config.get("scene_kind", "shapes and digits"),
                   int(config.get("max_objects", sc.MAX_OBJECTS)), config.get("folder", ""))

    @classmethod
    def of_training(cls, model, config) -> "Captioner":
        """The model being trained on scenes (whose words are known before it ends)."""
        return cls(model, scene_vocabulary(), scene_max_words(config.max_objects), "scenes",
                   config.scene_kind, config.max_objects)

    def scenes_like(self) -> tuple:
        return self.source, self.kind, self.max_objects, self.folder


# ---------------------------------------------------------------- background jobs
class Decoders:
    """One Decoder per model, built in whichever background thread first needs it (never
    in the GUI thread: building Keras models there while training runs crashed TF)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.model = self.decoder = None

    def get(self, model, max_words: int) -> Decoder:
        with self.lock:
            if self.model is not model or self.decoder.max_words != max_words:
                self.decoder, self.model = Decoder(model, max_words), model
            return self.decoder


def caption_job(decoders: Decoders, who: Captioner, images: list, width: int) -> list:
    """(words, Caption) for each image: greedy, or beam search of `width`."""
    decoder = decoders.get(who.model, who.max_words)
    x = as_input(np.stack(images))
    captions = decoder.greedy(x) if width <= 1 else [decoder.beam(i, width) for i in x]
    return [(who.vocab.decode(c.ids), c) for c in captions]


def gallery(decoder: Decoder, vocab, kind: str, split: str, max_objects: int):
    scenes, images = fixed_scenes(kind, split, GALLERY, max_objects)
    said = [" ".join(vocab.decode(c.ids)) for c in decoder.greedy(as_input(images))]
    return images, said, [s.caption for s in scenes]


def live_panel(decoder: Decoder, vocab, kind: str, max_objects: int):
    """The eight scenes the live panel shows while training (the first validation
    scenes), captioned: for a model opened from a file."""
    scenes, images = fixed_scenes(kind, "test", PANEL, max_objects)
    said = [" ".join(vocab.decode(c.ids)) for c in decoder.greedy(as_input(images))]
    return images, said, [s.caption for s in scenes[:PANEL]]


@dataclass(frozen=True)
class Scoring:
    report: Any  # evaluation.Report
    live: tuple  # images, said, truth of the live panel's scenes
    test: tuple  # ... of the test gallery
    held: tuple | None  # ... of the held-out-pair gallery (None: no pair for this kind)


def score_job(decoders: Decoders, who: Captioner) -> Scoring:
    """The report on the fixed scene sets, the live panel's scenes and a gallery of each
    set, captioned."""
    decoder = decoders.get(who.model, who.max_words)
    report = scene_report(decoder, who.vocab, who.kind, who.max_objects, SCORED_SCENES)
    held = (gallery(decoder, who.vocab, who.kind, "held-out", who.max_objects)
            if report.held_out is not None else None)
    return Scoring(report, live_panel(decoder, who.vocab, who.kind, who.max_objects),
                   gallery(decoder, who.vocab, who.kind, "test", who.max_objects), held)


def folder_job(folder: str):
    """A person's held-out images and their first captions, for Where it looks."""
    from nets.errors import DataError
    from nets.families.captions.sources import load_folder

    try:
        data = load_folder(folder)
    except (DataError, OSError) as exc:
        return str(exc)
    images = (np.clip(data.test_images[:LOOK_CHOICES], 0, 1) * 255 + 0.5).astype(np.uint8)
    return [(image, " ".join(caps[0])) for image, caps in zip(images, data.test_captions)]


def scene_choices(kind: str, split: str, max_objects: int) -> list:
    scenes, images = fixed_scenes(kind, split, LOOK_CHOICES, max_objects)
    return [(image, s.caption) for image, s in zip(images, scenes)]


# ---------------------------------------------------------------- the tab
def scrolling(widget: QWidget) -> QScrollArea:
    """A view taller than a small window scrolls rather than squeezes its pictures."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


class CaptionsTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("captions", parent)
        self.live = LiveView()
        self.panel.add_view(self.live, "Captions", "Test scenes captioned live while it "
                                                   "learns, and its scores over time")
        self.look = LookView()
        self.panel.add_view(self.look, "Where it looks", "A caption word by word, each "
                                                         "word with its attention map")
        self.compose = ComposeView()
        self.panel.add_view(scrolling(self.compose), "Make a scene", "Compose a scene and see what "
                                                          "the model says about it")
        self.scores = ScoresView()
        self.panel.add_view(self.scores, "Scores", "Exact match, BLEU and attention on "
                                                   "the objects, on test and held-out "
                                                   "scenes")
        self.add_about(ABOUT)

        self.decoders = Decoders()  # used only in the runners' threads
        self.look_jobs = self.runner("captions-look", self._looked)
        self.compose_jobs = self.runner("captions-compose", self._composed)
        self.score_jobs = self.runner("captions-scores", self._scored)
        self.who: Captioner | None = None
        self._look_asked = 0
        self.panel.model_changed.connect(self._on_model)
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.look.requested.connect(self.caption_look)
        self.look.new_scene.clicked.connect(self.new_look_scene)
        self.look.open_file.clicked.connect(self.choose_image_file)
        self.compose.requested.connect(self.caption_composed)
        self.scores.again.clicked.connect(self.score)

    # ------------------------------------------------------------ models and events
    def _on_model(self, model) -> None:
        if not self.panel.is_running():
            return  # a finished or loaded model: _on_finished / _on_loaded
        config = self.panel.form.config()
        if config.source == "scenes":
            self._use(Captioner.of_training(model, config))
        else:
            self.who = None
            for player in (self.look.player, self.compose.player):
                player.clear("A model of your own images: its words are known when the "
                             "run ends; it captions here then.")

    def _on_events(self, batch: list) -> None:
        panels = [e.value for e in batch if isinstance(e, Artifact) and e.name == "captions"]
        if any(isinstance(e, Artifact) and e.name == "model" for e in batch):
            self.live.clear()  # a run begins
        for panel in panels:
            self.live.show_panel(panel)
        if panels and self.who is not None:
            latest: Panel = panels[-1]
            if latest.report is not None:
                self.scores.set_report(latest.report)
                self.scores.status.setText(f"Live, from training after {latest.seconds:.0f} "
                                           f"s (step {latest.step:,}); scored afresh, with "
                                           "the galleries, when the run ends.")
            self.caption_look()  # watch the attention sharpen as it learns
            self.caption_composed()

    def _on_finished(self, done) -> None:
        if done.result is not None:
            self._use(Captioner.of_trained(done.result), score=True)

    def _on_loaded(self, trained) -> None:
        self._use(Captioner.of_trained(trained), score=True)

    def _use(self, who: Captioner, score: bool = False) -> None:
        """A model to show: new scene choices when it knows other scenes, every view
        captioned again with it, and (once trained) scored."""
        new_scenes = self.who is None or self.who.scenes_like() != who.scenes_like()
        self.who = who
        self.look.new_scene.setEnabled(who.source == "scenes")
        if new_scenes:
            self._set_choices()
        else:
            self.caption_look()
        self.compose.set_kind(who.kind if who.source == "scenes" else "folder")
        if not self.compose.canvas.things:
            self.compose.load_starter(1)
        if score:
            self.score()

    def _set_choices(self) -> None:
        who = self.who
        if who.source == "folder":
            self.look.player.clear("Reading your held-out images …")
            self.score_jobs.submit(folder_job, who.folder, tag="folder")
            return
        held = (scene_choices(who.kind, "held-out", who.max_objects)
                if any(p in sc.HELD_OUT for p in sc.SceneMaker(who.kind).pairs) else [])
        self.look.set_choices(scene_choices(who.kind, "test", who.max_objects), held)

    # ------------------------------------------------------------ Where it looks
    def new_look_scene(self) -> None:
        if self.who is None or self.who.source != "scenes":
            return
        split = "held-out" if self.look.held_out.isChecked() else "test"
        maker = sc.SceneMaker(self.who.kind, split, self.who.max_objects)
        scenes, images = maker.batch(1, np.random.default_rng())
        self.look.set_scene(images[0], scenes[0].caption,
                            "a new scene" + (" with a held-out pair" if split != "test"
                                             else ""))

    def choose_image_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Caption an image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif "
                                              "*.tif *.tiff *.webp);;All files (*)")
        if path:
            self.caption_file(path)

    def caption_file(self, path: str) -> None:
        """A person's image file in Where it looks: fitted to the model, with words on
        what was changed, or refused in words."""
        try:
            image, note = open_image(path)
        except DataError as exc:
            self.look.refuse(str(exc))
            return
        self.look.set_scene((image * 255 + 0.5).astype(np.uint8), "",
                            f"your image {Path(path).name}", note)

    def caption_look(self) -> None:
        if self.who is None or self.look.image is None:
            return
        self._look_asked += 1
        self.look_jobs.submit(caption_job, self.decoders, self.who, [self.look.image],
                              self.look.beam.value(), tag=self._look_asked)

    def _looked(self, tag, value) -> None:
        if tag == self._look_asked:  # an older scene's caption is not shown
            self.look.show_caption(*value[0])

    # ------------------------------------------------------------ Make a scene
    def caption_composed(self) -> None:
        if self.who is None or not self.compose.canvas.things:
            return
        snapshot = self.compose.snapshot()
        self.compose_jobs.submit(caption_job, self.decoders, self.who, snapshot.images,
                                 self.compose.beam.value(), tag=snapshot)

    def _composed(self, snapshot, value) -> None:
        self.compose.show_captions(snapshot, value)

    # ------------------------------------------------------------ Scores
    def score(self) -> None:
        who = self.who
        if who is None:
            self.scores.status.setText("Train a model or open one first.")
            return
        if who.source == "folder":
            self.scores.not_applicable(
                "This model learnt from your own images (its settings say source = "
                "folder): scores on scenes do not apply. Its held-out loss and word "
                "accuracy are in the plots on the left; Where it looks shows its held-out "
                "images.")
            return
        self.scores.status.setText(f"Scoring: captioning {SCORED_SCENES} test scenes and "
                                   f"{SCORED_SCENES} scenes with held-out pairs …")
        self.score_jobs.submit(score_job, self.decoders, who, tag="scores")

    def _scored(self, tag, value) -> None:
        if tag == "folder":
            if isinstance(value, str):
                self.look.player.clear(f"Your images could not be read again: {value}")
            else:
                self.look.set_choices(value, [])
            return
        report = value.report
        self.scores.set_report(report)
        self.scores.set_galleries(value.test, value.held)
        self.scores.status.setText(f"Greedy captions of {report.test.count:,} fixed test "
                                   "scenes and as many scenes with held-out pairs.")
        if not self.panel.is_running():
            self.live.show_scored(*value.live, report)

    def shutdown(self) -> bool:
        for player in (self.look.player, self.compose.player):
            player.play.setChecked(False)
        return super().shutdown()
