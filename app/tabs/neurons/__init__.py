"""The neurons tab: a playground of small networks on a plane (after TensorFlow
Playground), and backpropagation stepped through one example at a time.

Training runs in the worker (nets.families.neurons); it sends its weights ~30 times a
second and this tab draws the decision surface and every neuron's map from them with the
numpy network of by_hand, on the GUI thread (a few milliseconds for these sizes).

Run alone with `python -m app.tabs.neurons`.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from app.tabs.base import FamilyTab
from app.tabs.neurons.network import NetworkView, Picture
from app.tabs.neurons.plane import PlaneView, Square
from app.tabs.neurons.stepper import BackpropView, Example
from nets import storage
from nets.config import from_dict
from nets.errors import PlainError
from nets.families import neurons
from nets.families.neurons import Config, Points, by_hand, planar
from nets.progress import Artifact

SURFACE = 64  # the decision surface's resolution (pixels a side)
NEURON_MAP = 24  # each neuron's little map
MAX_BUTTON_LAYERS, MAX_BUTTON_UNITS = 6, 8  # what the buttons go up to (as Playground)
# While training, the network picture is redrawn at most this often (its ~8 ms of painting
# 30 times a second held the event loop up past 50 ms); the surface at every snapshot.
NETWORK_EVERY_S = 0.1

ABOUT = """<h3>Neurons and backpropagation</h3>
<p>A <b>neuron</b> takes a weighted sum of its inputs and passes it through a
non-linearity: h = f(W<sup>T</sup>x + b). With a hard <b>threshold</b> for f it is
Rosenblatt's perceptron (1958), which learns by its own rule: for each point it gets
wrong, move w by α (y − ŷ) x. On points a line can separate, that stops making mistakes
after finitely many steps. With a <b>sigmoid</b> it gives a probability, and trained on
the cross-entropy it is logistic regression: choose no hidden layers and inputs x and y,
and its line appears on the plane, with its w and b. Drag the line and watch the loss.</p>
<p>One neuron can only draw a straight line (in the space of its inputs: give it x² and y²
and the line becomes a circle on the plane). <b>Layers</b> of neurons can draw curves:
each neuron of a hidden layer draws its own boundary (its little map shows where it
fires), and the next layer combines them. Without a non-linearity (linear) any number of
layers still draws one line.</p>
<p><b>Backpropagation</b> trains them all at once. The chain rule gives every weight's
share of the error: the output's error δ = dC/da · f′(z); a hidden neuron's error is the
errors above it, weighted by the weights that carry its output there, times its own
slope f′(z); a weight's gradient is its input times the error where it arrives; then
W ← W − α dC/dW. The <b>Backprop</b> view does this by hand for one point, and Keras'
automatic differentiation checks every number. A threshold's slope is zero, so nothing
flows back through it: that is why networks use smooth non-linearities.</p>
<p><b>Try this:</b> on the spiral, take away hidden layers until it fails; give a single
neuron x² and y² on the circle; set the initial weights to zeros and see every neuron of
a layer stay the same; raise the learning rate to 3 while it trains; add L1 and watch
weights vanish; click points of your own (right-click for blue).</p>
<p><b>Papers:</b> Rosenblatt 1958, <i>The perceptron: a probabilistic model for
information storage and organization in the brain</i>; Rumelhart, Hinton &amp; Williams
1986, <i>Learning representations by back-propagating errors</i>; Glorot &amp; Bengio
2010, <i>Understanding the difficulty of training deep feedforward neural networks</i>;
Smilkov &amp; Carter 2016, <i>TensorFlow Playground</i> (playground.tensorflow.org),
whose data sets, features and pictures this tab follows.</p>"""


def keras_check(keras_gradients, example: Example) -> float:
    """Runs off the GUI thread: the largest difference between Keras' gradients and the
    hand-worked ones for the example."""
    x, y = example.x[None, :], [example.y]
    _, auto = keras_gradients(example.weights, x, y, example.l1, example.l2)
    hand = by_hand.backward(example.weights, example.activations, x, y, example.l1,
                            example.l2)
    return max(float(np.abs(a - b).max()) for a, b in zip(auto, hand.grads))


def display(values: np.ndarray, f: str) -> np.ndarray:
    """A neuron's outputs in [-1, 1] for the colour map: sigmoid and threshold from [0, 1],
    the unbounded ones scaled by their largest value."""
    if f in ("sigmoid", "threshold"):
        return 2 * values - 1
    return values / max(1.0, float(np.abs(values).max()))


class NeuronsTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("neurons", parent)
        self.config = Config()  # the network shown: the run's, or the form's when idle
        self.points: Points | None = None
        self.weights: list | None = None  # numpy, Keras' order
        self.trained_weights = False  # False: drawn at random for a preview
        self.own_xy = np.zeros((0, 2), np.float32)  # the person's own points
        self.own_labels = np.zeros(0, int)
        self.shown_neuron: tuple[int, int] | None = None  # on the plane instead of output
        self.chosen_point = 0
        self._restart = False
        self._keras_gradients = None  # (network shape, neurons.KerasGradients)
        self._network_shown = 0.0  # when the network picture was last drawn
        self._grid = planar.grid(SURFACE)
        self._small_grid = planar.grid(NEURON_MAP)

        self.network = NetworkView()
        self.plane = PlaneView()
        self.plane_title = QLabel("Output")
        self.line_note = QLabel("")
        self.line_note.setObjectName("line_note")
        self.line_note.setWordWrap(True)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555")
        self.panel.add_view(self._playground_page(), "Playground",
                            "The data, the network and its decision surface, live")
        self.stepper = BackpropView()
        self.panel.add_view(self.stepper, "Backprop",
                            "Backpropagation by hand, one example at a time")
        self.add_about(ABOUT)
        self.checker = self.runner("neurons-check", self._checked)

        self.network.neurons_changed.connect(self._change_units)
        self.network.activation_clicked.connect(self._cycle_activation)
        self.network.neuron_clicked.connect(self._show_neuron)
        self.plane.clicked.connect(self._plane_clicked)
        self.plane.line_moved.connect(self._line_moved)
        self.stepper.point_chosen.connect(self._choose_point)
        self.stepper.update_applied.connect(self._apply_update)
        self.stepper.check_wanted.connect(self._check)
        self.panel.form.changed.connect(self._settings_changed)
        self.panel.seed.valueChanged.connect(self._settings_changed)
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.panel.views.currentChanged.connect(self._view_changed)
        self._read_own_points()
        self._settings_changed()

    def _playground_page(self) -> QWidget:
        page = QWidget()
        tools = QHBoxLayout()
        add, remove = QPushButton("+ layer"), QPushButton("− layer")
        add.setToolTip("Add a hidden layer (a run in progress restarts).")
        remove.setToolTip("Remove the last hidden layer.")
        add.clicked.connect(self._add_layer)
        remove.clicked.connect(self._remove_layer)
        tools.addWidget(add)
        tools.addWidget(remove)
        tools.addSpacing(12)
        tools.addWidget(QLabel("Inputs:"))
        self.feature_boxes = {}
        for name, (shown, _) in planar.FEATURES.items():
            box = QCheckBox(shown)
            box.setToolTip(f"Feed the network {shown} as an input.")
            box.toggled.connect(self._features_toggled)
            self.feature_boxes[name] = box
            tools.addWidget(box)
        tools.addStretch(1)
        self.show_test = QCheckBox("Held-out points")
        self.show_test.setChecked(True)
        self.show_test.setToolTip("Show the points kept out of training (black rim).")
        self.show_test.toggled.connect(self._draw_points)
        clear = QPushButton("Clear points")
        clear.setToolTip("Start your own set from an empty plane: click to add points.")
        clear.clicked.connect(self._clear_points)
        tools.addWidget(self.show_test)
        tools.addWidget(clear)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.plane_title)
        rv.addWidget(Square(self.plane), 1)
        rv.addWidget(self.line_note)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.network)
        split.addWidget(right)
        split.setSizes([520, 420])
        layout = QVBoxLayout(page)
        layout.addLayout(tools)
        layout.addWidget(split, 1)
        layout.addWidget(self.note)
        return page

    # ------------------------------------------------------------ settings
    def _form(self) -> Config:
        return self.panel.form.config()

    def _set_form(self, **values) -> None:
        """Change settings from the tab's own controls; a run in progress restarts."""
        before = self._form()
        self.panel.form.set_values({**dataclasses.asdict(before), **values})
        if self._form() == before:  # new points in the same file: no change signal
            self._settings_changed()
        if self.panel.is_running():
            self._restart = True
            self.panel.stop()

    def _settings_changed(self, *_) -> None:
        if self.panel.is_running():
            return  # only live settings can change now; the run applies them
        config = self._form()
        try:
            neurons.hidden_layers(config)
            names = planar.parse_features(config.features)
        except PlainError as exc:
            self.note.setText(f"⚠ {exc}")
            return
        self.note.setText("")
        for name, box in self.feature_boxes.items():
            box.blockSignals(True)
            box.setChecked(name in names)
            box.blockSignals(False)
        self.points = self._preview_points(config, names)
        sizes = [len(names)] + [n for n, _ in neurons.hidden_layers(config)] + [1]
        if not self._fits(sizes) or not self.trained_weights:
            self.weights = by_hand.initial_weights(sizes, config.init, self.panel.seed.value())
            self.trained_weights = False
        self.config = config
        self._draw_points()
        self.redraw()
        self._refresh_stepper()

    def _fits(self, sizes: list[int]) -> bool:
        return self.weights is not None and [w.shape for w in self.weights[::2]] == [
            (a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def _preview_points(self, config: Config, names) -> Points | None:
        if config.data == planar.OWN:
            xy, labels = self.own_xy, self.own_labels
        else:
            xy, labels = planar.make(config.data, config.points, config.noise / 100,
                                     self.panel.seed.value())
        train, test = planar.split(labels, config.train_share / 100, self.panel.seed.value())
        return Points(xy, labels, train, test, names)

    def _features_toggled(self) -> None:
        chosen = [n for n, box in self.feature_boxes.items() if box.isChecked()]
        if not chosen:
            self.note.setText("⚠ Keep at least one input: a network with no inputs has "
                              "nothing to look at.")
            self._settings_changed()  # ticks the last one again
            return
        self._set_form(features=", ".join(chosen))

    def _layers(self) -> list[tuple[int, str]] | None:
        try:
            return neurons.hidden_layers(self._form())
        except PlainError as exc:
            self.note.setText(f"⚠ {exc}")
            return None

    def _set_layers(self, layers) -> None:
        self._set_form(hidden=neurons.hidden_text(layers, self._form().activation))

    def _add_layer(self) -> None:
        layers = self._layers()
        if layers is None:
            return
        if len(layers) >= MAX_BUTTON_LAYERS:
            self.note.setText(f"{MAX_BUTTON_LAYERS} hidden layers is as deep as the buttons "
                              "go (type more in Hidden layers, up to "
                              f"{neurons.MAX_LAYERS}).")
            return
        self._set_layers(layers + [(layers[-1][0] if layers else 4,
                                    self._form().activation)])

    def _remove_layer(self) -> None:
        layers = self._layers()
        if layers:
            self._set_layers(layers[:-1])

    def _change_units(self, layer: int, delta: int) -> None:
        layers = self._layers()
        if layers is None or layer >= len(layers):
            return
        units, f = layers[layer]
        if not 1 <= units + delta <= max(MAX_BUTTON_UNITS, units):
            self.note.setText("A layer keeps at least one neuron (remove the layer with "
                              "− layer)." if delta < 0 else
                              f"{MAX_BUTTON_UNITS} neurons is as wide as the buttons go.")
            return
        layers[layer] = (units + delta, f)
        self._set_layers(layers)

    def _cycle_activation(self, layer: int) -> None:
        layers = self._layers()
        if layers is None or layer >= len(layers):
            return
        choices = neurons.HIDDEN_ACTIVATIONS
        units, f = layers[layer]
        layers[layer] = (units, choices[(choices.index(f) + 1) % len(choices)])
        self._set_layers(layers)

    # ------------------------------------------------------------ the person's points
    def _own_path(self):
        return storage.app_home() / "playground" / "your-points.csv"

    def _read_own_points(self) -> None:
        config = self._form()
        if config.data == planar.OWN and config.points_file:
            try:
                self.own_xy, self.own_labels = planar.read_points(config.points_file)
            except PlainError as exc:
                self.note.setText(f"⚠ {exc}")

    def _plane_clicked(self, x: float, y: float, label: int) -> None:
        if label == 2:
            self._pick_nearest(x, y)
            return
        config = self._form()
        if config.data != planar.OWN and self.points is not None:
            self.own_xy, self.own_labels = self.points.xy.copy(), self.points.labels.copy()
        if label < 0:
            if not len(self.own_xy):
                return
            nearest = int(np.argmin(np.linalg.norm(self.own_xy - [x, y], axis=1)))
            keep = np.arange(len(self.own_xy)) != nearest
            self.own_xy, self.own_labels = self.own_xy[keep], self.own_labels[keep]
        elif len(self.own_xy) >= planar.MAX_POINTS:
            self.note.setText(f"That is {planar.MAX_POINTS:,} points, the most the "
                              "playground takes: Ctrl-click removes points, Clear starts "
                              "afresh.")
            return
        else:
            self.own_xy = np.vstack([self.own_xy, [[x, y]]]).astype(np.float32)
            self.own_labels = np.append(self.own_labels, label)
        self._keep_own_points()

    def _pick_nearest(self, x: float, y: float) -> None:
        """The training point nearest the click becomes the one the Backprop view follows."""
        if self.points is None or not len(self.points.train):
            return
        distances = np.linalg.norm(self.points.xy[self.points.train] - [x, y], axis=1)
        self.chosen_point = int(np.argmin(distances))
        self._refresh_stepper()

    def _clear_points(self) -> None:
        self.own_xy, self.own_labels = np.zeros((0, 2), np.float32), np.zeros(0, int)
        self._keep_own_points()

    def _keep_own_points(self) -> None:
        try:
            path = planar.write_points(self._own_path(), self.own_xy, self.own_labels)
        except OSError as exc:
            self.note.setText(f"⚠ Could not keep your points: {exc}")
            return
        self._set_form(data=planar.OWN, points_file=str(path))
        counts = np.bincount(self.own_labels, minlength=2)
        self.note.setText(f"Your points: {counts[1]} orange, {counts[0]} blue "
                          f"(kept in {path}). Left-click adds orange, right-click blue, "
                          "Ctrl-click removes.")

    # ------------------------------------------------------------ a run's events
    def _on_events(self, batch: list) -> None:
        snapshot = None
        for event in batch:
            if isinstance(event, Artifact) and event.name == "network":
                self.config = event.value
            elif isinstance(event, Artifact) and event.name == "points":
                self.points = event.value
                self._draw_points()
            elif isinstance(event, Artifact) and event.name == "snapshot":
                snapshot = event.value
        if snapshot is not None:  # only the latest of a batch is drawn
            self.weights = [np.asarray(w) for w in snapshot.weights]
            self.trained_weights = True
            self.redraw(whole=False)

    def _on_finished(self, done) -> None:
        result = done.result
        if result is not None and result.model is not None:
            self.weights = [np.asarray(w) for w in result.model.get_weights()]
            self.trained_weights = True
            self.redraw()
            self._refresh_stepper()
        if self._restart:
            self._restart = False
            self.panel.resume_box.setChecked(False)
            self._settings_changed()
            self.panel.start()
        else:
            self._settings_changed()

    def _on_loaded(self, trained) -> None:
        self.config = from_dict(Config, trained.meta.get("config", {}))
        if trained.extra is not None:
            self.points = trained.extra
            if self.config.data == planar.OWN:
                self.own_xy, self.own_labels = self.points.xy, self.points.labels
        self.weights = [np.asarray(w) for w in trained.model.get_weights()]
        self.trained_weights = True
        self._draw_points()
        self.redraw()
        self._refresh_stepper()

    # ------------------------------------------------------------ drawing
    def _draw_points(self, *_) -> None:
        if self.points is not None:
            self.plane.show_points(self.points.xy, self.points.labels, self.points.train,
                                   self.show_test.isChecked())

    def redraw(self, whole: bool = True) -> None:
        """The surface from self.weights; with `whole`, or if NETWORK_EVERY_S has passed,
        every neuron's map and the network picture too."""
        if self.weights is None or self.points is None:
            return
        try:
            acts = neurons.activations(self.config)
        except PlainError:
            return
        names = self.points.names
        big = by_hand.forward(self.weights, acts, planar.features(self._grid, names))
        c, u = self.shown_neuron or (len(acts), 0)
        if not (0 < c <= len(acts) and u < big.a[c - 1].shape[1]):
            self.shown_neuron, (c, u) = None, (len(acts), 0)
        if c < len(acts):
            title = f"Layer {c}, neuron {u + 1} (click it again for the output)"
        else:
            title = "Output" + ("" if self.trained_weights else
                                " (untrained: random weights to start)")
        if self.plane_title.text() != title:
            self.plane_title.setText(title)
        self.plane.show_surface(display(big.a[c - 1][:, u], acts[c - 1]).reshape(
            SURFACE, SURFACE))
        self._show_line(acts)
        now = time.monotonic()
        if whole or now - self._network_shown >= NETWORK_EVERY_S:
            self._network_shown = now
            self._draw_network(acts, names)

    def _draw_network(self, acts, names) -> None:
        small = by_hand.forward(self.weights, acts, planar.features(self._small_grid, names))
        side = (NEURON_MAP, NEURON_MAP)
        feature_maps = planar.features(self._small_grid, names).T.reshape(-1, *side)
        maps = [display(feature_maps, "linear")] + [
            display(a.T.reshape(-1, *side), f) for a, f in zip(small.a, acts)]
        columns = [("inputs", [planar.FEATURES[n][0] for n in names])]
        columns += [(f"{n} {f}", [""] * n) for n, f in neurons.hidden_layers(self.config)]
        columns.append(("output", [""]))
        self.network.show_picture(Picture(
            columns=columns, maps=maps, weights=[w for w, _ in by_hand.layers_of(
                self.weights)], editable=True,
            focus=self.shown_neuron[0] if self.shown_neuron else None))

    def _show_line(self, acts) -> None:
        """A single neuron on x and y: its line, w and b, and how well it does."""
        single = len(acts) == 1 and self.points.names == ("x", "y")
        if not single:
            self.plane.show_line(None)
            self.line_note.setText("")
            return
        w, b = self.weights[0][:, 0], float(self.weights[1][0])
        self.plane.show_line(w, b)
        idx = self.points.train
        t = by_hand.backward(self.weights, acts, self.points.inputs(idx),
                             self.points.labels[idx])
        right = np.mean((t.a[-1][:, 0] > 0.5) == self.points.labels[idx])
        what = "logistic regression" if acts[-1] == "sigmoid" else "a perceptron"
        self.line_note.setText(f"One neuron ({what}): w = ({w[0]:.3f}, {w[1]:.3f}), "
                               f"b = {b:.3f}. On the training points: cross-entropy "
                               f"{t.data_loss:.3f}, {right:.0%} right. Drag the line.")

    def _line_moved(self, w1: float, w2: float, b: float) -> None:
        if self.panel.is_running():
            self.note.setText("A run is training this neuron: stop it to drag the line.")
            self.redraw()
            return
        self.weights = [np.array([[w1], [w2]], np.float32), np.array([b], np.float32)]
        self._use_weights()

    def _show_neuron(self, column: int, unit: int) -> None:
        self.shown_neuron = None if self.shown_neuron == (column, unit) or column == 0 \
            else (column, unit)
        self.redraw()

    def _use_weights(self) -> None:
        """Weights changed by hand (dragged, stepped): the model to save follows."""
        model = self.panel.model
        if model is not None and [tuple(w.shape) for w in model.get_weights()] == \
                [w.shape for w in self.weights]:
            model.set_weights(self.weights)
        self.trained_weights = True
        self.redraw()
        self._refresh_stepper()

    # ------------------------------------------------------------ backprop
    def _stepping(self) -> bool:
        return self.panel.views.currentWidget() is self.stepper

    def _view_changed(self, _index: int) -> None:
        if self._stepping():
            self._refresh_stepper()
        else:
            self.plane.pick(None)

    def _choose_point(self, index: int) -> None:
        self.chosen_point = index
        self._refresh_stepper()

    def _refresh_stepper(self) -> None:
        if not self._stepping():
            return  # done when the view is shown
        if self.weights is None or self.points is None or not len(self.points.train):
            self.stepper.show_nothing("There are no training points to step through yet.")
            return
        try:
            acts = neurons.activations(self.config)
        except PlainError as exc:
            self.stepper.show_nothing(str(exc))
            return
        train = self.points.train
        self.stepper.set_points(len(train), self.chosen_point)
        i = train[min(self.chosen_point, len(train) - 1)]
        x, y = self.points.xy[i]
        form = self._form()
        l1, l2 = neurons.penalty_weights(form)
        self.plane.pick(self.points.xy[i])
        self.stepper.set_example(Example(
            feature_names=[planar.FEATURES[n][0] for n in self.points.names],
            activations=acts, weights=[np.asarray(w, np.float64) for w in self.weights],
            x=self.points.inputs([i])[0].astype(np.float64), y=int(self.points.labels[i]),
            where=f"training point {self.chosen_point} at ({x:.2f}, {y:.2f})",
            learning_rate=form.learning_rate, l1=l1, l2=l2),
            can_apply=not self.panel.is_running())

    def _check(self, example: Example) -> None:
        """Keras' gradients for the example, computed in the background by a model built
        here, while no run trains (see neurons.KerasGradients)."""
        shape = (self.config.hidden, self.config.activation, self.config.output,
                 len(example.x))
        if self._keras_gradients is None or self._keras_gradients[0] != shape:
            if self.panel.is_running():
                self.stepper.check.setText("The check against Keras' own gradients comes "
                                           "when this run ends.")
                return
            self._keras_gradients = (shape, neurons.KerasGradients(self.config,
                                                                   len(example.x)))
        self.checker.submit(keras_check, self._keras_gradients[1], example)

    def _checked(self, _tag, difference: float) -> None:
        self.stepper.show_check(difference)

    def _apply_update(self, weights) -> None:
        if self.panel.is_running():
            return
        self.weights = [np.asarray(w, np.float32) for w in weights]
        self._use_weights()


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(NeuronsTab)
