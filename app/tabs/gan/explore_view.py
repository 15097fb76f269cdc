"""The GAN tab's Explore view: one sample moved along latent directions with sliders, the
training image nearest to it, and the way between two samples. The computing runs in the
tab's background runners (the jobs below); the view only shows results."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QSlider, QVBoxLayout, QWidget)

from app.widgets.images import ImageGrid
from nets.families.gan import explore

DIRECTIONS = 5
SLIDER_RANGE = 300  # a slider's ends are +-3 (hundredths): 3 standard deviations


# ---------------------------------------------------------------- background jobs
def sampler_for(cache: dict, gan) -> explore.Sampler:
    """One compiled sampler per model, built in the thread that first needs it."""
    s = cache.get("sampler")
    if s is None or s.gan is not gan:
        s = cache["sampler"] = explore.Sampler(gan)
        cache.pop("directions", None)
    return s


def render_job(cache: dict, gan, z: np.ndarray, label: int, training) -> tuple:
    """The image of z, and the nearest training image with its distance."""
    image = sampler_for(cache, gan).images(z[None], [label])[0]
    if training is None or not len(training):
        return image, None, None
    idx, dist = explore.nearest(image, training, k=1)
    near = np.asarray(training[idx[0]], np.float32)
    return image, (near[..., 0] if near.shape[-1] == 1 else near), float(dist[0])


def directions_job(cache: dict, gan, label: int) -> np.ndarray:
    sampler = sampler_for(cache, gan)
    return explore.principal_directions(sampler, DIRECTIONS, n=800,
                                        labels=[label] if gan.conditional else None)


def interpolate_job(cache: dict, gan, a, b, label_a: int, label_b: int) -> np.ndarray:
    zs = explore.interpolate(a, b, steps=10)
    labels = [label_a] * 5 + [label_b] * 5  # a conditional GAN switches class halfway
    return sampler_for(cache, gan).images(zs, labels)


def typical_job(training) -> float:
    return explore.typical_distance(training, n=100)


# ---------------------------------------------------------------- the view
class ExploreView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        top = QHBoxLayout()
        self.sample = ImageGrid(note="<b>This sample</b>")
        self.sample.setMinimumSize(170, 190)
        self.sample.setToolTip("G(z) for the noise z below: a sample clicked in Samples, a "
                               "new one, or one moved along the sliders.")
        top.addWidget(self.sample, 1)
        self.near = ImageGrid(note="<b>Nearest training image</b>")
        self.near.setMinimumSize(170, 190)
        self.near.setToolTip("The training image closest to this sample, pixel by pixel. "
                             "If samples sit much closer to training images than training "
                             "images sit to each other, the generator is copying, not "
                             "drawing new digits.")
        top.addWidget(self.near, 1)
        side = QVBoxLayout()
        self.new_sample = QPushButton("New sample")
        self.new_sample.setShortcut("N")
        self.new_sample.setToolTip("A new noise vector z from N(0, I) (key N)")
        side.addWidget(self.new_sample)
        self.label_box = QComboBox()
        self.label_box.setToolTip("A conditional GAN draws the class you ask for")
        self.label_box.setEnabled(False)
        side.addWidget(self.label_box)
        self.set_a = QPushButton("Start of the way (A)")
        self.set_a.setToolTip("Make this sample one end of the interpolation below")
        self.set_b = QPushButton("End of the way (B)")
        self.set_b.setToolTip("Make this sample the other end of the interpolation")
        side.addWidget(self.set_a)
        side.addWidget(self.set_b)
        side.addStretch(1)
        top.addLayout(side)
        v.addLayout(top, 2)
        self.distance = QLabel("Train or load a GAN, then click a sample in Samples or "
                               "press New sample.")
        self.distance.setObjectName("nearest_distance")
        self.distance.setWordWrap(True)
        v.addWidget(self.distance)

        box = QGroupBox("Directions in z that change the image most")
        box.setToolTip("Principal directions (after GANSpace, Härkönen et al. 2020): the "
                       "directions in the noise along which 800 generated images vary "
                       "most. Move a slider to walk the sample along one.")
        grid = QGridLayout(box)
        self.sliders: list[QSlider] = []
        for i in range(DIRECTIONS):
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(-SLIDER_RANGE, SLIDER_RANGE)
            s.setObjectName(f"direction{i + 1}")
            grid.addWidget(QLabel(f"direction {i + 1}"), i, 0)
            grid.addWidget(s, i, 1)
            self.sliders.append(s)
        self.reset = QPushButton("Centre the sliders")
        grid.addWidget(self.reset, DIRECTIONS, 1, alignment=Qt.AlignmentFlag.AlignLeft)
        v.addWidget(box, 1)

        self.strip = ImageGrid(note="<b>From A to B</b>: 10 points on the great circle "
                                    "between their noise vectors. Smooth changes mean "
                                    "the generator learnt a continuous space, not a list "
                                    "of digits.")
        self.strip.setMinimumHeight(110)
        v.addWidget(self.strip, 1)

    def offsets(self) -> np.ndarray:
        return np.array([s.value() / 100 for s in self.sliders], np.float32)

    def centre(self) -> None:
        for s in self.sliders:
            s.blockSignals(True)
            s.setValue(0)
            s.blockSignals(False)

    def set_classes(self, names, conditional: bool) -> None:
        current = [self.label_box.itemText(i) for i in range(self.label_box.count())]
        if current != [str(n) for n in names]:
            self.label_box.blockSignals(True)
            self.label_box.clear()
            self.label_box.addItems([str(n) for n in names])
            self.label_box.blockSignals(False)
        self.label_box.setEnabled(conditional)

    def show_render(self, image, near, distance, typical) -> None:
        self.sample.set_images(np.asarray(image)[None])
        if near is None:
            self.near.set_images(np.zeros((0,)))
            self.distance.setText("The nearest training image appears once the training "
                                  "images are loaded.")
            return
        self.near.set_images(np.asarray(near)[None])
        compare = (f"; two training images typically lie {typical:.3f} apart"
                   if typical is not None and np.isfinite(typical) else "")
        verdict = ""
        if typical is not None and np.isfinite(typical) and distance < 0.5 * typical:
            verdict = " Much closer than that: this sample looks copied."
        self.distance.setText(f"Distance to the nearest training image: {distance:.3f} "
                              f"(root mean square over pixels{compare}).{verdict}")
