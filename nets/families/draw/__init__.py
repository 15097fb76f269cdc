"""DRAW, a variational autoencoder with LSTMs that draws (Gregor, Danihelka, Graves, Rezende
& Wierstra 2015, "DRAW: A Recurrent Neural Network For Image Generation").

Instead of decoding an image in one go, a decoder LSTM adds to a canvas over T steps, each
step from its own latent sample; an encoder LSTM sees the image and what the canvas still
gets wrong. With attention, each step reads an N x N glimpse through a grid of Gaussian
filters and writes an N x N patch through another, whose place, zoom and sharpness the
network chooses; without, it reads the whole image and writes the whole canvas. The loss is
minus the ELBO: reconstruction plus the KL of every step's sample (Kingma & Welling 2014).

The package: attention.py (the filterbanks, read and write), model.py (the Keras model,
its losses and the unrolled steps), playback.py (steps as numpy arrays for the views);
here, the settings, training, loading and the family's declaration.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nets import storage
from nets.config import batch_size_param, epochs_param, learning_rate_param, param
from nets.errors import DataError
from nets.families.draw.model import build_model, kl_divergence, reconstruction_loss
from nets.families.draw.playback import (PIXELS, Drawing, draw_images, draw_samples,
                                         elbo_terms, pixels_of)
from nets.progress import Artifact
from nets.registry import Family

__all__ = ["Config", "FAMILY", "build_model", "kl_divergence", "reconstruction_loss",
           "Drawing", "draw_images", "draw_samples", "elbo_terms", "pixels_of", "PIXELS",
           "train", "load"]

VIEW_DIGITS = 16  # held-out digits the views follow while it trains
VIEW_SAMPLES = 36


@dataclass
class Config:
    attention: bool = param(True, "Attention", "Read and write through a small moving grid "
                            "of Gaussian filters (the window drawn on the canvas), rather "
                            "than reading the whole image and writing the whole canvas at "
                            "every step.")
    steps: int = param(10, "Steps T", "How many times the decoder adds to the canvas; each "
                       "step has its own latent sample.", minimum=1, maximum=64)
    read_size: int = param(2, "Read grid N", "Attention: the glimpse is N x N filters (the "
                           "paper read 2 x 2 on MNIST).", minimum=2, maximum=12,
                           when=("attention", (True,)))
    write_size: int = param(5, "Write grid N", "Attention: each step paints an N x N patch "
                            "(the paper wrote 5 x 5 on MNIST).", minimum=2, maximum=12,
                            when=("attention", (True,)))
    units: int = param(128, "LSTM units", "Size of the encoder's and of the decoder's "
                       "state (the paper used 256).", minimum=8, maximum=1024)
    latent_dim: int = param(10, "Latent size per step", "Dimensions of each step's sample "
                            "z_t (the paper used 100 over 64 steps).", minimum=1,
                            maximum=200)
    pixels: str = param("binarised", "Pixels", "binarised: each pixel 0 or 1 (at 0.5), so "
                        "the loss is a likelihood in nats as in the paper. grey: the grey "
                        "values as probabilities, as the VAE tab does.", choices=PIXELS)
    learning_rate: float = learning_rate_param(0.003)
    clip_norm: float = param(10.0, "Gradient clip", "Adam's steps use the gradient scaled "
                             "down to at most this length: a long chain of LSTM steps can "
                             "give rare huge gradients.", minimum=0.01, maximum=1000.0,
                             decimals=2)
    batch_size: int = batch_size_param(32)
    epochs: int = epochs_param(30)


def check_images(ds) -> None:
    if ds.input_shape[-1] != 1:
        raise DataError(f"DRAW draws greyscale images; {ds.description} has "
                        f"{ds.input_shape[-1]} colour channels. Choose digits or clothes.")


def headline(history: list[dict]) -> str:
    last = history[-1] if history else {}
    if "val_loss" not in last:
        return ""
    return (f"Held-out -ELBO {last['val_loss']:.1f} nats per image (reconstruction "
            f"{last['val_reconstruction']:.1f} + KL {last['val_kl']:.1f})")


def train(request, reporter):
    from nets.runner import config_meta, fit_keras, prepare

    prep = prepare(request, reporter, Config)
    request = prep.request  # a resumed run's settings; the caller's request is unchanged
    config, ds = prep.config, prep.dataset
    check_images(ds)
    x = pixels_of(ds.x_train, config.pixels)
    x_val = pixels_of(ds.x_val, config.pixels)
    model = build_model(config, ds.input_shape)
    model.start_canvas_at(x)
    prep.loop.restore(model)  # when resuming: the autosave's weights, c_0 with them
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description)
    probe = x_val[:VIEW_DIGITS]

    def views(m):
        return [Artifact("drawings", (draw_images(m, probe), draw_samples(m, VIEW_SAMPLES,
                                                                         seed=0)))]

    how = "with attention" if config.attention else "without attention"
    done = fit_keras(model, family_key="draw", meta=meta, x=x, y=x,
                     validation=(x_val, x_val) if len(x_val) else None,
                     epochs=config.epochs, batch_size=config.batch_size, reporter=reporter,
                     initial_epoch=prep.initial_epoch, history=prep.history, images=views,
                     images_every_s=3.0, autosave=request.autosave,
                     description=f"Training DRAW ({config.steps} steps, {how}) on "
                                 f"{config.pixels} {ds.description}.")
    if done.result is not None:
        done = dataclasses.replace(done, headline=headline(done.result.history))
    return done


def load(path):
    """A saved DRAW model, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "draw", Config, "a DRAW model")
    model = build_model(config, shape)
    storage.load_weights(model, path)
    return TrainedModel(model, "draw", meta, list(meta.get("history", [])))


FAMILY = Family(key="draw", title="DRAW: a VAE that draws",
                summary="A VAE with LSTMs that draws digits stroke by stroke on a canvas, "
                        "looking through a moving attention window.",
                config=Config, train=train, load=load,
                datasets=("mnist-5k", "mnist", "mnist-full", "fashion-mnist"))
