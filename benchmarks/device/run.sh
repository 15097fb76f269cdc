#!/usr/bin/env bash
# The GPU checks of issue 20, run on the lent GPU machine by the device tool from the
# repository root (README.md beside this file says how, and what to do with the results):
#
#   bash benchmarks/device/run.sh pong MINUTES   # the Pong agent: main.py train on JAX
#   bash benchmarks/device/run.sh bench SECONDS  # every family on JAX and PyTorch GPU
#
# Everything that must come back goes to $OUT (at most 8 files of 16 MB): a run cut short
# still returns its log and what it had saved. Here, for a dry run on the CPU:
#   OUT=/tmp/out PY=.venv/bin/python ENVS=2 bash benchmarks/device/run.sh pong 0.5
set -uo pipefail
PY=${PY:-python3}
OUT=${OUT:?OUT must name the folder that comes back}
if [ -d .whl ]; then  # the packages the machine lacks (benchmarks/device/wheels.sh)
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1 DLE_HOME=${DLE_HOME:-/tmp/dle-home} KERAS_BACKEND=jax  # no TensorFlow there
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) \
    > "$OUT/machine.txt" 2>&1
nproc >> "$OUT/machine.txt"

case "${1:-}" in
pong)
    # The schedule is laid out over 2M agent steps (epsilon to 0.01 over the first 200k);
    # the time limit ends the run sooner, keeping the agent as Stop does (its autosave
    # and --save). A second run resumes from the first one's autosave when it is put back
    # in .resume/ under its own name (epoch-<step>.keras).
    args=(--backend jax train dqn --game Pong --envs "${ENVS:-16}" --total-steps 2000000
          --learning-starts 20000 --replay-capacity 200000 --autosave-every 100000
          --minutes "${2:-7.5}" --save /tmp/pong.keras)
    if ls .resume/epoch-*.keras >/dev/null 2>&1; then  # the autosave a first run returned
        mkdir -p "$DLE_HOME/autosave/dqn/Pong"
        cp .resume/epoch-*.keras "$DLE_HOME/autosave/dqn/Pong/"
        args+=(--resume)
    fi
    echo "python main.py ${args[*]}" > "$OUT/pong-command.txt"
    start=$(date +%s)
    $PY main.py "${args[@]}" 2>&1 | grep -v -e '^A.L.E' -e 'Powered by Stella' \
        > "$OUT/pong.log"
    echo "wall seconds: $(( $(date +%s) - start ))" >> "$OUT/pong-command.txt"
    tail -5 "$OUT/pong.log"
    if [ -f /tmp/pong.keras ]; then  # the weights alone (about 7 MB), to score and ship
        $PY -c "import sys; from nets.families import dqn
dqn.load(sys.argv[1]).save(sys.argv[2])" /tmp/pong.keras "$OUT/pong-weights.keras"
    fi
    # the newest autosave, with the optimiser's state (about 20 MB), in two parts: a
    # second run resumes from it (README.md)
    last=$(ls -t "$DLE_HOME"/autosave/dqn/Pong/*.keras 2>/dev/null | head -1)
    [ -n "$last" ] && split -b 15M "$last" "$OUT/$(basename "$last" .keras).part-"
    ;;
bench)
    $PY benchmarks/gpu.py --backends jax,torch --budget "${2:-180}" \
        --out "$OUT/gpu.json" 2>&1 | tail -60 > "$OUT/bench.log"
    cat "$OUT/bench.log"
    ;;
*)
    echo "usage: run.sh pong MINUTES | bench SECONDS" >&2
    exit 2
    ;;
esac
