"""The GAN tab: the adversarial game played on a plane where all of it shows (after GAN
Lab), then on digits: samples from fixed noise becoming digits, both players' curves, the
app's own digit reader scoring the samples (coverage, confidence, mode collapse), and a
look around the latent space.

Run alone with `python -m app.tabs.gan`.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QPushButton

from app.tabs.base import FamilyTab
from app.tabs.gan.about import ABOUT
from app.tabs.gan.explore_view import (ExploreView, directions_job, interpolate_job,
                                       render_job, typical_job)
from app.tabs.gan.plane import PlaneGameView
from app.tabs.gan.views import GamePlots, SamplesView, ScoresView
from nets import data as datasets
from nets.families import gan as family
from nets.families.gan.images import fixed_noise
from nets.progress import Artifact, BatchMetrics, ImageEvent, Started


# ---------------------------------------------------------------- background jobs
def loaded_job(gan, dataset_key: str, seed: int, step: int = 0):
    """A loaded GAN: its training images (for nearest), its fixed-noise grid and fresh
    scores by the judge of its images."""
    from nets.families.gan import judge as judging
    from nets.families.gan.explore import Sampler

    h, w, c = gan.discriminator.inputs[0].shape[1:]
    try:
        ds = datasets.load(dataset_key, image_size=(h, w), channels=c)
    except datasets.DataError:
        ds = None
    grid = family.sample_grid(gan, seed)
    scores, note = None, ""
    if ds is not None:
        judge, note = judging.judge_for(ds, seed)
        if judge is not None:
            sampler = Sampler(gan)
            classes = max(ds.num_classes, 1)
            labels = np.arange(judging.SCORED_SAMPLES) % classes
            rng = np.random.default_rng(seed + 1)
            z = rng.standard_normal((judging.SCORED_SAMPLES, sampler.latent))
            images = sampler.images(z, labels)
            if images.ndim == 3:
                images = images[..., None]
            scores = judging.score(judge.probabilities(images), step,
                                   labels if gan.conditional else None)
    return (None if ds is None else ds.x_train, grid, scores, note,
            [] if ds is None else list(ds.class_names))


def new_noise_job(gan, seed: int) -> np.ndarray:
    return family.sample_grid(gan, seed)


class GANTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("gan", parent)
        self.plane = PlaneGameView(self.runner)
        self.panel.add_view(self.plane, "2-D game", "The whole game on a plane: real and "
                            "fake points, D's verdict everywhere, where G pushes")
        self.samples = SamplesView()
        self.panel.add_view(self.samples, "Samples", "Digits from fixed noise, live")
        self.scores = ScoresView()
        self.panel.add_view(self.scores, "Scores", "Coverage, confidence and the class "
                            "histogram, by the app's own digit reader")
        self.explore = ExploreView()
        self.panel.add_view(self.explore, "Explore", "Latent directions, interpolation, "
                            "the nearest training digit")
        self.add_about(ABOUT)
        self.game = GamePlots()
        self.panel.replace_epoch_plots(self.game)  # a GAN counts steps, not epochs
        self.panel.loss_plot.setToolTip("The generator's loss at each step (faint) and its "
                                        "moving average. It need not fall: it measures "
                                        "how well G fools the D of that moment, and D "
                                        "keeps learning too.")
        self.collapse = QPushButton("Mode-collapse preset")
        self.collapse.setToolTip(
            "Settings that collapse the generator onto one or two digits within its "
            "first few hundred steps: a generator learning ten times faster than a narrow "
            "discriminator, no label smoothing, scored every 100 steps. Start a run and "
            "watch the histogram under Scores (measured: at step 250, 494 of 500 samples "
            "read as 8); then the game wanders, and the classes come back. Reset to "
            "defaults undoes it.")
        self.collapse.clicked.connect(self.mode_collapse_preset)
        self.panel.add_form_note(self.collapse)

        self._cache: dict = {}  # the compiled sampler, shared by the background jobs
        self.renderer = self.runner("gan-render", self._rendered)
        # a runner per kind of job: a newer job replaces only a queued one of its kind
        self.background = {tag: self.runner(f"gan-{tag}", self._background_done)
                           for tag in ("typical", "directions", "loaded", "interpolate",
                                       "noise")}
        self.model = None
        self.names: list[str] = list(datasets.DIGIT_NAMES)
        self.training: np.ndarray | None = None
        self.typical: float | None = None
        self.seed = 0
        self.z = np.zeros(0, np.float32)  # the explored sample's noise (sliders at 0)
        self.label = 0
        self.directions: np.ndarray | None = None
        self.ends: dict = {}
        self._noise_seed = 0  # "New noise" presses so far
        self.grid_seed = 0  # the seed of the noise the sample grid shows

        self.panel.events.connect(self._on_events)
        self.panel.model_changed.connect(self._on_model)
        self.panel.loaded.connect(self._on_loaded)
        self.samples.grid.tile_clicked.connect(self.explore_sample)
        self.samples.new_noise.clicked.connect(self.new_noise)
        self.explore.new_sample.clicked.connect(self.random_sample)
        self.explore.label_box.currentIndexChanged.connect(self._label_chosen)
        self.explore.reset.clicked.connect(self._centre)
        for s in self.explore.sliders:
            s.valueChanged.connect(self.request_render)
        self.explore.set_a.clicked.connect(self._set_a)
        self.explore.set_b.clicked.connect(self._set_b)

    # ------------------------------------------------------------ settings
    def mode_collapse_preset(self) -> None:
        self.panel.form.set_values({**self.panel.form.values(), **family.MODE_COLLAPSE})
        self.panel.log_message("Mode-collapse preset: " + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in family.MODE_COLLAPSE.items()) +
            ". Start, then watch the histogram under Scores.")

    # ------------------------------------------------------------ training events
    def _on_events(self, batch: list) -> None:
        samples = None
        for event in batch:
            if isinstance(event, BatchMetrics):
                self.game.add(event.step, event.metrics)
            elif isinstance(event, ImageEvent) and event.name == "samples":
                samples = event
            elif isinstance(event, Started):
                self.seed = self.grid_seed = self.panel.seed.value()
                if event.first_step == 0:
                    self.game.clear_data()
                    self.scores.clear_data()
            elif isinstance(event, Artifact):
                self._artifact(event)
        self.game.refresh()
        if samples is not None:
            self.samples.grid.set_images(samples.images, columns=family.COLUMNS,
                                         note=samples.note)

    def _artifact(self, event: Artifact) -> None:
        if event.name == "scores":
            self.scores.add(event.value)
        elif event.name == "classes":
            self.names = [str(n) for n in event.value]
            self.scores.set_names(self.names)
        elif event.name == "training_images":
            self.training = event.value[0]
            self.typical = None
            self.background["typical"].submit(typical_job, self.training, tag="typical")
        elif event.name == "history":
            self.scores.set_history(event.value)
        elif event.name == "judge":
            judge = event.value
            self.scores.judge_note.setText(
                "The judge: " + (judge.description if judge is not None else
                                 "none (these images have no classes)") + ".")

    # ------------------------------------------------------------ a model to show
    def _on_model(self, model) -> None:
        if model is None or model is self.model:
            return
        self.model = model
        self.directions = None
        self.ends = {}
        self.explore.set_classes(self.names, bool(model.conditional))
        self.background["directions"].submit(directions_job, self._cache, model,
                                             self.label, tag="directions")
        if len(self.z) != model.generator.inputs[0].shape[-1]:
            self.explore_sample(0)
        else:
            self.request_render()

    def _on_loaded(self, trained) -> None:
        meta = trained.meta
        self.seed = self.grid_seed = int(meta.get("seed", 0))
        self.names = [str(n) for n in meta.get("classes", self.names)]
        self.scores.set_names(self.names)
        self.scores.set_history(trained.history)
        self.game.clear_data()
        if isinstance(meta.get("dataset"), str):
            self.scores.judge_note.setText("Scoring 500 samples of the loaded GAN …")
            steps = [h.get("step", 0) for h in trained.history if isinstance(h, dict)]
            self.background["loaded"].submit(loaded_job, trained.model, meta["dataset"],
                                             self.seed,
                                             int(meta.get("step", max(steps, default=0))),
                                             tag="loaded")

    def _background_done(self, tag, value) -> None:
        if tag == "loaded":
            training, grid, scores, note, names = value
            if training is not None:
                self.training = training
                self.background["typical"].submit(typical_job, training, tag="typical")
            self.samples.grid.set_images(grid, columns=family.COLUMNS,
                                         note="The loaded generator, from its fixed noise.")
            self.scores.judge_note.setText(note or "No judge for these images.")
            if scores is not None:
                self.scores.add(scores)
            self.request_render()
        elif tag == "typical":
            self.typical = value
            self.request_render()
        elif tag == "directions":
            self.directions = value
            self.request_render()
        elif tag == "interpolate":
            self.explore.strip.set_images(value, columns=10)
        elif tag == "noise":
            self.samples.grid.set_images(value, columns=family.COLUMNS,
                                         note=f"Other noise (seed {self.grid_seed}).")

    # ------------------------------------------------------------ exploring
    def _classes(self) -> int:
        return self.model.classes if self.model is not None else max(len(self.names), 1)

    def explore_sample(self, index: int) -> None:
        """A sample of the fixed-noise grid becomes the one explored."""
        if self.model is None:
            return
        latent = self.model.generator.inputs[0].shape[-1]
        z, _ = fixed_noise(latent, self._classes(), self.grid_seed)
        self.z = z[index % len(z)]
        self.label = index % self._classes()
        self._show_label()
        self._centre()

    def random_sample(self) -> None:
        if self.model is None:
            return
        latent = self.model.generator.inputs[0].shape[-1]
        self.z = np.random.default_rng().standard_normal(latent).astype(np.float32)
        self._centre()

    def _show_label(self) -> None:
        self.explore.label_box.blockSignals(True)
        self.explore.label_box.setCurrentIndex(self.label)
        self.explore.label_box.blockSignals(False)

    def _label_chosen(self, index: int) -> None:
        if index >= 0:
            self.label = index
            if self.model is not None and self.model.conditional:
                self.background["directions"].submit(directions_job, self._cache,
                                                     self.model, self.label,
                                                     tag="directions")
            self.request_render()

    def _centre(self) -> None:
        self.explore.centre()
        self.request_render()

    def current_z(self) -> np.ndarray:
        z = np.asarray(self.z, np.float32).copy()
        if self.directions is not None and len(self.directions[0]) == len(z):
            offsets = self.explore.offsets()
            z += offsets[:len(self.directions)] @ self.directions
        return z

    def request_render(self, *_) -> None:
        if self.model is None or not len(self.z):
            return
        self.renderer.submit(render_job, self._cache, self.model, self.current_z(),
                             self.label, self.training, tag="render")

    def _rendered(self, _tag, value) -> None:
        image, near, distance = value
        self.explore.show_render(image, near, distance, self.typical)

    def _set_a(self) -> None:
        self._set_end("a")

    def _set_b(self) -> None:
        self._set_end("b")

    def _set_end(self, which: str) -> None:
        if self.model is None or not len(self.z):
            return
        self.ends[which] = (self.current_z(), self.label)
        if "a" in self.ends and "b" in self.ends:
            (za, la), (zb, lb) = self.ends["a"], self.ends["b"]
            self.background["interpolate"].submit(interpolate_job, self._cache, self.model,
                                                  za, zb, la, lb, tag="interpolate")

    def new_noise(self) -> None:
        if self.model is None or self.panel.is_running():
            return
        self._noise_seed += 1
        self.grid_seed = 1000 + self._noise_seed
        self.background["noise"].submit(new_noise_job, self.model, self.grid_seed, tag="noise")

    def shutdown(self) -> bool:
        if hasattr(self.plane, "shutdown"):
            self.plane.shutdown()
        return super().shutdown()
