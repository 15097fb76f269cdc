"""The recurrent-nets tab: a character model learns to write a text while the person
watches its samples improve, then writes from their prompt one character at a time (with
the probability of each), and shows what single units of its memory follow.

Run alone with `python -m app.tabs.rnn`.
"""
from __future__ import annotations

import time

import numpy as np

from app.tabs.base import FamilyTab
from app.tabs.rnn.views import InsideView, SamplesView, WriteView
from nets.families import rnn
from nets.families.rnn import corpus as corpora
from nets.families.rnn.inside import best_units
from nets.progress import Artifact

ABOUT = """<h3>Recurrent nets: reading and writing one character at a time</h3>
<p>The nets of the other tabs map one input to one output. A <b>recurrent net</b> reads a
sequence, one element at a time, and carries a state from each step to the next: h<sub>t</sub>
= tanh(W x<sub>t</sub> + U h<sub>t&minus;1</sub> + b). The same weights are used at every
step, so it reads sequences of any length, and the state is its memory of what it has read.
Trained by backpropagation through time (the unrolled net is a very deep feed-forward net
with shared weights), its gradient is multiplied by U at every step back, and over many
steps it vanishes or explodes (Bengio, Simard &amp; Frasconi 1994; Pascanu et al. 2013).
</p>
<p><b>LSTMs</b> (Hochreiter &amp; Schmidhuber 1997) answer with a separate memory cell c
and three gates that decide, at each step, how much of the cell to keep (forget gate), how
much new input to write into it (input gate) and how much of it to show (output gate):
c<sub>t</sub> = f<sub>t</sub>&middot;c<sub>t&minus;1</sub> + i<sub>t</sub>&middot;g<sub>t</sub>,
h<sub>t</sub> = o<sub>t</sub>&middot;tanh(c<sub>t</sub>). Where the forget gate stays open
the cell, and its gradient, pass through many steps unchanged. A <b>GRU</b> (Cho et al.
2014) does the same with two gates and no separate cell. The <i>Why gates</i> tab shows
the difference on a task built for it.</p>
<p><b>A character model</b> reads a text and, at every character, gives the probability of
the next one. Its loss is the cross-entropy of the character that really came, in nats
(natural log) or bits (log<sub>2</sub>): the bits per character it would need to compress
the text. A blind guess over an alphabet of 80 characters costs 6.3 bits; a model that
spells words needs about 2.5, a good one about 1.5 on Shakespeare. To write, it draws the
next character from its probabilities, reads it as its next input, and goes on, carrying
its state: it never reads its own text again. The <b>temperature</b> divides the logits
first: below 1 the likely characters get likelier (safe and repetitive), above 1 the
unlikely ones get a chance (inventive and misspelt).</p>
<p>The measure is always taken on text it never trained on: the last 5% of the text. Each
training window starts from an empty memory, so its first characters are guessed with no
context; the figure is a little worse than a model reading the whole text in one go.</p>
<p><b>Look inside.</b> Karpathy, Johnson &amp; Fei-Fei (2015) coloured texts by single cells
of their LSTMs and found some that track whether the text is inside quotes, how deep the
brackets are, or how far along the line it is. The <i>Look inside</i> view does the same
for your model and ranks the units whose activation goes most with such features.</p>
<p><b>Try this:</b> train on Shakespeare and watch the samples: first random letters, then
spaces and short words, then names in capitals followed by a full stop and a speech. Write
at temperature 0.2, 1 and 1.5. Train on <i>latex</i>: after a few minutes it opens and
closes <code>\\begin{lemma}</code>&hellip;<code>\\end{lemma}</code>, writes
<code>$\\mathcal{O}_X$</code> and proofs (the course's own demo of this was trained on the
same book). Train the <i>gru</i> and <i>rnn</i> cells with the same settings and compare
the figures: on this task, in a few minutes, they come out close (measured on two CPU cores
after 5 minutes on Shakespeare: LSTM 1.61, GRU 1.46, plain RNN 1.51 nats per character,
<code>benchmarks/rnn.py</code>). The next character mostly depends on the last few, which a
plain RNN remembers well; where the gates matter is a dependency many steps back, which
the <i>Why gates</i> tab measures.</p>
<p><b>Figures from the literature:</b> the best LSTM of Karpathy et al. reaches 1.077
nats per character on War and Peace (a 20-gram model 1.195); nanoGPT's character-level
Shakespeare reaches 1.88 nats of validation loss after about 3 minutes on a CPU.</p>
<p><b>Papers:</b> Elman 1990, <i>Finding structure in time</i> (Cognitive Science);
Hochreiter &amp; Schmidhuber 1997, <i>Long short-term memory</i> (Neural Computation); Cho
et al. 2014, <i>Learning phrase representations using RNN encoder-decoder for statistical
machine translation</i> (EMNLP); Graves 2013, <i>Generating sequences with recurrent neural
networks</i> (arXiv:1308.0850); Karpathy, Johnson &amp; Fei-Fei 2015, <i>Visualizing and
understanding recurrent networks</i> (arXiv:1506.02078).</p>"""

CHUNK = 12  # characters per background job while writing: small enough to stream
INSIDE_LENGTH = 2000  # characters of held-out text read by "Look inside"


# ---------------------------------------------------------------- background jobs
def writer_for(cache: dict, model, alphabet) -> rnn.Writer:
    """One writer per model, built in the runner's thread (which alone uses the cache)."""
    if cache.get("model") is not model:
        cache["writer"], cache["model"] = rnn.Writer(model, alphabet), model
    return cache["writer"]


def start_writing(cache: dict, model, alphabet, prompt: str, seed: int):
    writer = writer_for(cache, model, alphabet)
    writer.reset()
    writer.read_text(prompt)
    return writer, np.random.default_rng(seed)


def write_more(writer: rnn.Writer, count: int, temperature: float, rng):
    text, chosen = writer.write(count, temperature, rng)
    return text, chosen, rnn.softmax(writer.logits)


def held_out_excerpt(meta: dict) -> str:
    """The start of the held-out text of the corpus a model learnt ("" when it cannot be
    read any more, e.g. a person's file that was moved)."""
    config = meta.get("config", {})
    try:
        text = corpora.load(config.get("corpus", ""), config.get("text_path", ""))
    except (corpora.DataError, OSError):
        return ""
    return text.held_out_text[:INSIDE_LENGTH]


def trace_job(cache: dict, model, alphabet, text: str):
    """The states at every character of `text` and the best-matching units."""
    traced = writer_for(cache, model, alphabet).trace(text)
    return text, traced, best_units(traced, text)


# ---------------------------------------------------------------- the tab
class RNNTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("rnn", parent)
        self.samples = SamplesView()
        self.panel.add_view(self.samples, "Learning to write",
                            "Samples and held-out bits per character, live")
        self.desk = WriteView()
        self.panel.add_view(self.desk, "Write", "Write from your prompt")
        self.inside = InsideView()
        self.panel.add_view(self.inside, "Look inside", "What single units follow")
        self.add_about(ABOUT)
        # writing and reading go through one runner: they share the writer and its state
        self.jobs = self.runner("rnn-writer", self._job_done)
        self._cache: dict = {}  # the writer: used only in the runner's thread
        self.model = self.alphabet = None
        self._writer = self._rng = None
        self._left = 0
        self._session = 0  # results of an older Write are dropped
        self._seed = 0
        self._t0 = 0.0
        self._written = 0
        self._note = ""

        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._use)
        self.desk.write.clicked.connect(self.write)
        self.desk.stop.clicked.connect(self.stop_writing)
        self.inside.read.clicked.connect(self.read_inside)

    # ------------------------------------------------------------ training
    def _on_events(self, batch: list) -> None:
        for event in batch:
            if isinstance(event, Artifact) and event.name == "model":  # a run begins
                self.stop_writing()
                self.model = None  # its weights belong to the training thread now
                self.samples.clear()
                self.desk.status.setText("Training: the model writes again when it ends.")
                self.desk.write.setEnabled(False)
            elif isinstance(event, Artifact) and event.name == "sample":
                self.samples.add(event.value)

    def _on_finished(self, done) -> None:
        if done.result is not None:
            self._use(done.result)
        else:
            self.desk.write.setEnabled(self.model is not None)

    def _use(self, trained) -> None:
        """A trained or loaded model: write with it and look inside it."""
        self.model, self.alphabet = trained.model, trained.extra
        self.desk.write.setEnabled(True)
        if not self.desk.prompt.toPlainText():
            self.desk.prompt.setPlainText(trained.meta.get("prompt", ""))
        kind = trained.meta.get("config", {}).get("cell", "").upper()
        self.desk.status.setText(f"Ready: a {kind} model that knows {len(self.alphabet)} "
                                 "characters. Press Write (Ctrl+Return).")
        excerpt = held_out_excerpt(trained.meta)
        if excerpt:
            self.inside.text.setPlainText(excerpt)
        self.read_inside()

    # ------------------------------------------------------------ writing
    def write(self) -> None:
        if self.model is None or self.panel.is_running():
            self.desk.status.setText("Train a model or open one first (and let training "
                                     "end).")
            return
        prompt, note = rnn.starting_text(self.alphabet, self.desk.prompt.toPlainText())
        self._session += 1
        self._seed += 1
        self._left = self.desk.length.value()
        self._written = 0
        self._t0 = time.monotonic()
        self.desk.begin(prompt)
        self.desk.set_writing(True)
        self.desk.status.setText(" ".join(filter(None, [note, "Reading the prompt …"])))
        self._note = note
        self.jobs.submit(start_writing, self._cache, self.model, self.alphabet, prompt,
                            self._seed, tag=("start", self._session))

    def stop_writing(self) -> None:
        self._left = 0
        self.desk.set_writing(False)

    def _job_done(self, tag, value) -> None:
        what, session = tag
        if what == "trace":
            self.inside.set_trace(*value)
            return
        if session != self._session:
            return
        if what == "start":
            self._writer, self._rng = value
        elif what == "more":
            text, chosen, following = value
            self.desk.append(text, chosen)
            self.desk.candidates.show_distribution(following, self.alphabet.chars)
            self._written += len(text)
            speed = self._written / max(time.monotonic() - self._t0, 1e-6)
            self.desk.status.setText(" ".join(filter(None, [
                self._note, f"{self._written:,} characters, {speed:,.0f} per second."])))
            if text and self.desk.temperature_value() == 0:
                self.desk.status.setText(self.desk.status.text() + " Temperature 0 always "
                                         "takes the likeliest character, so it may loop.")
        if self._left > 0:
            count = min(CHUNK, self._left)
            self._left -= count
            self.jobs.submit(write_more, self._writer, count,
                                self.desk.temperature_value(), self._rng,
                                tag=("more", session))
        else:
            self.desk.set_writing(False)

    # ------------------------------------------------------------ looking inside
    def read_inside(self) -> None:
        if self.model is None or self.panel.is_running():
            self.inside.status.setText("Train a model or open one first (and let training "
                                       "end).")
            return
        text = self.inside.text.toPlainText().replace("↵\n", "\n")[:INSIDE_LENGTH * 2]
        kept, note = rnn.starting_text(self.alphabet, text)
        if len(kept) < 20:
            self.inside.status.setText("Type or paste a longer text (a few lines) to read.")
            return
        self.inside.status.setText(" ".join(filter(None, [
            note, f"Reading {len(kept):,} characters …"])))
        self._session += 1  # the writer's state is about to change: writing stops
        self.stop_writing()
        self.jobs.submit(trace_job, self._cache, self.model, self.alphabet, kept,
                         tag=("trace", self._session))
