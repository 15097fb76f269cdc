"""The science of Deep Learning Explorer: models, data, training. Never imports Qt."""
import os

# Keras reads its backend once, at import; a user's ~/.keras/keras.json must not switch it.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out
