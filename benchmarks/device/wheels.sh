#!/usr/bin/env bash
# Run here, once, from the repository root: fetches the wheels the GPU machine lacks
# (Python 3.12 there; about 6.2 MB) into .whl/, which .gitignore leaves out and the device tool
# carries (`carry: [".whl"]`). The machine has the rest: JAX and PyTorch with CUDA,
# numpy, Pillow, scikit-learn, h5py, rich, absl-py, ml-dtypes, cloudpickle.
set -euo pipefail
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    keras==3.15.1 namex==0.1.0 optree==0.20.0 gymnasium==1.4.0 \
    farama-notifications==0.0.4 ale-py==0.12.1
ls -la .whl
