"""Deep Learning Explorer. No arguments: the GUI. `train`, `list`, `attack`: the same work
headless.

    python main.py                                  # the app
    python main.py list                             # families and datasets
    python main.py --selftest                       # prove this computer can run it
    python main.py kit download ~/dle-data          # the offline kit (needs a network)
    python main.py kit atari                        # Atari games, where an installer left them out
    python main.py --data-dir ~/dle-data            # the app, reading the kit
    python main.py train cnn --epochs 3 --save digits.keras
    python main.py --backend jax train cnn          # on JAX (pip install -e ".[jax]")
    python main.py attack digits.keras --attack fgsm --eps 0,0.1,0.2,0.3 --out curve.csv
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import threading

# The backend the person's shell asked for, read before `nets` sets its default.
SHELL_BACKEND = os.environ.get("KERAS_BACKEND")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    from nets import config, registry
    from nets import data as datasets

    parser = argparse.ArgumentParser(
        prog="main.py", description="Deep Learning Explorer: with no command, opens the app.")
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                        help="the Keras backend to train with (default: KERAS_BACKEND, "
                             "else the app's setting, else tensorflow)")
    parser.add_argument("--data-dir", metavar="FOLDER",
                        help="an offline data folder made by `kit download` (used instead "
                             "of downloading)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="list the model families and datasets")
    kit = sub.add_parser("kit", help="the offline workshop kit")
    kit_sub = kit.add_subparsers(dest="kit_command", required=True)
    download = kit_sub.add_parser("download", help="download MNIST, Fashion-MNIST and "
                                  "CIFAR-10 into a folder, checking every file")
    download.add_argument("folder")
    download.add_argument("--dataset", action="append", choices=("mnist-full",
                          "fashion-mnist", "cifar10"), help="only this one (repeatable)")
    atari = kit_sub.add_parser("atari", help="fetch the Arcade Learning Environment (ale-py, "
                               "GPL-2.0, with the Atari ROMs) for the Atari games: the "
                               "installers leave it out")
    atari.add_argument("--wheel", metavar="FILE.whl",
                       help="install from this ale-py wheel instead of downloading it")
    train = sub.add_parser("train", help="train a model headless, printing progress")
    families = train.add_subparsers(dest="family", required=True)
    for key in registry.keys():
        fam = registry.family(key)
        p = families.add_parser(key, help=fam.summary, description=fam.summary)
        common = p.add_argument_group("run")
        default = datasets.default_key(fam.datasets)
        common.add_argument("--dataset", default=default,
                            help=f"dataset key (see `list`) or folder:<path> (default: "
                                 f"{default})")
        common.add_argument("--seed", type=config.seed_argument, default=0,
                            help="random seed, 0 to 2147483647 (default: 0)")
        common.add_argument("--save", metavar="FILE.keras", help="save the trained model")
        common.add_argument("--resume", action="store_true",
                            help="continue from this family's latest autosave")
        common.add_argument("--no-autosave", action="store_true",
                            help="do not autosave after each epoch")
        common.add_argument("--minutes", type=positive_minutes, metavar="M",
                            help="stop after M minutes, keeping what was learnt as Stop "
                                 "does (the autosave, and --save); so does SIGTERM")
        config.add_arguments(p.add_argument_group("hyperparameters"), fam.config)
    add_attack_parser(sub)
    return parser


def add_attack_parser(sub) -> None:
    from nets import adversarial

    p = sub.add_parser("attack", help="held-out accuracy of a saved convnet under an "
                       "adversarial attack, for each ε (the robustness curve)",
                       description="Attack a saved convnet (a model of `train cnn`) on its "
                       "held-out images and print its accuracy at each ε.")
    p.add_argument("model", metavar="MODEL.keras", help="a model saved by `train cnn "
                   "--save` or the app's Convolutional nets tab")
    p.add_argument("--attack", choices=adversarial.ATTACKS, default="fgsm",
                   help="fgsm: one signed-gradient step; pgd: iterated, projected steps; "
                        "targeted: PGD towards --target (default: fgsm)")
    p.add_argument("--target", type=int, help="the class a targeted attack aims for")
    p.add_argument("--eps", default=",".join(f"{e:g}" for e in adversarial.CURVE_EPSILONS),
                   help="comma-separated ε values in [0, 1], a share of the 0..1 pixel "
                        "range (default: %(default)s)")
    p.add_argument("--steps", type=int, default=adversarial.PGD_STEPS,
                   help="steps of pgd and targeted (default: %(default)s)")
    p.add_argument("--images", type=int, default=1000,
                   help="held-out images to attack, the first N (default: %(default)s)")
    p.add_argument("--dataset", help="dataset key (default: the one the model was "
                   "trained on)")
    p.add_argument("--out", metavar="FILE.csv|FILE.json", help="also write the curve here")


def cmd_list() -> int:
    from nets import registry
    from nets.data import CHOICES, full_mnist_cached

    print("Model families (python main.py train FAMILY --help):")
    for key in registry.keys():
        fam = registry.family(key)
        print(f"  {key:14s} {fam.title}: {fam.summary}")
    print("\nDatasets (--dataset KEY):")
    for c in CHOICES:
        print(f"  {c.key:14s} {c.label}")
    print(f"  {'folder:<path>':14s} your images, one sub-folder per class")
    print("\nFull MNIST is " + ("in the Keras cache." if full_mnist_cached() else
                                "not downloaded: 'mnist' uses the bundled 5,000 digits."))
    return 0


def config_from_args(fam, args):
    """The options given, over the family's defaults; a family may start from defaults
    that suit one of the choices (DQN: CartPole's or the paper's Atari settings)."""
    from nets import config

    base = fam.defaults_for(vars(args)) if fam.defaults_for else None
    return config.from_arguments(fam.config, args, base)


def positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes above 0")
    return value


def cmd_train(args) -> int:
    from nets import backend, runner, storage
    from nets.progress import ConsoleReporter

    try:
        cfg = config_from_args(runner.family(args.family), args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.save:  # a run of minutes must not end in "cannot save there"
        problem = storage.check_writable(args.save)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    length = getattr(args, runner.length_field(args.family), None)
    backend.start()
    reporter = ConsoleReporter()
    request = runner.RunRequest(args.family, cfg, args.dataset, args.seed,
                                resume=args.resume, autosave=not args.no_autosave,
                                length=length if args.resume else None)
    # the time limit and SIGTERM (`timeout`, `kill`) stop the run as the Stop button does
    ran_out = threading.Event()

    def out_of_time():
        ran_out.set()
        reporter.controls.stop()

    timer = threading.Timer(60 * (args.minutes or 0), out_of_time)
    timer.daemon = True
    if args.minutes:
        timer.start()
    signal.signal(signal.SIGTERM, lambda *_: reporter.controls.stop())
    try:
        done = runner.execute(request, reporter)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if done.status == "failed" and done.detail and os.environ.get("DLE_DEBUG"):
        print(done.detail, file=sys.stderr)
    if args.save and done.result is None and done.status != "failed":
        print("This run produced no model to save (a study compares models and keeps "
              "none).", file=sys.stderr)
    if args.save and done.result is not None:
        try:
            path = done.result.save(args.save)
            print(f"Saved the model to {path}")
        except storage.StorageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if done.status == "stopped" and ran_out.is_set():
        print(f"Stopped at the time limit of {args.minutes:g} minutes.")
        return 0
    return {"finished": 0, "stopped": 130}.get(done.status, 1)


def cmd_attack(args) -> int:
    from nets import adversarial, backend, storage
    from nets import data as datasets
    from nets.errors import PlainError

    try:
        epsilons = adversarial.parse_epsilons(args.eps)
        if args.attack == "targeted" and args.target is None:
            raise adversarial.AttackError("A targeted attack needs --target, the class "
                                          "to make the network say (e.g. --target 3).")
        if args.steps < 1 or args.images < 1:
            raise adversarial.AttackError("--steps and --images must be at least 1.")
        if args.out:
            problem = storage.check_writable(args.out)
            if problem:
                raise adversarial.AttackError(problem.replace("save to", "write to"))
            if not args.out.lower().endswith((".csv", ".json")):
                raise adversarial.AttackError("--out must name a .csv or .json file.")
    except adversarial.AttackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:  # a damaged or foreign file is named before seconds of backend start-up
        adversarial.check_family(str(storage.read_meta(args.model).get("family", "?")))
    except PlainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    backend.start()
    try:
        trained = adversarial.load_classifier(args.model)
        model = trained.model
        if args.target is not None and not 0 <= args.target < model.output_shape[-1]:
            raise adversarial.AttackError(f"--target must be a class between 0 and "
                                          f"{model.output_shape[-1] - 1}.")
        key = args.dataset or trained.meta.get("dataset") or "mnist-5k"
        h, w, c = model.input_shape[1:]
        ds = datasets.load(str(key), image_size=(h, w), channels=c)
        n = min(args.images, len(ds.y_val))
        curve = adversarial.robustness_curve(model, ds.x_val[:n], ds.y_val[:n], epsilons,
                                             args.attack, args.target, args.steps)
        print(f"{adversarial.ATTACK_NAMES[args.attack]} against {args.model}, on the "
              f"first {n:,} held-out images of {ds.description} ({curve.seconds:.1f} s):")
        print(curve.table())
        if args.out:
            where = adversarial.write_curve(curve, args.out, {
                "model": str(args.model), "dataset": ds.description,
                "steps": args.steps if args.attack != "fgsm" else None})
            print(f"Wrote the curve to {where}")
    except PlainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    return 0


def take_backend(argv: list[str]) -> tuple[str | None, list[str]]:
    """`--backend NAME` (or --backend=NAME) anywhere in argv, and argv without it."""
    rest, wish, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--backend" and i + 1 < len(argv):
            wish, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith("--backend="):
            wish = argv[i].partition("=")[2]
        else:
            rest.append(argv[i])
        i += 1
    return wish, rest


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    wish, argv = take_backend(argv)
    wish = wish or SHELL_BACKEND
    from nets import addons

    addons.activate()  # Atari games fetched earlier (the installers leave them out)
    if not argv:
        from app.main_window import run

        return run(backend_wish=wish)
    if argv[0] == "--selftest":  # --selftest [REPORT_FILE]: a windowed app has no stdout
        from app.selftest import run as selftest

        if len(argv) > 1:
            with open(argv[1], "w", encoding="utf-8") as report:
                return selftest(report, backend_wish=wish)
        return selftest(backend_wish=wish)
    args = build_parser().parse_args(argv)
    if args.command in ("train", "list", "attack"):
        from nets import backend

        note = backend.choose(wish)
        if note:
            print(f"note: {note}", file=sys.stderr)
    if args.data_dir:
        os.environ["DLE_DATA"] = args.data_dir  # nets.kit reads it
    if args.command is None:
        from app.main_window import run

        return run([sys.argv[0]], backend_wish=wish)
    if args.command == "kit" and args.kit_command == "atari":
        try:
            where = addons.install_ale(args.wheel)
        except addons.AddonError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"Installed {addons.LICENCE_WORDS} into {where}. The Atari games appear in "
              "the Deep Q-learning tab at the next start.")
        return 0
    if args.command == "kit":
        from nets import kit

        problems = kit.download(args.folder, args.dataset)
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        if not problems:
            print(f"The kit is complete. Start the app with: main.py --data-dir "
                  f"{args.folder}")
        return 1 if problems else 0
    if args.command == "list":
        return cmd_list()
    if args.command == "train":
        return cmd_train(args)
    if args.command == "attack":
        return cmd_attack(args)
    build_parser().print_help()
    return 2


if __name__ == "__main__":
    multiprocessing.freeze_support()  # the Atari games' worker processes in a frozen app
    sys.exit(main())
