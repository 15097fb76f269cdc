"""The character model on the CPU: held-out nats (and bits) per character after 1, 3 and 5
minutes of training for each cell type with the tab's defaults, how fast it writes
(characters per second, one at a time, streamed as the tab does), and a sample.

    .venv/bin/python benchmarks/rnn.py                       # Shakespeare, all three cells
    .venv/bin/python benchmarks/rnn.py --corpus latex --cells lstm --minutes 5

The held-out figure is on the whole held-out tail of the text (5%, never trained on), in
windows of the training length; the clock stops while it is measured.
"""
from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np


def run(corpus_key: str, cell: str, marks: list[float], seed: int) -> dict:
    import keras

    from nets import backend
    from nets.families import rnn
    from nets.families.rnn import corpus as corpora
    from nets.families.rnn.corpus import Alphabet
    from nets.runner import seed_everything

    config = rnn.Config(corpus=corpus_key, cell=cell)
    seed_everything(seed)
    text = corpora.load(corpus_key)
    alphabet = Alphabet.of(text.text)
    x, y = rnn.windows(alphabet.encode(text.train_text), config.sequence_length)
    xv, yv = rnn.windows(alphabet.encode(text.held_out_text), config.sequence_length)
    model = rnn.build_model(config, len(alphabet))
    predict = backend.predictor(model)
    found: dict[float, float] = {}

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.spent, self.t = 0.0, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.spent += time.perf_counter() - self.t
            due = [m for m in marks if m not in found and self.spent >= m * 60]
            for m in due:
                found[m] = rnn.held_out_bits(predict, xv, yv)
            if len(found) == len(marks):
                self.model.stop_training = True
            self.t = time.perf_counter()

    model.fit(x, y, batch_size=config.batch_size, epochs=1000, verbose=0,
              callbacks=[Clock()])
    writer = rnn.Writer(model, alphabet)
    writer.read_text(text.prompt)
    t = time.perf_counter()
    sample, _ = writer.write(2000, rnn.SAMPLE_TEMPERATURE, np.random.default_rng(seed))
    speed = 2000 / (time.perf_counter() - t)
    ln2 = np.log(2.0)
    row = {"text": corpus_key, "cell": cell}
    for m in marks:
        row[f"after {m:g} min: nats/char (bits)"] = f"{found[m] * ln2:.3f} ({found[m]:.3f})"
    row["writing, characters/s"] = f"{speed:,.0f}"
    return row | {"_sample": text.prompt + sample[:600]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="shakespeare")
    parser.add_argument("--cells", default="lstm,gru,rnn")
    parser.add_argument("--minutes", default="1,3,5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    marks = [float(m) for m in args.minutes.split(",")]
    tables = common.Tables()
    rows, samples = [], []
    for cell in args.cells.split(","):
        row = run(args.corpus, cell.strip(), marks, args.seed)
        samples.append({"cell": row["cell"],
                        "sample (temperature 0.8)": "<pre>" + row.pop("_sample").replace(
                            "|", "\\|").replace("\n", "<br>") + "</pre>"})
        rows.append(row)
        tables.add(f"Held-out nats per character on {args.corpus} (defaults, 2 CPU cores)",
                   rows)
    tables.add("Samples after the run", samples)
    if args.out:
        tables.write(args.out, f"rnn-{args.corpus}")


if __name__ == "__main__":
    main()
