"""The captioner of Show, Attend and Tell (Xu et al. 2015), small: a CNN turns the image
into a grid of feature vectors a_i; an LSTM writes the caption a word at a time, and before
each word it looks at the grid through soft attention: weights alpha_ti (a softmax over
the grid, from the features and the LSTM's last state) give the context z_t =
beta_t * sum_i alpha_ti a_i that it reads with the last word.

Training feeds the true previous word (teacher forcing) and minimises the cross-entropy of
the next one; optionally plus the paper's "doubly stochastic" penalty
lambda * mean_i (1 - sum_t alpha_ti)^2, which asks every place of the grid to be looked at
about once over the caption. `Decoder` (decoding.py) runs the same layers a word at a time.
"""
from __future__ import annotations

import numpy as np

PAD, START, END, UNK = 0, 1, 2, 3
SPECIAL = ("<pad>", "<start>", "<end>", "<unk>")
POOLS = 3  # the encoder halves the image this many times: 64 x 64 -> an 8 x 8 grid


class Vocabulary:
    """Words <-> ids; the first four ids are SPECIAL."""

    def __init__(self, words):
        self.words = tuple(SPECIAL) + tuple(w for w in words if w not in SPECIAL)
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def unknown(self, words) -> list[str]:
        return sorted({w for w in words if w not in self.index})

    def encode(self, captions, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Teacher forcing's pairs for word lists: the input (<start> w1 .. wn, padded)
        and the target (w1 .. wn <end>, padded), each (count, length); a caption longer
        than length - 1 words is cut."""
        x = np.full((len(captions), length), PAD, np.int32)
        y = np.full((len(captions), length), PAD, np.int32)
        for row, words in enumerate(captions):
            ids = [self.index.get(w, UNK) for w in words][:length - 1]
            x[row, :len(ids) + 1] = [START, *ids]
            y[row, :len(ids) + 1] = [*ids, END]
        return x, y

    def decode(self, ids) -> list[str]:
        """The words of ids up to (not including) the first <end>."""
        out = []
        for i in ids:
            if int(i) == END:
                break
            if int(i) != PAD:
                out.append(self.words[int(i)])
        return out


def caption_loss(y_true, y_pred):
    """Cross-entropy of each next word (nats), averaged over the words, not the padding."""
    import keras
    from keras import ops

    mask = ops.cast(ops.not_equal(ops.cast(y_true, "int32"), PAD), "float32")
    ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return ops.sum(ce * mask) / ops.maximum(ops.sum(mask), 1.0)


def word_accuracy(y_true, y_pred):
    """The share of next words (not padding) the model ranks first."""
    from keras import ops

    truth = ops.cast(y_true, "int32")
    mask = ops.cast(ops.not_equal(truth, PAD), "float32")
    hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, -1), "int32"), truth), "float32")
    return ops.sum(hit * mask) / ops.maximum(ops.sum(mask), 1.0)


def build_model(config, vocab_size: int, image_shape, max_words: int,
                decay_steps: int = 0):
    """The captioner, built (its weights exist) and compiled. With `decay_steps`, the
    learning rate falls along a cosine to a tenth of itself over that many steps (then
    stays there): on these scenes it took exact match from about 80% to about 90% in the
    same ten minutes."""
    import keras

    model = make_captioner(config, vocab_size, image_shape)
    h, w, c = image_shape
    model((np.zeros((1, h, w, c), np.float32), np.zeros((1, max_words + 1), np.int32)))
    rate = config.learning_rate
    if decay_steps > 0:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps, alpha=0.1)
    model.compile(keras.optimizers.Adam(rate, clipnorm=config.clip_norm),
                  caption_loss, metrics=[
                      keras.metrics.MeanMetricWrapper(caption_loss, name="nats_per_word"),
                      keras.metrics.MeanMetricWrapper(word_accuracy, name="word_accuracy")])
    return model


def make_captioner(config, vocab_size: int, image_shape):
    import keras
    from keras import layers, ops

    rows, cols = (int(v) >> POOLS for v in image_shape[:2])
    places, channels = rows * cols, 4 * config.filters + 2  # + the place's x and y

    class AttentionCell(layers.Layer):
        """One word of the decoder: attend over the grid with the last state, then step
        the LSTM on [the last word's vector, the context]. The grid rides along in the
        state, unchanged, so that Keras' RNN loops over the words in one compiled loop
        (a Python loop of words took TensorFlow 20 s to compile)."""

        def __init__(self):
            super().__init__(name="attention_lstm")
            self.state_size = [config.units, config.units, places * channels]
            self.output_size = config.units + channels + places
            self.att_features = layers.Dense(config.attention, use_bias=False,
                                             name="att_features")
            self.att_state = layers.Dense(config.attention, name="att_state")
            self.att_score = layers.Dense(1, name="att_score")
            self.gate = layers.Dense(1, activation="sigmoid", name="beta")
            self.lstm = layers.LSTMCell(config.units, name="lstm")

        def build(self, input_shape):
            self.att_features.build((None, places, channels))
            self.att_state.build((None, config.units))
            self.att_score.build((None, places, config.attention))
            self.gate.build((None, config.units))
            self.lstm.build((None, input_shape[-1] + channels))
            self.built = True

        def call(self, word, states, training=False):
            h, c, flat = states
            feats = ops.reshape(flat, (-1, places, channels))
            scores = self.att_score(ops.tanh(self.att_features(feats)
                                             + ops.expand_dims(self.att_state(h), 1)))
            alpha = ops.softmax(ops.squeeze(scores, -1), axis=-1)
            context = ops.sum(ops.expand_dims(alpha, -1) * feats, axis=1) * self.gate(h)
            out, (h, c) = self.lstm(ops.concatenate([word, context], -1), (h, c),
                                    training=training)
            return ops.concatenate([out, context, alpha], -1), [h, c, flat]

    class Captioner(keras.Model):
        def __init__(self):
            super().__init__(name="captioner")
            self.image_shape = tuple(int(v) for v in image_shape)
            self.grid = (rows, cols)
            f = config.filters
            self.encoder = keras.Sequential(
                [layer for width in (f, 2 * f, 4 * f) for layer in (
                    layers.Conv2D(width, 3, padding="same", use_bias=False),
                    # momentum 0.9: the running statistics that captioning uses must
                    # catch up within the first hundred steps, not the first thousand
                    layers.BatchNormalization(momentum=0.9), layers.ReLU(),
                    layers.MaxPooling2D())], name="encoder")
            self.embed = layers.Embedding(vocab_size, config.embedding, name="embed")
            self.init_h = layers.Dense(config.units, activation="tanh", name="init_h")
            self.init_c = layers.Dense(config.units, activation="tanh", name="init_c")
            self.cell = AttentionCell()
            self.decoder = layers.RNN(self.cell, return_sequences=True, name="decoder")
            self.drop = layers.Dropout(config.dropout)
            self.out_state = layers.Dense(config.embedding, name="out_state")
            self.out_context = layers.Dense(config.embedding, use_bias=False,
                                            name="out_context")
            self.out_words = layers.Dense(vocab_size, name="words")
            self.penalty = float(config.doubly_stochastic)
            ys, xs = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols),
                                 indexing="ij")
            self.where = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)

        def start(self, images, training=False):
            """images -> the decoder's first state: h, c and the grid (batch, places *
            channels), each place's features with its x and y in -1..1 (the features
            alone do not say where they are, and the caption names objects in order)."""
            grid = self.encoder(images, training=training)
            feats = ops.reshape(grid, (ops.shape(grid)[0], places, channels - 2))
            where = ops.broadcast_to(self.where, (ops.shape(feats)[0], places, 2))
            feats = ops.concatenate([feats, ops.cast(where, feats.dtype)], -1)
            mean = ops.mean(feats, axis=1)
            return self.init_h(mean), self.init_c(mean), ops.reshape(feats, (-1, places *
                                                                             channels))

        def words(self, word_vectors, outputs, training=False):
            """The logits of the next words from the decoder's outputs, and where it
            looked (alpha, (..., places)): the paper's deep output layer."""
            out = outputs[..., :config.units]
            context = outputs[..., config.units:config.units + channels]
            logits = self.out_words(word_vectors + self.out_state(self.drop(
                out, training=training)) + self.out_context(context))
            return logits, outputs[..., config.units + channels:]

        def step(self, state, token):
            """One word at a time, for decoding: logits, the new state, alpha."""
            word = self.embed(token)
            outputs, state = self.cell(word, list(state))
            logits, alpha = self.words(word, outputs)
            return logits, state, alpha

        def call(self, inputs, training=False):
            images, tokens = inputs
            h, c, flat = self.start(images, training)
            word_vectors = self.embed(tokens)
            outputs = self.decoder(word_vectors, initial_state=[h, c, flat],
                                   training=training)
            logits, alphas = self.words(word_vectors, outputs, training)
            if self.penalty > 0:
                # words actually said (the input is <start> w1 .. wn, then padding);
                # averaged over the places, not summed as in the paper: the same minimum,
                # and a lambda near 1 then weighs about as much as the words' loss
                said = ops.cast(ops.not_equal(tokens, PAD), alphas.dtype)
                looked = ops.sum(alphas * ops.expand_dims(said, -1), axis=1)
                self.add_loss(self.penalty * ops.mean((1.0 - looked) ** 2))
            return logits

    return Captioner()
