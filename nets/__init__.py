"""The science of Deep Learning Explorer: models, data, training. Never imports Qt."""
import os

from nets.backend import first_installed

# Keras reads its backend once, at import; a user's ~/.keras/keras.json must not switch it.
# The entry points choose it first (nets.backend.choose); this is the default otherwise.
os.environ.setdefault("KERAS_BACKEND", first_installed())
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out
