"""The 2-D GAN game's figures: steps per second alone and with every layer drawn in the view
(redraws per second, GUI event-loop lag), steps and seconds for the default settings to
cover all 8 modes of the default mixture, and what each preset does, over 3 seeds.

    .venv/bin/python benchmarks/gan_plane.py [--seeds 3] [--gui-seconds 10] [--quick]

Prints markdown tables and writes them to benchmarks/results/gan_plane.md (and .json).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

from common import RESULTS, LagProbe, Tables


def stepping(seconds: float) -> dict:
    from nets.families.gan import plane

    g = plane.Game(plane.Settings())
    g.epoch()
    g.snapshot()  # compile everything first
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        g.epoch()
        n += 1
    rate = n / (time.perf_counter() - t0)
    shots = []
    for _ in range(20):
        t = time.perf_counter()
        g.snapshot()
        shots.append(1000 * (time.perf_counter() - t))
    return {"epochs (1 D + 1 G step) per second, no GUI": f"{rate:.0f}",
            "snapshot (heat map 64x64, 512 fakes + arrows, warped grid, scores) ms, median":
                f"{statistics.median(shots):.1f}"}


def gui_run(seconds: float) -> dict:
    from app.main_window import make_application
    from app.tabs.gan.plane import PlaneGameView
    from app.worker import LatestOnly
    from nets import backend

    qapp = make_application([])
    backend.start()
    runners = []

    def make_runner(name, on_result):
        r = LatestOnly(name)
        r.result.connect(on_result)
        runners.append(r)
        return r

    view = PlaneGameView(make_runner)
    view.resize(1400, 860)
    view.show()
    t_end = time.perf_counter() + 60
    while view.snapshots < 1 and time.perf_counter() < t_end:
        qapp.processEvents()
        time.sleep(0.005)
    view.epoch()  # compiles the steps, so the lag measured is the running game's
    t_end = time.perf_counter() + 60
    while view.snapshots < 2 and time.perf_counter() < t_end:
        qapp.processEvents()
        time.sleep(0.005)
    idle = LagProbe(settle_s=0.5)  # the machine's own share: the view shown, not running
    idle.start()
    t_end = time.perf_counter() + 3.0
    while time.perf_counter() < t_end:
        qapp.processEvents()
        time.sleep(0.001)
    idle.stop()
    stamps = []
    original = view.plane.update_layers

    def counted(snap):
        original(snap)
        stamps.append((time.perf_counter(), snap["g_steps"]))

    view.plane.update_layers = counted
    probe = LagProbe(settle_s=1.0)
    probe.start()
    view.toggle_run()
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        qapp.processEvents()
        time.sleep(0.001)
    probe.stop()
    view.toggle_run()
    while runners[0].is_busy():
        qapp.processEvents()
        time.sleep(0.01)
    view.shutdown()
    runners[0].shutdown()
    later = [s for s in stamps if s[0] - stamps[0][0] > 1.0] if stamps else []
    span = later[-1][0] - later[0][0] if len(later) > 2 else 0.0
    return {"redraws per second, every layer on (target >= 20)":
                f"{(len(later) - 1) / span:.1f}" if span else "—",
            "generator steps per second while drawn":
                f"{(later[-1][1] - later[0][1]) / span:.0f}" if span else "—",
            "event-loop lag p50 ms": f"{probe.ms(50):.1f}",
            "event-loop lag p99 ms (target <= 50)": f"{probe.ms(99):.1f}",
            "lag p99 ms with the view idle (the machine's share)": f"{idle.ms(99):.1f}",
            "seconds measured": f"{seconds:.0f}"}


def coverage_runs(seeds: int, max_epochs: int, every: int = 25) -> list[dict]:
    from nets.families.gan import plane

    rows = []
    for seed in range(seeds):
        g = plane.Game(plane.Settings(seed=seed))
        g.epoch()  # compiles; counted as a step, not in the seconds
        spent, reached, kept = 0.0, None, []
        while g.g_steps_done < max_epochs:
            t = time.perf_counter()
            for _ in range(every):
                g.epoch()
            spent += time.perf_counter() - t
            modes = g.fit.measure(g.fakes(), g.real_shown)["modes"]
            if reached is None and modes == 8:
                reached = (g.g_steps_done, spent)
            if reached is not None:
                kept.append(modes)
                if len(kept) >= 20:
                    break
        rows.append({"seed": seed,
                     "generator steps to cover all 8 modes": reached[0] if reached else
                     f"not in {max_epochs}",
                     "seconds of stepping": f"{reached[1]:.1f}" if reached else "—",
                     "minutes": f"{reached[1] / 60:.2f}" if reached else "—",
                     "modes covered over the next 20 checks, median": (
                         statistics.median(kept) if kept else "—")})
    return rows


def behaviour(name: str, seed: int, epochs: int, every: int) -> dict:
    """What a preset does: per check, modes covered, the share of fakes on the fullest
    mode, how tightly the fakes bunch around the origin's circle (the mean resultant
    length R of their angles: 1 = one clump, 0 = spread all round), and how far the
    clump's angle and the discriminator's favourite spot on the circle (radius 2) turn."""
    import numpy as np

    from nets.families.gan import plane

    g = plane.Game(plane.preset(name, seed))
    t = np.linspace(-math.pi, math.pi, 96, endpoint=False)
    circle = (2 * np.stack([np.cos(t), np.sin(t)], 1)).astype(np.float32)
    modes, top, spread, angle, peak, size = [], [], [], [], [], []
    for _ in range(epochs // every):
        for _ in range(every):
            g.epoch()
        f = g.fakes()
        modes.append(g.fit.measure(f, g.real_shown)["modes"])
        top.append(g.fit.mode_counts(f).max() / len(f))
        m = np.exp(1j * np.arctan2(f[:, 1], f[:, 0])).mean()
        spread.append(abs(m))
        size.append(float(np.sqrt(((f - f.mean(0)) ** 2).sum(1).mean())))
        angle.append(np.angle(m))
        peak.append(t[np.argmax(g.realness(circle))])
    half = len(modes) // 2

    def turns(a):
        return float(np.abs(np.angle(np.exp(1j * np.diff(a[half:])))).sum() / (2 * math.pi))

    return {"modes": statistics.median(modes[half:]), "top": statistics.median(top[half:]),
            "R": statistics.median(spread[half:]), "turns": turns(angle),
            "size": statistics.median(size[half:]),
            "on one": sum(t >= 0.5 for t in top[half:]) / len(top[half:]),
            "peak turns": turns(peak), "skipped": g.skipped}


VERDICT = {
    "healthy": lambda b: b["modes"] >= 7,
    "mode collapse": lambda b: b["modes"] <= 2 and b["size"] <= 0.5,
    "oscillation": lambda b: b["R"] >= 0.5 and b["turns"] >= 1 and b["peak turns"] >= 1,
}


def preset_runs(seeds: int, epochs: int, every: int) -> list[dict]:
    from nets.families.gan import plane

    rows = []
    for name in plane.PRESETS:
        for seed in range(seeds):
            b = behaviour(name, seed, epochs, every)
            rows.append({"preset": name, "seed": seed,
                         "modes covered (median, 2nd half)": b["modes"],
                         "fakes on the fullest mode": f"{b['top']:.0%}",
                         "checks with most fakes on one mode": f"{b['on one']:.0%}",
                         "spread of the fakes (RMS, reals 2.0)": f"{b['size']:.2f}",
                         "clumping R": f"{b['R']:.2f}",
                         "turns of the fakes' mean angle": f"{b['turns']:.1f}",
                         "turns of D's peak on the circle": f"{b['peak turns']:.1f}",
                         "does what it says": "yes" if VERDICT[name](b) else "NO"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--gui-seconds", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=3000, help="per preset run")
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke test")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.gui_seconds, args.epochs = 1, 4.0, 100
    tables = Tables()
    tables.add("Stepping alone (default settings: 2 x 64 leaky-ReLU nets, batch 128, Adam)",
               [stepping(1.0 if args.quick else 5.0)])
    tables.add("The view free running, every layer drawn", [gui_run(args.gui_seconds)])
    tables.add("Default settings (non-saturating, Adam 1e-3 both, 1 D step per G step): "
               "time to cover all 8 modes of the default mixture (checked every 25 steps)",
               coverage_runs(args.seeds, 200 if args.quick else 20000))
    tables.add(f"Presets, {args.epochs} epochs each (checked every {args.epochs // 40} "
               "epochs; medians and turns over the second half)",
               preset_runs(args.seeds, args.epochs, max(1, args.epochs // 40)))
    tables.write(RESULTS, "gan_plane")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
