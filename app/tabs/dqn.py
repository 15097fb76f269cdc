"""The deep Q-learning tab: an agent learns a game while you watch the screen, what the
network sees, its Q-values and its learning curves; then it plays, or you do.

Run alone with `python -m app.tabs.dqn`.
"""
from __future__ import annotations

import traceback
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QVBoxLayout, QWidget)

from app.tabs.base import FamilyTab
from app.widgets.images import BarChart, ImageGrid
from app.worker import ExperimentWorker
from nets import addons, runner, storage
from nets.families import dqn
from nets.config import from_dict
from nets.progress import Artifact, Done, ImageEvent

ABOUT = """<h3>Deep Q-learning</h3>
<p>What the agent sees depends on the game. In <b>CartPole</b> (the default, and the agent
that comes with the app) it gets four numbers: the cart's position and velocity, the pole's
angle and how fast it turns. In an <b>Atari</b> game it gets pixels: the last four frames,
greyscale and shrunk to 84x84 (shown beside the screen), since one frame cannot tell which
way the ball moves. Each action is repeated for <i>Frame skip</i> frames. In both games
it also gets the reward of each step.</p>
<p>Its network Q(s, a) estimates, for the state s and each action a, the <i>discounted</i>
return it can expect if it takes a and plays well afterwards: r<sub>1</sub> +
&gamma; r<sub>2</sub> + &gamma;<sup>2</sup> r<sub>3</sub> + &hellip;, each later reward
counting &gamma; times less. It acts greedily on these estimates, except that with
probability &epsilon; it tries a random action. &epsilon; falls in a straight line from
<i>Epsilon start</i> to <i>Epsilon end</i> over the first <i>Epsilon decay</i> share of
the steps: to 0.05 over 20% with CartPole's defaults, to 0.01 over 10% with Atari's.</p>
<p>Every step goes into a <b>replay memory</b>; learning samples random minibatches from
it, which breaks the correlation between consecutive steps. The target for a step is
y = r if the game ended there, otherwise y = r + &gamma; max<sub>a'</sub> Q&#770;(s', a'),
where Q&#770; is a <b>target network</b>: a copy of Q refreshed only every C steps so the
target does not chase itself (Mnih et al. 2015).</p>
<p><b>The loss is not the score.</b> The loss plot shows how far Q(s, a) is from its target
y. As the agent improves, its Q-values and their targets grow and keep moving, so the loss
often <i>rises</i> while the agent gets better. Judge progress by the <b>return</b> of each
episode (noisy: follow the average of 20) and by <b>average max-Q</b> on 500 fixed states
met by random play, the paper's learning curve. That curve is much smoother than the
returns, but it is not the true value: the max over noisy estimates is biased upwards, so
Q-learning overestimates (van Hasselt, Guez &amp; Silver 2016).</p>
<p><b>Huber loss for Atari.</b> The slide's gradient step is on the squared error
(y &minus; Q)<sup>2</sup>. For Atari games this tab, like the paper, clips the error's
gradient to [&minus;1, 1]: the Huber loss, squared for errors below 1 and growing only
linearly beyond. One surprising transition then cannot jolt the network with a huge step;
with the rewards clipped to &minus;1, 0 or +1, most errors are small anyway. CartPole uses
the plain squared error: its values grow to about 100, and a gradient capped at 1 would
learn them too slowly.</p>
<p><b>Whose settings.</b> CartPole's defaults were tuned for this app: it learns in a few
minutes on a laptop. Picking an Atari game switches to the defaults of CleanRL's
dqn_atari.py: Adam at 10<sup>&minus;4</sup>, a target copy every 1,000 agent steps,
&epsilon; to 0.01 over the first 10% of the steps; with the Nature paper's warm-up of 50,000
steps (CleanRL waits 80,000) and a replay memory of 200,000 frames that fits a laptop
(both use 1,000,000). The paper itself used RMSProp at 2.5&middot;10<sup>&minus;4</sup>, a
target copy every 10,000 updates and &epsilon; from 1 to 0.1 over the first million frames.
Atari games need millions of steps: hours on a GPU.</p>
<p><b>Games at once.</b> With more than one, all the games feed the one replay memory
(each game keeps its own frames, so a state never mixes two games), and the network
chooses the actions of all of them in one call, which costs hardly more than one. With 4
processor cores or more, each Atari game plays in a process of its own while the network
learns. The steps count every game's actions, and learning keeps its pace of one
gradient step per <i>Train every</i> steps, so the agent learns the same way, only sooner.
The screen shows the first game.</p>
<p><b>Try this</b>: train CartPole and watch average max-Q climb while the loss does not
fall; set <i>Target update C</i> to 1, so that the target chases itself, and compare the
returns; set <i>Epsilon end</i> to 0.5 and see how much a random action in two costs;
press <b>Watch agent</b>, tick <b>Play yourself</b> and try to beat it with the arrow keys
and Space in the game view.</p>
<p><b>Papers</b>: Mnih et al. 2015, <i>Human-level control through deep reinforcement
learning</i> (Nature); van Hasselt, Guez &amp; Silver 2016, <i>Deep reinforcement learning
with double Q-learning</i> (AAAI); Bellemare et al. 2013, <i>The Arcade Learning
Environment: an evaluation platform for general agents</i> (JAIR); Huang et al. 2022,
<i>CleanRL: high-quality single-file implementations of deep reinforcement learning
algorithms</i> (JMLR).</p>"""

LOSS_TOOLTIP = ("The TD loss of every gradient step (faint) and its moving average "
                "(bold): how far Q(s, a) is from its target. It is not the score: it often "
                "rises as the Q-values grow. Judge progress by the returns and average "
                "max-Q.")

SPEEDS = [("full speed", 0.0), ("60 steps/s", 60.0), ("30 steps/s", 30.0),
          ("15 steps/s", 15.0), ("5 steps/s", 5.0)]
# Short labels under the Q-value bars (the full names are in the tooltip): "right fire"
# would not fit under six bars.
ARROWS = {"noop": "·", "fire": "F", "up": "↑", "down": "↓", "left": "←", "right": "→",
          "upright": "↗", "upleft": "↖", "downright": "↘", "downleft": "↙"}


def short_action_label(name: str) -> str:
    """'right fire' -> '→F', 'push left' -> '←', 'noop' -> '·'; unknown names unchanged."""
    words = name.removeprefix("push ").split()
    fire = words[-1:] == ["fire"] and len(words) > 1
    move = "".join(words[:-1] if fire else words)
    label = ARROWS.get(move)
    return name if label is None else label + ("F" if fire else "")
Q_TOOLTIP = ("What the network expects to earn from here with each action (the rewards "
             "to come, each step later counting gamma times less). Orange: the action taken "
             "(random ones too, while exploring).")
KEYS = {Qt.Key.Key_Left: "left", Qt.Key.Key_Right: "right", Qt.Key.Key_Up: "up",
        Qt.Key.Key_Down: "down", Qt.Key.Key_Space: "fire"}


def action_for(pressed: set[str], names: list[str]) -> int | None:
    """The action a person means with the keys held down (None: no such action)."""
    lowered = [n.replace(" ", "") for n in names]
    if not pressed:
        for wanted in ("noop",):
            if wanted in lowered:
                return lowered.index(wanted)
        return None
    order = ["up", "right", "left", "down", "fire"]  # ALE's names: UPRIGHTFIRE ...
    wanted = "".join(k for k in order if k in pressed)
    for candidate in (wanted, *[k for k in order if k in pressed]):
        for i, n in enumerate(lowered):
            if n in (candidate, f"push{candidate}"):
                return i
    return None


class GameView(pg.GraphicsLayoutWidget):
    """The game screen; it takes keyboard focus for a person playing."""

    def __init__(self, on_keys, parent=None):
        super().__init__(parent)
        self.box = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.pressed: set[str] = set()
        self.on_keys = on_keys
        self.setToolTip("The game as a person sees it. With 'Play yourself' ticked, click "
                        "here and play with the arrow keys and Space.")

    def show_screen(self, rgb: np.ndarray) -> None:
        first = self.image.image is None or self.image.image.shape != rgb.shape
        self.image.setImage(rgb, levels=(0, 255), autoLevels=False)
        if first:
            self.box.autoRange(padding=0)

    def keyPressEvent(self, event):
        if event.key() in KEYS and not event.isAutoRepeat():
            self.pressed.add(KEYS[event.key()])
            self.on_keys()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() in KEYS and not event.isAutoRepeat():
            self.pressed.discard(KEYS[event.key()])
            self.on_keys()
        else:
            super().keyReleaseEvent(event)


class PlayView(QWidget):
    def __init__(self, on_keys, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        self.game = GameView(on_keys)
        self.game.setMinimumSize(320, 300)
        grid.addWidget(self.game, 0, 0, 2, 1)
        self.sees_note = QLabel("What the network sees appears here while it plays.")
        self.sees_note.setWordWrap(True)
        self.sees = ImageGrid()
        self.sees.setMinimumSize(260, 150)
        side = QVBoxLayout()
        side.addWidget(self.sees_note)
        side.addWidget(self.sees, 1)
        self.q = BarChart("Q-values of this state", Q_TOOLTIP)
        self.q.setMinimumHeight(200)
        side.addWidget(self.q, 2)
        self.stats = QLabel("Press Start (F5) to train, or load an agent and press Watch.")
        self.stats.setWordWrap(True)
        side.addWidget(self.stats)
        grid.addLayout(side, 0, 1, 2, 1)

        controls = QHBoxLayout()
        self.live = QCheckBox("Live view")
        self.live.setChecked(True)
        self.live.setToolTip("Show the game while training. Off, training runs a little "
                             "faster and the curves still update.")
        controls.addWidget(self.live)
        controls.addWidget(QLabel("Watch speed"))
        self.speed = QComboBox()
        for label, _ in SPEEDS:
            self.speed.addItem(label)
        self.speed.setCurrentIndex(2)
        self.speed.setToolTip("How fast the agent plays when you press Watch agent. "
                              "Training is not slowed by it: its pace is set beside Start "
                              "('Training pace').")
        controls.addWidget(self.speed)
        self.watch = QPushButton("Watch agent")
        self.watch.setToolTip("The trained or loaded agent plays (greedy, epsilon 0.01) at "
                              "the chosen speed. Press again to stop.")
        controls.addWidget(self.watch)
        self.human = QCheckBox("Play yourself")
        self.human.setToolTip("While watching, you play instead: click the game and use the "
                              "arrow keys and Space.")
        controls.addWidget(self.human)
        controls.addStretch(1)
        grid.addLayout(controls, 2, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(0, 1)


class CurvesView(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        # the key is in the title: a legend inside the plot would cover the curves
        self.returns_plot = self.addPlot(
            row=0, col=0, title='Return per episode (<span style="color:#a0a0c8">each'
                                '</span>, <span style="color:#508cff">average of 20</span>)')
        self.returns_plot.setLabel("bottom", "episode")
        self.raw = self.returns_plot.plot(pen=pg.mkPen((120, 120, 160, 120)))
        self.avg = self.returns_plot.plot(pen=pg.mkPen((80, 140, 255), width=2))
        self.q_plot = self.addPlot(row=1, col=0, title="Average max-Q on fixed states")
        self.q_plot.setLabel("bottom", "step")
        self.q_curve = self.q_plot.plot(pen=pg.mkPen((255, 140, 40), width=2))
        self.setToolTip("Returns are noisy: the average of 20 shows the trend. The average "
                        "of max_a Q(s, a) over 500 states met by random play is the DQN "
                        "paper's much smoother measure of progress; it runs above the true "
                        "value, since the max of noisy estimates is biased upwards.")
        self.reset_curves()

    def reset_curves(self) -> None:
        self.returns: list[float] = []
        self.avg_q: list[tuple[int, float]] = []
        self.raw.setData([], [])
        self.avg.setData([], [])
        self.q_curve.setData([], [])
        for plot in (self.returns_plot, self.q_plot):  # no axes left from another agent
            plot.enableAutoRange()

    def add_return(self, value: float) -> None:
        self.returns.append(value)
        r = np.asarray(self.returns)
        x = np.arange(1, len(r) + 1)
        csum = np.concatenate([[0.0], np.cumsum(r)])
        lo = np.maximum(0, np.arange(len(r)) - 19)
        self.raw.setData(x, r)
        self.avg.setData(x, (csum[1:] - csum[lo]) / (np.arange(len(r)) - lo + 1))

    def add_q(self, step: int, value: float) -> None:
        self.avg_q.append((step, value))
        self.q_curve.setData(*map(np.asarray, zip(*self.avg_q)))


class DQNTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("dqn", parent)
        self.play = PlayView(self._keys_changed)
        self.panel.add_view(self.play, "Game", "The game, what the network sees, Q-values")
        self.curves = CurvesView()
        self.panel.replace_epoch_plots(self.curves)  # progress here is episodes, not epochs
        self.add_about(ABOUT)
        self.panel.loss_plot.setToolTip(LOSS_TOOLTIP)
        self.train_display: dqn.Display | None = None  # the running trainer's
        self.watch_display: dqn.Display | None = None  # the running watcher's
        self.actions: list[str] = []
        self.agent = None  # (model, config) of the last finished or loaded agent
        self.watcher = ExperimentWorker(self, self.panel.family.event_interval_ms)
        self.watcher.events.connect(self._on_events)
        self.watcher.finished.connect(self._watch_finished)
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.panel.model_changed.connect(self._training_started)
        self.play.live.toggled.connect(self._apply_display)
        self.play.speed.currentIndexChanged.connect(self._apply_display)
        self.play.human.toggled.connect(self._human_toggled)
        self.play.watch.clicked.connect(self.toggle_watch)
        self.panel.form.editors["game"].activated.connect(self._game_chosen)
        self.memory_note = QLabel()
        self.memory_note.setWordWrap(True)
        self.panel.add_form_note(self.memory_note)
        if not addons.ale_available():  # an installer's bundle: no ale-py
            atari_note = QLabel("Atari games are not installed here: the installers leave "
                                "out the Arcade Learning Environment (ale-py, GPL-2.0) and "
                                "its ROMs for licence reasons. File > Atari games… fetches "
                                "them; they appear here at the next start.")
            atari_note.setWordWrap(True)
            atari_note.setStyleSheet("color: gray")
            self.panel.add_form_note(atari_note)
        pace_row = QHBoxLayout()
        pace_row.addWidget(QLabel("Training pace"))
        self.pace = QComboBox()
        self.pace.setObjectName("training_pace")
        for label, _ in SPEEDS:
            self.pace.addItem(label)
        self.pace.setToolTip("Full speed trains as fast as this computer can. A slower pace "
                             "lets you follow every move of the game while it learns, but "
                             "the run then takes far longer (it can be changed while it "
                             "runs).")
        self.pace.currentIndexChanged.connect(self._apply_display)
        pace_row.addWidget(self.pace, 1)
        pace_box = QWidget()
        pace_box.setLayout(pace_row)
        self.panel.add_form_note(pace_box)
        self.panel.form.changed.connect(self._show_memory)
        self._show_memory()
        self._set_watch_state()

    def _show_memory(self) -> None:
        """What the chosen replay memory will take, before the run starts."""
        config = self.panel.form.config()
        need, free = dqn.replay_bytes(config), dqn.available_memory()
        text = f"Replay memory: about {need / 2**20:,.0f} MB"
        if free is not None:
            text += f" of {free / 2**30:,.1f} GB free"
        too_much = free is not None and need > 0.8 * free
        self.memory_note.setText(text + (": too much, choose a smaller N." if too_much
                                         else "."))
        self.memory_note.setStyleSheet("color: #d04040" if too_much else "color: gray")

    def _game_chosen(self, *_):
        """Switching between CartPole and Atari switches to the settings that suit it
        (only when the person picks a game, not when stored settings are restored)."""
        values = self.panel.form.values()
        suits = dqn.settings_for(values["game"]).__dict__
        changed = {**values, **{k: suits[k] for k in dqn.ATARI_SETTINGS}}
        words = ("the settings for Atari (CleanRL dqn_atari's, with the Nature paper's "
                 "warm-up and a replay memory sized for a laptop)"
                 if dqn.is_atari(values["game"]) else "the settings tuned for CartPole")
        if changed != values:
            self.panel.form.set_values(changed)
            self.panel.log_message(f"Switched to {words}.")

    # ------------------------------------------------------------ events
    def _on_events(self, batch: list) -> None:
        screen = q = None
        for event in batch:
            if isinstance(event, ImageEvent) and event.name == "screen":
                screen = event.images
            elif isinstance(event, Artifact):
                if event.name == "q":
                    q = event.value
                elif event.name == "display":  # only training sends one
                    self.train_display = event.value
                    self._apply_display()
                elif event.name == "training":  # a resumed run's curves so far
                    for r in event.value.get("returns", []):
                        self.curves.add_return(float(r))
                    for step, value in event.value.get("avg_q", []):
                        self.curves.add_q(int(step), float(value))
                elif event.name == "actions":
                    self.actions = event.value
                    self._name_actions()
                elif event.name == "episode":
                    if not event.value.get("watch"):
                        self.curves.add_return(event.value["return"])
                    else:
                        self.play.stats.setText(f"Game {event.value['episode']} over: "
                                                f"return {event.value['return']:.0f}.")
                elif event.name == "avg_q":
                    self.curves.add_q(*event.value)
                elif event.name == "stats":
                    self._show_stats(event.value)
        if screen is not None and self.play.live.isChecked():
            self.play.game.show_screen(screen)
        if q is not None and self.play.live.isChecked():
            values, action, state = q
            self.play.q.set_values(values, action)
            self._show_state(state)

    def _show_state(self, state: np.ndarray) -> None:
        atari = state.ndim == 3
        self.play.sees.setVisible(atari)
        if atari:  # 4 frames of 84x84
            self.play.sees_note.setText("What the network sees: the last 4 frames, 84x84 "
                                        "grey (oldest top left).")
            self.play.sees.set_images(np.moveaxis(state, -1, 0) / 255.0, columns=2)
        else:
            names = ["cart position", "cart velocity", "pole angle", "pole angular velocity"]
            self.play.sees_note.setText("What the network sees: four numbers.<br>" +
                                        "<br>".join(f"{n}: {v:+.3f}" for n, v in
                                                    zip(names, state)))

    def _show_stats(self, s: dict) -> None:
        phase = "learning" if s["learning"] else "warming up (no learning yet)"
        pace = SPEEDS[self.pace.currentIndex()]
        slowed = f" · slowed to {pace[0]} (Training pace)" if pace[1] else ""
        games = s.get("games", 1)
        shown = f" · showing game 1 of {games}" if games > 1 else ""
        self.play.stats.setText(
            f"Step {s['step']:,}{shown} · ε = {s['epsilon']:.3f} · replay "
            f"{s['replay']:,}/{s['capacity']:,} · {s['steps_per_second']:.0f} steps/s"
            f"{slowed} · {phase}")

    def _training_started(self, model) -> None:
        if self.panel.is_running():
            if self.watcher.is_running():
                self.watcher.stop()
            self.curves.reset_curves()
        self._set_watch_state()

    def _on_finished(self, done) -> None:
        self.train_display = None
        if done.result is not None:
            self._set_agent(done.result)
        self._set_watch_state()

    def _on_loaded(self, trained) -> None:
        self._set_agent(trained)
        self.curves.reset_curves()
        for r in trained.meta.get("training", {}).get("returns", []):
            self.curves.add_return(float(r))
        for step, value in trained.meta.get("training", {}).get("avg_q", []):
            self.curves.add_q(int(step), float(value))
        words = f"Loaded an agent for {trained.meta.get('game', '?')}, trained " \
                f"{trained.meta.get('step', 0):,} steps. Press Watch agent"
        if self.panel.shipped_model:  # a demo: the person's own autosaves stay theirs
            self.play.stats.setText(words + ".")
            return
        self.play.stats.setText(words + ", or tick Resume and Start to train it on.")
        # Training resumes from the newest autosave of its game: the loaded agent
        # becomes that one.
        try:
            runner.autosave_slot("dqn", self.agent[1]).save(
                trained.model, trained.meta, int(trained.meta.get("step", 0)))
        except storage.StorageError as exc:
            self.panel.log_message(f"This agent cannot be resumed: {exc}")
        self.panel.refresh_resume()

    def _set_agent(self, trained) -> None:
        self.agent = (trained.model, from_dict(dqn.Config, trained.meta.get("config", {})))
        self.actions = list(trained.meta.get("action_names", self.actions))
        self._name_actions()
        self._set_watch_state()

    def _name_actions(self) -> None:
        labels = [short_action_label(n) for n in self.actions]
        self.play.q.set_names(self.actions, labels)
        key = ", ".join(f"{label} {name}" for label, name in zip(labels, self.actions)
                        if label != name)
        self.play.q.setToolTip(Q_TOOLTIP + (f"\nUnder the bars: {key}." if key else ""))

    # ------------------------------------------------------------ display and keys
    def _apply_display(self, *_):
        pace = SPEEDS[self.pace.currentIndex()][1]
        if self.train_display is not None:
            self.train_display.live = self.play.live.isChecked()
            # full speed still samples the screen 15 times a second (30 cost 20% of the
            # training's speed on 2 cores; 15 costs about 6%)
            self.train_display.fps = pace or 15.0
            self.train_display.training_pace = pace
        if self.watch_display is not None:
            fps = SPEEDS[self.play.speed.currentIndex()][1]
            self.watch_display.fps = fps or 60.0  # watching at "full speed": 60 steps/s

    def _human_toggled(self, on: bool) -> None:
        if on:
            self.play.game.setFocus()
        self._keys_changed()

    def _keys_changed(self) -> None:
        if self.watch_display is not None:
            self.watch_display.human_action = (
                action_for(self.play.game.pressed, self.actions)
                if self.play.human.isChecked() else None)

    # ------------------------------------------------------------ watching
    def toggle_watch(self) -> None:
        if self.watcher.is_running():
            self.watcher.stop()
            return
        if self.agent is None or self.panel.is_running():
            return
        model, config = self.agent
        self.watch_display = dqn.Display()
        self._apply_display()
        self._keys_changed()
        self.watcher.start(partial(self._watch, model, config, self.watch_display))
        self._set_watch_state()

    @staticmethod
    def _watch(model, config, display, reporter):
        """Runs in the watcher's thread; like runner.execute, it ends in words."""
        try:
            done = dqn.watch(model, config, display, reporter)
        except Exception as exc:  # noqa: BLE001 - e.g. the game could not be started
            done = Done("failed", runner.explain(exc), traceback.format_exc())
        reporter.emit(done)

    def _watch_finished(self, done) -> None:
        self.watch_display = None
        if done.message:
            self.panel.log_message(done.message)
        if done.status == "failed":
            self.panel.show_error(done.message)
        self._set_watch_state()

    def _set_watch_state(self) -> None:
        running = self.watcher.is_running()
        self.play.watch.setText("Stop watching" if running else "Watch agent")
        self.play.watch.setEnabled(running or (self.agent is not None and
                                               not self.panel.is_running()))

    def shutdown(self) -> bool:
        self.watcher.stop()
        ended = super().shutdown()
        return ended and not self.watcher.is_running()


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(DQNTab)
