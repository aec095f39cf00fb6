"""``python -m benchmarks.greedy_soup RUN [RUN ...] --name NAME [--split val]``: which train-only
runs to average, chosen greedily on the people's-photo proxies ("greedy soup", Wortsman et al.
2022).

The runs are tried in the order given (best own validation score first, as in the paper). The
first is the soup; each next one is kept if the average with it scores higher on the mean of
the changed versions and at most ``--clean-tolerance`` points lower on clean photos than the
soup without it. Every step is recorded in ``benchmarks/results/greedy-soup-NAME.json``, and the
final soup is saved as checkpoint NAME beside the runs, so ``benchmarks.proxies`` can record it.
All runs must share their start (``flowerdash.models.soup``); every step is measured on the same
photos, so the choice is made on the split it is measured on (val for first-fold runs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS


def keeps(with_it: dict[str, Any], without: dict[str, Any], clean_tolerance: float) -> bool:
    """Whether a candidate stays: changed versions up, clean photos down by at most the tolerance."""
    changed = with_it["mean_changed"]["top1"] > without["mean_changed"]["top1"]
    clean = with_it["clean"]["top1"] >= without["clean"]["top1"] - clean_tolerance / 100
    return changed and clean


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.greedy_soup", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="checkpoint folders, best first")
    parser.add_argument("--name", required=True)
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--clean-tolerance", type=float, default=0.5, help="points")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)

    from benchmarks.machine import describe
    from benchmarks.proxies import measure
    from flowerdash.data.sources import get_source
    from flowerdash.models.ensemble import ensemble_checkpoint

    source = get_source()
    kept = [args.runs[0]]
    best = measure(kept[0], source, args.split, args.limit)["proxies"]
    steps: list[dict[str, Any]] = [{"run": kept[0].name, "kept": True, "proxies": best}]
    print(f"{kept[0].name}: {_line(best)}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for candidate in args.runs[1:]:
            trial = ensemble_checkpoint([*kept, candidate], root=tmp, average="weights")
            scores = measure(trial, source, args.split, args.limit)["proxies"]
            shutil.rmtree(trial)
            stays = keeps(scores, best, args.clean_tolerance)
            steps.append({"run": candidate.name, "kept": stays, "proxies": scores})
            print(f"+ {candidate.name}: {_line(scores)} -> {'kept' if stays else 'left out'}")
            if stays:
                kept.append(candidate)
                best = scores
    if len(kept) > 1:
        ensemble_checkpoint(kept, name=args.name, root=kept[0].parent, average="weights")
    result = {
        "machine": describe(),
        "split": args.split,
        "rule": f"kept if the mean of the changed versions rises and clean photos lose at most "
        f"{args.clean_tolerance} points",
        "steps": steps,
        "kept": [run.name for run in kept],
    }
    out = RESULTS / f"greedy-soup-{args.name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"kept {', '.join(result['kept'])}; {out}")
    return 0


def _line(proxies: dict[str, Any]) -> str:
    return f"clean {proxies['clean']['top1']:.1%}, changed {proxies['mean_changed']['top1']:.1%}"


if __name__ == "__main__":
    raise SystemExit(main())
