"""The RBM tab: restricted Boltzmann machines and deep belief nets. Their filters, the exact
likelihood of a small one against a baseline, Gibbs chains that dream digits (from noise,
from held-out digits, or finishing the top half of your drawing), and what pretraining is
worth when the stack is fine-tuned with few labels.

Run alone with `python -m app.tabs.rbm`.
"""
from __future__ import annotations

import collections
import time

import numpy as np
from PySide6.QtCore import QTimer

from app.tabs.base import FamilyTab
from app.tabs.rbm.views import (CHAINS, DREAMS_NOTE, ComparisonView, DreamsView,
                                FiltersView, LikelihoodView)
from nets import data as datasets
from nets.families import rbm
from nets.families.rbm import likelihood as lik
from nets.families.rbm.gibbs import Chains
from nets.images import mnist_style
from nets.progress import Artifact, EpochMetrics, ImageEvent, Started

ABOUT = """<h3>Restricted Boltzmann machines and deep belief nets</h3>
<p>A restricted Boltzmann machine (RBM) is two layers of binary units, visible pixels v
and hidden units h, joined by weights W and nothing else: no pixel talks to a pixel, no
hidden unit to a hidden unit. It gives every joint state an energy E(v, h) = &minus;v&middot;b
&minus; h&middot;c &minus; v W h and a probability p(v, h) = e<sup>&minus;E(v, h)</sup> / Z. Because
the layers are not wired within, all hidden units can be sampled at once given the pixels,
p(h<sub>j</sub> = 1 | v) = &sigma;(c<sub>j</sub> + (vW)<sub>j</sub>), and all pixels at once
given the hidden units. Going back and forth is <b>Gibbs sampling</b>.</p>
<p><b>Learning.</b> The gradient of log p(v) with respect to a weight W<sub>ij</sub> is the
correlation &lang;v<sub>i</sub>h<sub>j</sub>&rang;
with the data clamped minus the same correlation when the model runs freely. The second
term needs samples from the model, which would take a very long chain. <b>Contrastive
divergence</b> (Hinton 2002) starts the chain at the data and stops after k steps (CD-k):
a biased but cheap and useful estimate. <b>Persistent CD</b> (Tieleman 2008) keeps its
chains running from one update to the next, so they wander further from the data and the
estimate gets closer to the true gradient.</p>
<p><b>How good is it?</b> log p(v) = &minus;F(v) &minus; log Z, where F is the free energy
(cheap) and Z a sum over every state (not cheap). With 20 hidden units or fewer the sum
over all 2<sup>H</sup> hidden states is done exactly, and the Likelihood view shows the
held-out log-likelihood in nats against a model of independent pixels. For big RBMs, Z is
estimated by annealed importance sampling (Salakhutdinov &amp; Murray 2008); while it
trains, the pseudo-likelihood, the reconstruction error and the free energy of training
and held-out digits are the monitors. The reconstruction error is not what CD optimises:
it can fall while the model gets worse (Hinton 2010).</p>
<p><b>Deep belief nets</b> (Hinton, Osindero &amp; Teh 2006): train an RBM, then train a
second RBM on the first one's hidden probabilities, and so on. Under conditions the paper
states, each added layer can only raise a lower bound on the log-likelihood of the
data. The top two layers stay an RBM (an associative
memory) that dreams; the layers below carry its dreams down to pixels. The stack then
starts a classifier that backprop fine-tunes, and the <b>DBN vs random</b> view compares it
with the same net trained from random weights.</p>
<p><b>Try this:</b> train 16 hidden units on the 8x8 digits and watch how far above the
independent-pixel line the held-out likelihood climbs; then try 500 hidden units on MNIST with
CD-1 and with PCD and compare their dreams from noise; clamp the top half of a 7 you draw
and let the chains finish it; set fine-tuning to 100 labels and compare pretrained and
random weights.</p>
<p><b>Papers:</b> Hinton 2002, <i>Training products of experts by minimizing contrastive
divergence</i> (Neural Computation); Hinton, Osindero &amp; Teh 2006, <i>A fast learning
algorithm for deep belief nets</i> (Neural Computation); Tieleman 2008, <i>Training
restricted Boltzmann machines using approximations to the likelihood gradient</i> (ICML);
Salakhutdinov &amp; Murray 2008, <i>On the quantitative analysis of deep belief
networks</i> (ICML); Hinton 2010, <i>A practical guide to training restricted Boltzmann
machines</i> (UTML TR 2010-003).</p>"""


# ---------------------------------------------------------------- background jobs
def digit_for(drawing: np.ndarray, shape) -> np.ndarray | None:
    """A drawing from the canvas as a digit of the model's size, in [0, 1]: MNIST-style
    for 28x28; for a smaller square (the 8x8 digits, made by counting ink in 4x4 blocks of
    a 32x32 bitmap that the digit fills) a 4h x 4h digit averaged over 4x4 blocks, its
    darkest block made full ink (their strokes' cores count 16 of 16)."""
    h, w = int(shape[0]), int(shape[1])
    if (h, w) == (28, 28):
        return mnist_style(drawing)
    big = mnist_style(drawing, box=4 * h, size=4 * h)
    if big is None:
        return None
    if h == w:
        small = big.reshape(h, 4, w, 4).mean(axis=(1, 3))
    else:
        from PIL import Image

        img = Image.fromarray((big * 255).astype(np.uint8)).resize((w, h))
        small = np.asarray(img, np.float32) / 255.0
    return np.clip(small / max(float(small.max()), 1e-6), 0.0, 1.0)


def held_out_pixels(cache: dict, key: str, size: int) -> np.ndarray:
    """The held-out digits of a dataset, flattened and binarised (runs in the chain
    runner's thread; the cache is that thread's alone)."""
    if key not in cache:
        ds = datasets.load(key)
        cache[key] = (ds.x_val.reshape(len(ds.x_val), -1) > 0.5).astype(np.float64)
    x = cache[key]
    if x.shape[1] != size:
        raise ValueError(f"The held-out digits of {key} have {x.shape[1]} pixels; this "
                         f"model has {size}.")
    return x


def start_chains(layers, shape, how: str, seed: int, cache: dict, payload=None):
    """Runs in the chain runner: a new Chains object and its first frame. `how`: noise,
    held_out (payload: the dataset key) or clamp (payload: the drawn digit, flattened)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    start, clamp = None, None
    if how == "held_out":
        x = held_out_pixels(cache, payload, size)
        start = x[rng.choice(len(x), CHAINS, replace=len(x) < CHAINS)]
    elif how == "clamp":
        clamp = np.zeros(shape, bool)
        clamp[:shape[0] // 2] = True
        clamp = clamp.reshape(-1)
        start = np.tile(np.asarray(payload, np.float64).reshape(1, size), (CHAINS, 1))
        start[:, ~clamp] = rng.random((CHAINS, int((~clamp).sum())))
    chains = Chains(layers, CHAINS, rng, start=start, clamp=clamp)
    return chains, np.asarray(chains.pixels, np.float32).reshape(CHAINS, *shape)


def step_chains(chains: Chains, k: int, shape):
    """Runs in the chain runner: k Gibbs steps; the pixels and the steps so far."""
    pixels = chains.step(k)
    return np.asarray(pixels, np.float32).reshape(len(pixels), *shape), chains.steps


def filters_job(layers, shape) -> list[np.ndarray]:
    """Each layer's filters (layer k drawn through the k below it)."""
    return [rbm.filters(layers[:k + 1], shape) for k in range(len(layers))]


def baseline_job(key: str) -> float:
    """The independent-pixel baseline of a loaded model's data (binarised pixels)."""
    ds = datasets.load(key)
    return lik.pixel_baseline(rbm.pixels_of(ds.x_train, "binarised"),
                              rbm.pixels_of(ds.x_val, "binarised"))


def why_not_exact(config: dict) -> str:
    """Why a run shows no exact likelihood, in words."""
    try:
        sizes = rbm.hidden_sizes(rbm.Config(**{k: v for k, v in config.items()
                                               if k in rbm.Config.__dataclass_fields__}))
    except Exception:  # noqa: BLE001 - an odd saved config: the general reason
        sizes = []
    if len(sizes) > 1:
        return ("This is a deep belief net: its likelihood has no exact form here (the "
                "exact sum is done for one RBM).")
    if sizes and sizes[0] > lik.EXACT_MAX_HIDDEN:
        return (f"This RBM has {sizes[0]} hidden units: the exact sum would be over "
                f"2^{sizes[0]} hidden states.")
    if config.get("pixels") == "grey":
        return ("The pixels are grey values: the likelihood of a Bernoulli RBM is of "
                "binary pixels, so it is shown for binarised ones only.")
    return ""


# ---------------------------------------------------------------- the tab
class RBMTab(FamilyTab):
    FRAME_MS = 40  # at most 25 frames a second: the chains' work stays off the GUI thread

    def __init__(self, parent=None):
        super().__init__("rbm", parent)
        self.filters = FiltersView()
        self.panel.add_view(self.filters, "Filters", "What each hidden unit looks for")
        self.likelihood = LikelihoodView()
        self.panel.add_view(self.likelihood, "Likelihood",
                            "Held-out log-likelihood in nats, against independent pixels")
        self.dreams = DreamsView()
        self.panel.add_view(self.dreams, "Dreams", "Gibbs chains: what the model imagines")
        self.comparison = ComparisonView()
        self.panel.add_view(self.comparison, "DBN vs random",
                            "Fine-tuned from pretrained weights vs from random ones")
        self.add_about(ABOUT)

        self.background = self.runner("rbm-background", self._background_done)
        self.chain_runner = self.runner("rbm-chains", self._chains_done)
        self._held_out_cache: dict = {}  # used only in the chain runner's thread
        self.layers = None  # [(W, b, c)] of the model the dreams use
        self.shape: tuple[int, int] | None = None
        self.dataset: str | None = None
        self._chains: Chains | None = None  # stepped only in chain_runner's jobs
        self._generation = 0  # chains of an older start are not shown
        self._seed = 0
        self._steps = 0
        self._frames: collections.deque = collections.deque(maxlen=25)
        self._playing = True
        self._total_steps = 0
        self._layer = 0  # the RBM of the stack now training
        self.timer = QTimer(self)
        self.timer.setInterval(self.FRAME_MS)
        self.timer.timeout.connect(self._tick)

        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.dreams.from_noise.clicked.connect(self.dream_from_noise)
        self.dreams.from_held_out.clicked.connect(self.dream_from_held_out)
        self.dreams.clamp.clicked.connect(self.dream_from_drawing)
        self.dreams.play.clicked.connect(self.toggle_play)

    # ------------------------------------------------------------ training events
    def _on_events(self, batch: list) -> None:
        filters = None
        for event in batch:
            if isinstance(event, Started):
                self._total_steps = event.total_steps
            elif isinstance(event, Artifact) and event.name == "model":  # a run begins
                self._layer = 0
                # count the RBMs by name: their weights belong to the training thread now
                self.filters.trim(sum(layer.name.startswith("rbm")
                                      for layer in event.value.layers))
                self.likelihood.clear()
                self.comparison.clear()
            elif isinstance(event, Artifact) and event.name == "baseline":
                self.likelihood.set_baseline(float(event.value))
            elif isinstance(event, Artifact) and event.name == "stage":
                self._stage(event.value)
            elif isinstance(event, Artifact) and event.name == "comparison":
                self.comparison.show_scores(event.value)
            elif isinstance(event, Artifact) and event.name == "ais":
                self._show_ais(event.value, self.panel.dataset_key())
            elif isinstance(event, EpochMetrics):
                self.likelihood.add_epoch(event.epoch, event.metrics)
                if self.likelihood.exact is False:
                    self.likelihood.set_not_exact(why_not_exact(
                        vars(self.panel.form.config())))
            elif isinstance(event, ImageEvent) and event.name == "filters":
                filters = event
        if filters is not None:
            self.filters.show_layer(self._layer, filters.images, f"({filters.note}.)")

    def _show_ais(self, estimate: dict, dataset) -> None:
        self.likelihood.set_ais(estimate)
        if self.likelihood.baseline is None and isinstance(dataset, str):
            self.background.submit(baseline_job, dataset, tag="baseline")

    def _stage(self, value: dict) -> None:
        layer, layers = int(value["layer"]), int(value["layers"])
        self._layer = layer
        if layer > 0 and layers > 1 and self._total_steps:
            self.panel.loss_plot.mark(layer * self._total_steps / layers, f"RBM {layer + 1}")

    def _on_finished(self, done) -> None:
        if done.result is not None:
            self._use_model(done.result.model, done.result.meta)

    def _on_loaded(self, trained) -> None:
        meta = trained.meta
        self.likelihood.clear()
        self.comparison.clear()
        for i, metrics in enumerate(trained.history):
            if isinstance(metrics, dict):
                self.likelihood.add_epoch(i, metrics)
        if self.likelihood.exact:
            if isinstance(meta.get("dataset"), str):
                self.background.submit(baseline_job, meta["dataset"], tag="baseline")
        else:
            self.likelihood.set_not_exact(why_not_exact(meta.get("config", {})))
            if isinstance(meta.get("ais"), dict):
                self._show_ais(meta["ais"], meta.get("dataset"))
        if isinstance(meta.get("comparison"), dict):
            self.comparison.show_scores(meta["comparison"])
        self._use_model(trained.model, meta)

    def _use_model(self, model, meta: dict) -> None:
        """A trained or loaded model: its filters, and the dreams restart on it."""
        self.layers = rbm.layers_of(model)
        if not self.layers:
            return
        self.shape = tuple(int(s) for s in model.inputs[0].shape[1:3])
        key = meta.get("dataset")
        self.dataset = key if isinstance(key, str) else self.panel.dataset_key()
        self.background.submit(filters_job, self.layers, self.shape, tag="filters")
        self.dreams.grid.note.setText(DREAMS_NOTE)
        self.dream_from_noise()

    def _background_done(self, tag, value) -> None:
        if tag == "filters":
            self.filters.trim(len(value))
            for k, images in enumerate(value):
                self.filters.show_layer(k, images, "(The trained model.)")
        elif tag == "baseline":
            self.likelihood.set_baseline(value)

    # ------------------------------------------------------------ dreams
    def dream_from_noise(self) -> None:
        self._start("noise")

    def dream_from_held_out(self) -> None:
        self._start("held_out", self.dataset)

    def dream_from_drawing(self) -> None:
        if self.shape is None:
            return
        digit = digit_for(self.dreams.canvas.array(), self.shape)
        if digit is None:
            self.dreams.status.setText("Draw a digit on the canvas first.")
            return
        trained = self.panel.trained
        config = trained.meta.get("config", {}) if trained is not None else {}
        if config.get("pixels", "binarised") == "binarised":
            digit = (digit > 0.5).astype(np.float32)
        self._start("clamp", digit.reshape(-1))

    def _start(self, how: str, payload=None) -> None:
        if self.layers is None:
            self.dreams.status.setText("Train an RBM or open one first.")
            return
        self._generation += 1
        self._seed += 1
        self._chains = None
        self._steps = 0
        self._frames.clear()
        self.dreams.status.setText("Starting the chains …")
        self.chain_runner.submit(start_chains, self.layers, self.shape, how, self._seed,
                                 self._held_out_cache, payload,
                                 tag=("start", self._generation, how))

    def toggle_play(self) -> None:
        self._playing = not self._playing
        self.dreams.play.setText("Pause" if self._playing else "Play")
        if self._playing and self._chains is not None:
            self.timer.start()
        else:
            self.timer.stop()
        self._show_status()

    def _tick(self) -> None:
        if (self._chains is None or not self._playing or self.chain_runner.is_busy()
                or not self.dreams.isVisible()):
            return
        self.chain_runner.submit(step_chains, self._chains, self.dreams.steps.value(),
                                 self.shape, tag=("step", self._generation))

    def _chains_done(self, tag, value) -> None:
        kind, generation = tag[0], tag[1]
        if generation != self._generation:
            return  # chains that were replaced while this job ran
        if kind == "start":
            self._chains, pixels = value
            self.dreams.grid.set_images(pixels, columns=6)
            if self._playing:
                self.timer.start()
        else:
            pixels, self._steps = value
            self.dreams.grid.set_images(pixels, columns=6)
            self._frames.append(time.monotonic())
        self._show_status()

    def frames_per_second(self) -> float:
        if len(self._frames) < 2 or self._frames[-1] <= self._frames[0]:
            return 0.0
        return (len(self._frames) - 1) / (self._frames[-1] - self._frames[0])

    def _show_status(self) -> None:
        state = "" if self._playing else " (paused)"
        self.dreams.status.setText(f"{self._steps:,} Gibbs steps so far, "
                                   f"{self.frames_per_second():.1f} frames/s{state}")

    def shutdown(self) -> bool:
        self.timer.stop()
        self._chains = None
        return super().shutdown()


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(RBMTab)
