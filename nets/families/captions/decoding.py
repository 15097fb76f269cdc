"""Writing captions with a trained captioner, a word at a time: greedy (the likeliest next
word each time) or beam search (the `width` likeliest partial captions kept at each step),
with where the model looked for every word.

The encoder and the one-word step are compiled once per model (`backend.predictor`); the
step takes one packed float row per caption (last word, h, c, grid) so that it compiles
alike on every backend.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets import backend
from nets.families.captions.model import END, START


@dataclass(frozen=True)
class Caption:
    ids: tuple[int, ...]  # the words' ids, without <end>
    # (words, grid_h, grid_w): where it looked for each word and for <end> (len(ids) + 1
    # maps), or for each word only when the caption reached the longest length unended
    alphas: np.ndarray
    log_prob: float  # natural log of the caption's probability, <end> included
    word_probs: tuple[float, ...]  # the probability of each word (and <end>) as chosen


class Decoder:
    def __init__(self, model, max_words: int):
        import keras
        from keras import ops

        self.max_words = int(max_words)
        self.grid = tuple(model.grid)
        units = self.units = int(model.cell.state_size[0])
        self.width = int(model.cell.state_size[2])
        class Part(keras.Model):
            """A view of the captioner (its weights tracked, so JAX can call it
            statelessly)."""

            def __init__(self):
                super().__init__()
                self.captioner = model
                self.built = True

        class Encode(Part):
            def call(self, images, training=False):
                return ops.concatenate(list(self.captioner.start(images)), -1)

        class Step(Part):
            def call(self, packed, training=False):
                token = ops.cast(packed[:, 0], "int32")
                state = (packed[:, 1:1 + units], packed[:, 1 + units:1 + 2 * units],
                         packed[:, 1 + 2 * units:])
                logits, (h, c, _), alpha = self.captioner.step(state, token)
                return [ops.log_softmax(logits, -1), h, c, alpha]

        self._encode = backend.predictor(Encode())
        self._step = backend.predictor(Step())

    def _start(self, images):
        packed = np.asarray(self._encode(np.asarray(images, np.float32)), np.float32)
        u = self.units
        return packed[:, 2 * u:], packed[:, :u], packed[:, u:2 * u]

    def _advance(self, feats, tokens, h, c):
        row = np.concatenate([np.asarray(tokens, np.float32)[:, None], h, c, feats], 1)
        log_p, h, c, alpha = self._step(row.astype(np.float32))
        return np.asarray(log_p, np.float64), h, c, alpha.reshape(-1, *self.grid)

    def greedy(self, images) -> list[Caption]:
        """The likeliest word at each step, for a batch of images at once."""
        feats, h, c = self._start(images)
        n = len(feats)
        tokens = np.full(n, START)
        ids, alphas, probs = [[] for _ in range(n)], [[] for _ in range(n)], \
            [[] for _ in range(n)]
        done = np.zeros(n, bool)
        for _ in range(self.max_words + 1):
            log_p, h, c, alpha = self._advance(feats, tokens, h, c)
            tokens = log_p.argmax(-1)
            for i in np.flatnonzero(~done):
                alphas[i].append(alpha[i])
                probs[i].append(float(np.exp(log_p[i, tokens[i]])))
                if tokens[i] == END:
                    done[i] = True
                else:
                    ids[i].append(int(tokens[i]))
            if done.all():
                break
        return [Caption(tuple(ids[i]), np.stack(alphas[i]), float(np.log(probs[i]).sum()),
                        tuple(probs[i])) for i in range(n)]

    def beam(self, image, width: int = 3) -> Caption:
        """Beam search for one image: keeps the `width` likeliest partial captions (by
        the sum of their words' log-probabilities) and returns the likeliest finished one.
        With width 1 it is greedy decoding."""
        feats, h, c = self._start(np.asarray(image, np.float32)[None])
        beams = [((), [], [], 0.0, h[0], c[0])]  # ids, alphas, probs, log p, h, c
        finished = []
        for _ in range(self.max_words + 1):
            k = len(beams)
            log_p, h, c, alpha = self._advance(
                np.repeat(feats, k, 0), [b[0][-1] if b[0] else START for b in beams],
                np.stack([b[4] for b in beams]), np.stack([b[5] for b in beams]))
            total = np.array([b[3] for b in beams])[:, None] + log_p
            order = np.argsort(-total, axis=None, kind="stable")[:width]
            grown = []
            for flat in order:
                i, word = divmod(int(flat), log_p.shape[1])
                ids, al, pr, _, _, _ = beams[i]
                new = (ids + (word,) if word != END else ids, al + [alpha[i]],
                       pr + [float(np.exp(log_p[i, word]))], float(total[i, word]), h[i], c[i])
                (finished if word == END else grown).append(new)
            beams = grown[:max(width - len(finished), 0)] if finished else grown
            if not beams or (finished and max(f[3] for f in finished) >= beams[0][3]):
                break
        best = max(finished or beams, key=lambda b: b[3])
        return Caption(tuple(best[0]), np.stack(best[1]), best[3], tuple(best[2]))

