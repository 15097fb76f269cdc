"""The GAN tab's 2-D game view (after GAN Lab, Kahng et al. 2018): controls, the layered
plane and live scores. The game (nets/families/gan/plane.py) lives inside background jobs
of the tab's LatestOnly runner; the GUI thread only posts commands and settings to them."""
from __future__ import annotations

import collections
import dataclasses

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout,
                               QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from app.tabs.gan.plane_views import LAYERS, PlanePlot, ScorePlots
from nets.families.gan import losses
from nets.families.gan import plane as game
from nets.families.gan import plane_targets as targets

FRAME_SECONDS = 0.03  # stepping per free-running job: with the snapshot and redraw, ~20/s
SPEEDS = {"fast (as many steps as fit in 30 ms)": 0, "slow (1 epoch per redraw)": 1,
          "medium (5 epochs per redraw)": 5}


class _Mailbox:
    """What the GUI thread tells the jobs: the latest settings and drawing (replaced
    whole, an atomic assignment) and a queue of commands (deque appends are atomic).
    `game` is touched only inside jobs, which run one at a time."""

    def __init__(self, settings: game.Settings):
        self.settings, self.drawn = settings, None
        self.commands: collections.deque = collections.deque()
        self.game: game.Game | None = None
        self.generation = 0  # games made so far: a result from an older one is stale


def _job(box: _Mailbox, frame: float, epochs: int) -> dict:
    """Runs in the worker thread: the queued commands, then (free running) a frame's
    worth of epochs; returns a snapshot, or {"error": text} in words."""
    settings, drawn = box.settings, box.drawn
    note = ""
    try:
        if box.game is None:
            box.game = game.Game(settings, drawn)
            box.generation += 1
        else:
            box.game.apply(settings, drawn)
    except ValueError as exc:
        note = str(exc)
        if box.game is None:
            return {"error": note}
    g = box.game
    while box.commands:
        command = box.commands.popleft()
        if command == "reset":
            try:
                box.game = g = game.Game(settings, drawn)
                box.generation += 1
            except ValueError as exc:
                note = str(exc)
        elif command == "d":
            g.d_step()
        elif command == "g":
            g.g_step()
        elif command == "epoch":
            g.epoch()
    if epochs:
        for _ in range(epochs):
            g.epoch()
    elif frame:
        g.run(frame)
    snap = g.snapshot()
    snap["note"] = note
    snap["generation"] = box.generation
    return snap


class PlaneGameView(QWidget):
    """The 2-D game; `make_runner` is the tab's FamilyTab.runner(name, on_result)."""

    def __init__(self, make_runner, parent=None):
        super().__init__(parent)
        self.settings = game.Settings()
        self.box = _Mailbox(dataclasses.replace(self.settings))
        self.drawn_points: list[tuple[float, float]] = []
        self.running = False
        self.snapshots = 0  # results shown (tests and the benchmark count them)
        self._runner = make_runner("gan-plane", self._on_result)
        self.plane = PlanePlot(targets.EXTENT)
        self.plane.drawn.connect(self._drawn)
        self.scores = ScorePlots()
        self.status = QLabel("Press Run (Space), or step the players one at a time.")
        self.status.setWordWrap(True)
        self.status.setObjectName("plane_status")
        layout = QHBoxLayout(self)
        layout.addLayout(self._controls(), 0)
        middle = QVBoxLayout()
        middle.addWidget(self.plane, 2)
        middle.addWidget(self._key())
        middle.addWidget(self.status)
        middle.addWidget(self.scores, 1)
        layout.addLayout(middle, 1)
        self._post()
        self._started = False
        self._generation = 0

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._started:  # the nets are built when first seen, not at app start
            self._started = True
            self._submit()

    # ------------------------------------------------------------ building
    def _controls(self) -> QVBoxLayout:
        s = self.settings
        col = QVBoxLayout()
        form = QFormLayout()
        self.target = QComboBox()
        self.target.addItems(targets.TARGETS)
        self.target.setToolTip("The real data the generator must learn to imitate. "
                               "'drawn': the points you draw with 'Draw' on.")
        self.loss = QComboBox()
        self.loss.addItems(losses.LOSSES)
        self.loss.setCurrentText(s.loss)
        self.loss.setToolTip(
            "minimax: Goodfellow et al. 2014's original game, whose generator gradient "
            "vanishes when D is sure; non-saturating: the same D, a generator that "
            "maximises log D(G(z)) instead; least squares: Mao et al. 2017; wasserstein: "
            "Arjovsky et al. 2017, a critic with clipped weights.")
        self.optimizer = QComboBox()
        self.optimizer.addItems(game.OPTIMIZERS)
        self.optimizer.setToolTip("Both players' optimiser (Adam with beta1 = 0.5, as in "
                                  "DCGAN). Changing it starts the optimisers' memory anew.")
        self.d_lr, self.g_lr = self._rate(s.d_lr, "discriminator"), self._rate(s.g_lr,
                                                                             "generator")
        self.d_steps = QSpinBox()
        self.d_steps.setRange(1, 20)
        self.d_steps.setValue(s.d_steps)
        self.d_steps.setToolTip("Discriminator steps before each generator step (one "
                                "epoch = this many D steps, then one G step). WGAN's "
                                "critic takes 5.")
        self.speed = QComboBox()
        self.speed.addItems(SPEEDS)
        self.speed.setToolTip("How much happens between redraws while it runs.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 9999)
        self.seed.setToolTip("The seed of the weights and the data: the same seed and "
                             "settings replay the same game (applies at Reset).")
        form.addRow("Target", self.target)
        form.addRow("Loss", self.loss)
        form.addRow("Optimiser", self.optimizer)
        form.addRow("D learning rate", self.d_lr)
        form.addRow("G learning rate", self.g_lr)
        form.addRow("D steps per G step", self.d_steps)
        form.addRow("Speed", self.speed)
        form.addRow("Seed", self.seed)
        col.addLayout(form)
        for w in (self.target, self.loss, self.optimizer, self.speed):
            w.currentIndexChanged.connect(self._settings_changed)
            # the plane, not the longest choice, decides how narrow the page may be
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(12)
        for w in (self.d_lr, self.g_lr, self.d_steps):
            w.valueChanged.connect(self._settings_changed)
        buttons = QGridLayout()
        self.d_button = self._button("D step", "One discriminator step on a fresh batch "
                                     "(D key): watch the heat map move.", "D", self.d_step)
        self.g_button = self._button("G step", "One generator step (G key): watch the "
                                     "fakes follow their arrows.", "G", self.g_step)
        self.e_button = self._button("Epoch", "One round: the D steps, then one G step "
                                     "(E key).", "E", self.epoch)
        self.run_button = self._button("Run", "Run or pause (Space). Pausing keeps every "
                                       "layer on screen.", "Space", self.toggle_run)
        self.reset_button = self._button("Reset", "New nets from the seed; the scores "
                                         "start again (R key).", "R", self.reset)
        for i, b in enumerate((self.d_button, self.g_button, self.e_button,
                               self.run_button, self.reset_button)):
            buttons.addWidget(b, i // 3, i % 3)
        col.addLayout(buttons)
        col.addWidget(QLabel("Presets (reset, then run):"))
        presets = QHBoxLayout()
        self.preset_buttons = {}
        for name in game.PRESETS:
            b = QPushButton(name)
            b.setToolTip(game.PRESET_TEXT[name])
            b.setProperty("preset", name)
            b.clicked.connect(self._preset_clicked)
            presets.addWidget(b)
            self.preset_buttons[name] = b
        col.addLayout(presets)
        draw_row = QHBoxLayout()
        self.draw = QPushButton("Draw")
        self.draw.setCheckable(True)
        self.draw.setToolTip("Drag on the plane to draw a target; the 'drawn' target "
                             "samples your points with a little noise.")
        self.draw.toggled.connect(self._draw_toggled)
        self.clear = QPushButton("Clear drawing")
        self.clear.clicked.connect(self.clear_drawing)
        draw_row.addWidget(self.draw)
        draw_row.addWidget(self.clear)
        col.addLayout(draw_row)
        col.addWidget(QLabel("Layers:"))
        self.layer_boxes = {}
        for name, tip in LAYERS.items():
            box = QCheckBox(name)
            box.setChecked(True)
            box.setToolTip(tip)
            box.setProperty("layer", name)
            box.toggled.connect(self._layer_toggled)
            col.addWidget(box)
            self.layer_boxes[name] = box
        col.addStretch(1)
        return col

    def _rate(self, value: float, who: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setDecimals(5)
        box.setRange(1e-5, 1.0)
        box.setSingleStep(1e-4)
        box.setValue(value)
        box.setToolTip(f"The {who}'s learning rate, applied at the next step. A generator "
                       "much faster than its discriminator tends to collapse onto a mode.")
        return box

    def _button(self, text, tip, key, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        shortcut = QShortcut(QKeySequence(key), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)
        return b

    def _key(self) -> QLabel:
        from app.widgets.plots import key_entry
        from app.tabs.gan.plane_views import ARROW, FAKE, GRID_PEN, REAL

        key = QLabel("&nbsp; ".join([
            key_entry("real", REAL), key_entry("fake", FAKE),
            key_entry("push on a fake", ARROW, "━"), key_entry("noise grid", GRID_PEN, "━"),
            key_entry("heat: green = D says real, purple = fake", REAL, "■")]))
        key.setStyleSheet("background: #303030; padding: 2px;")
        key.setWordWrap(True)
        key.setToolTip(LAYERS["heat map"])
        return key

    # ------------------------------------------------------------ settings
    def _read_settings(self) -> game.Settings:
        s = self.settings
        s.target = self.target.currentText()
        s.loss = self.loss.currentText()
        s.optimizer = self.optimizer.currentText()
        s.d_lr, s.g_lr = float(self.d_lr.value()), float(self.g_lr.value())
        s.d_steps = int(self.d_steps.value())
        s.seed = int(self.seed.value())
        return s

    def _post(self) -> None:
        """Hand the current settings and drawing to the jobs (picked up at the next one)."""
        self.box.drawn = (np.array(self.drawn_points, np.float32) if self.drawn_points
                          else None)
        self.box.settings = dataclasses.replace(self._read_settings())

    def _settings_changed(self, *_args) -> None:
        self._post()
        if not self.running:
            self._submit()  # show the new heat map and arrows at once

    def _preset_clicked(self) -> None:
        self.apply_preset(self.sender().property("preset"))

    def apply_preset(self, name: str) -> None:
        p = game.preset(name, int(self.seed.value()))
        widgets = (self.target, self.loss, self.optimizer, self.d_lr, self.g_lr,
                   self.d_steps)
        for w in widgets:
            w.blockSignals(True)
        self.target.setCurrentText(p.target)
        self.loss.setCurrentText(p.loss)
        self.optimizer.setCurrentText(p.optimizer)
        self.d_lr.setValue(p.d_lr)
        self.g_lr.setValue(p.g_lr)
        self.d_steps.setValue(p.d_steps)
        for w in widgets:
            w.blockSignals(False)
        self.settings = dataclasses.replace(p)
        self.status.setText(f"Preset '{name}': {game.PRESET_TEXT[name]}")
        self.reset()
        if not self.running:
            self.toggle_run()

    # ------------------------------------------------------------ commands
    def _command(self, command: str) -> None:
        self._post()
        self.box.commands.append(command)
        if not self.running:
            self._submit()

    def d_step(self) -> None:
        self._command("d")

    def g_step(self) -> None:
        self._command("g")

    def epoch(self) -> None:
        self._command("epoch")

    def reset(self) -> None:
        self._command("reset")

    def toggle_run(self) -> None:
        self.running = not self.running
        self.run_button.setText("Pause" if self.running else "Run")
        if self.running:
            self._post()
            self._submit()

    def _submit(self) -> None:
        self._started = True
        epochs = SPEEDS[self.speed.currentText()]
        frame = FRAME_SECONDS if self.running else 0.0
        self._runner.submit(_job, self.box, frame, epochs if self.running else 0)

    def _on_result(self, _tag, snap) -> None:
        if "error" in snap:
            self.status.setText(snap["error"])
            if self.running:
                self.toggle_run()
            return
        if self.running:
            self._submit()  # the next frame computes while this one is drawn
        self.snapshots += 1
        if snap["generation"] != self._generation:  # a new game: its scores start afresh
            self._generation = snap["generation"]
            self.scores.clear()
        self.last = snap
        self.plane.update_layers(snap)
        self.scores.add(snap)
        if not self.running:
            self.scores.redraw()  # a step or the last frame: show it all
        note = snap.get("note", "")
        skipped = (f" {snap['skipped']} steps skipped (loss not finite)."
                   if snap["skipped"] else "")
        self.status.setText(
            (note + " " if note else "")
            + f"D steps {snap['d_steps']}, G steps {snap['g_steps']} · D(real) "
            f"{snap['d_real']:.2f}, D(fake) {snap['d_fake']:.2f} · modes covered "
            f"{snap['modes']}/{snap['of modes']} · distance {snap['distance']:.3f}"
            + skipped
            + (" · heat-map colours stretched to the critic's current range"
               if snap["loss"] == "wasserstein" else ""))

    # ------------------------------------------------------------ drawing and layers
    def _draw_toggled(self, on: bool) -> None:
        self.plane.drawing = on
        if on and self.target.currentText() != "drawn":
            self.status.setText("Drag on the plane to draw; then choose the 'drawn' "
                                "target (it follows your drawing as you add to it).")

    def _drawn(self, x: float, y: float) -> None:
        if len(self.drawn_points) >= targets.MAX_DRAWN:
            return
        self.drawn_points.append((x, y))
        self.plane.show_drawing(np.array(self.drawn_points, np.float32))
        if self.target.currentText() == "drawn":
            self._post()

    def add_drawn(self, points) -> None:
        """Add points to the drawing (as a drag would)."""
        for x, y in points:
            self._drawn(float(x), float(y))

    def clear_drawing(self) -> None:
        self.drawn_points = []
        self.plane.show_drawing(np.zeros((0, 2), np.float32))
        self._post()

    def _layer_toggled(self, on: bool) -> None:
        self.plane.show_layer(self.sender().property("layer"), on)

    def shutdown(self) -> None:
        """Stop free running (the tab shuts the runner down)."""
        self.running = False
        self.run_button.setText("Run")
