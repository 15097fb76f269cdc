"""`python -m app.tabs.gan`: the GAN tab alone, for quick work on it."""
from app.main_window import run_standalone
from app.tabs.gan import GANTab

run_standalone(GANTab)
