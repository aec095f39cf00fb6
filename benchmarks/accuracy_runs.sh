#!/usr/bin/env bash
# The training runs behind docs/RESULTS.md (MobileNetV2, offline ImageNet weights, CPU).
# Usage: bash benchmarks/accuracy_runs.sh [RUN ...]   (default: all). Checkpoints go to runs/.
#        bash benchmarks/accuracy_runs.sh robustness [RUN ...]: robustness of trained runs on a
#        fixed 200-image test subset, into benchmarks/results/robustness/RUN.json.
#        bash benchmarks/accuracy_runs.sh ship RUN: make runs/RUN the shipped checkpoints/default.
#        bash benchmarks/accuracy_runs.sh studies RUN FOLD BEFORE: then every fit and study of it.
set -euo pipefail
# The whole script is one block, read before it starts: bash otherwise reads a script as it runs,
# and committing the next run's rule here while a run trains broke the running script's end.
{
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs}
mkdir -p "$OUT"
train() { local name=$1; shift; echo "== $name"; /usr/bin/time -f "$name wall %e s" \
  "$PY" -m flowerdash train --backbone mobilenetv2 --checkpoint-dir "$OUT" --name "$name" "$@" \
  2>&1 | grep -v "^I0000\|^E0000\|^WARNING\|absl\|cuda" | tee "$OUT/$name.log"
  "$PY" -m benchmarks.run_record "$OUT/$name" "$name"; }
# A weight average of trained runs (flowerdash.models.soup), recorded like a trained run; the
# refit on train+val (no val photos left) is measured on test, a fold's on val by the proxies.
# Options (--flag=value) pass through; every other argument names a run in $OUT.
soup() { local name=$1; shift; echo "== $name"; local test=(--no-test) args=() a
  case $name in *-final) test=() ;; esac
  for a in "$@"; do case $a in --*) args+=("$a") ;; *) args+=("$OUT/$a") ;; esac; done
  "$PY" -m flowerdash ensemble --average weights --name "$name" --checkpoint-dir "$OUT" \
    "${test[@]}" "${args[@]}" 2>&1 | grep -v "^I0000\|^E0000\|^WARNING\|absl\|cuda" \
    | tee "$OUT/$name.log"
  "$PY" -m benchmarks.run_record "$OUT/$name" "$name"; }
if [ "${1:-}" = ship ]; then
  # Make a trained run the shipped default: its files (model, metadata, cached test predictions,
  # which stay valid because the model file is unchanged), renamed; swapped in at the end.
  run=${2:?usage: accuracy_runs.sh ship RUN}
  rm -rf checkpoints/.default.new && mkdir -p checkpoints/.default.new
  cp -r "$OUT/$run/model.keras" "$OUT/$run/meta.json" "$OUT/$run/eval" checkpoints/.default.new/
  "$PY" - "$run" <<'PYEOF'
import sys
from flowerdash.models.checkpoints import read_meta, update_meta
folder = "checkpoints/.default.new"
dataset = read_meta(folder)["dataset"]
dataset["description"] = "folder ../shared/datasets/oxford_flowers102"
update_meta(folder, name="default", trained_as=sys.argv[1], dataset=dataset)
PYEOF
  rm -rf checkpoints/default && mv checkpoints/.default.new checkpoints/default
  exit 0
fi
if [ "${1:-}" = studies ]; then
  # After `ship RUN`: fit and measure again all RESULTS says of the shipped model, from FOLD (the
  # train-only fold of its recipe), keeping the figures of BEFORE (the model shipped before, a
  # run in $OUT) as *-BEFORE.json. The thresholds they print (the
  # unsure answer, FOUND_TEMPERATURE) are then set in the code by hand, where tests check them.
  run=${2:?usage: accuracy_runs.sh studies RUN FOLD BEFORE}; fold=$3; before=${4:?}
  R=benchmarks/results
  for f in calibration unsure proxy-calibration find-flower colour-profile explanation-study \
    ig-rules small-photos watermarks; do
    # kept from the first call only: a second call (below) must not archive the new figures
    [ -e "$R/$f-$before.json" ] || cp "$R/$f.json" "$R/$f-$before.json"
  done
  "$PY" -m benchmarks.calibrate --fold "$OUT/$fold" --target checkpoints/default
  "$PY" -m benchmarks.unsure --fold "$OUT/$fold"
  # Find the flower scores the unsure photos by the threshold in the code, so that must be the
  # one just picked before it runs.
  "$PY" - <<'PYEOF'
import json, sys
from flowerdash.explain.reading import UNSURE_BELOW
picked = json.load(open("benchmarks/results/unsure.json"))["unsure_below"]
if abs(picked - UNSURE_BELOW) > 1e-9:
    sys.exit(f"Set UNSURE_BELOW = {picked:.2f} in flowerdash/explain/reading.py (now "
             f"{UNSURE_BELOW:.2f}), then run this again.")
PYEOF
  "$PY" -m benchmarks.proxy_calibration --fold "$OUT/$fold"
  "$PY" -m benchmarks.find_flower --fold "$OUT/$fold"
  # Prints the notice size and size temperatures to set in the code (reading, calibration).
  "$PY" -m benchmarks.small_photos --fold "$OUT/$fold" --test checkpoints/default
  "$PY" -m benchmarks.colour_profile "$OUT/$fold"
  "$PY" -m benchmarks.watermarks "$OUT/$fold"
  "$PY" -m flowerdash robustness "$OUT/$run" --limit 200 --json > "$R/robustness/$run.json"
  "$PY" -m benchmarks.explanation_study
  "$PY" -m benchmarks.explanation_paired "$OUT/$before" checkpoints/default
  "$PY" -m benchmarks.ig_rules
  exit 0
fi
if [ "${1:-}" = robustness-folds ]; then
  # The same variations on the photos a fold may be chosen on: val for fold-*, train for swap-*.
  shift; mkdir -p benchmarks/results/robustness
  for r in "$@"; do
    case $r in swap-*) split=train ;; *) split=val ;; esac
    "$PY" -m flowerdash robustness "$OUT/$r" --split $split --json \
      > "benchmarks/results/robustness/$r@$split.json"
  done
  exit 0
fi
if [ "${1:-}" = robustness ]; then
  shift; runs=("$@"); [ ${#runs[@]} -gt 0 ] || runs=(notebook-noaug notebook-aug best mixcut final fullft-final fullft-lr3-final)
  mkdir -p benchmarks/results/robustness
  for r in "${runs[@]}"; do
    "$PY" -m flowerdash robustness "$OUT/$r" --limit 200 --json > "benchmarks/results/robustness/$r.json"
  done
  exit 0
fi
# The long full fine-tuning of recipe (13), which the recipes from (30) on share: a head of 30
# epochs on cached features, then every layer fine-tuned 24 epochs, cosine from 3e-4.
LONG=(--no-head-augment --epochs 30 --fine-tune-epochs 24 --fine-tune-layers 1000
      --fine-tune-lr 3e-4 --label-smoothing 0.1)
# The three flat-colour recipes of the shipped members, (58), (59) and (53) with flat patches:
# zoom up to 30% or 50%, and the big-patch one; the runs from (102) on name them so.
FLAT3=(--augment basic --grayscale 0.2 --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}")
FLAT5=(--augment basic --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}")
FLAT5BIG=("${FLAT5[@]}" --erase-size 0.5)
# The "-grain" runs from (150) on: a fifth of the photos blurred and a fifth grainy, with the 36
# fine-tuning epochs of the "-long" runs they change.
GRAIN=(--blur 0.2 --noise 0.2 --fine-tune-epochs 36)
# The nine runs of the shipped recipe's first fold (rule (154)), in the order they are averaged;
# its second fold's are the same names with swap- for fold-.
SOUP9=(fold-grey-zoom-erase-flat-long fold-grey-zoom5-erase-flat-long
       fold-grey-zoom5-erase-big-flat-long fold-grey-zoom-erase-flat-long-grain
       fold-grey-zoom5-erase-flat-long-grain fold-grey-zoom5-erase-big-flat-long-grain
       fold-grey-zoom-erase-flat-long-tiles fold-grey-zoom5-erase-flat-long-tiles
       fold-grey-zoom5-erase-big-flat-long-tiles)
runs=("$@"); [ ${#runs[@]} -gt 0 ] || runs=(notebook-noaug notebook-aug best mixcut final fullft fullft-mix fullft-lr3 fullft-final fullft-lr3-final fullft-lr6 fullft-lr3-strong fullft-lr3-long fullft-lr3-long-final fullft-lr3-long-mix fullft-lr3-long-wd fullft-lr3-long-ra fullft-lr3-up288 fullft-lr3-long-b16 fullft-lr3-long-ra-b16 swap-lr3-long swap-lr3-long-ra-b16 fullft-lr3-long-ema swap-lr3-long-ema fullft-lr3-long-ls2 swap-lr3-long-ls2 fullft-lr3-long-ls2-final fullft-lr3-long-ema-final fullft-lr3-long-ra-b16-final ensemble4-final)
for r in "${runs[@]}"; do case $r in
  # (1) the course notebooks' recipe: frozen backbone, 8 epochs, Adam 1e-3; without / with augmentation
  notebook-noaug) train notebook-noaug --augment none --epochs 8 ;;
  notebook-aug)   train notebook-aug --augment basic --epochs 8 ;;
  # (2) best recipe: head on cached features, then fine-tuning with augmentation and label smoothing
  best)   train best --augment basic --no-head-augment --epochs 30 --fine-tune-epochs 6 \
            --fine-tune-layers 40 --fine-tune-lr 1e-4 --label-smoothing 0.1 ;;
  # (3) the same with MixUp/CutMix during fine-tuning
  mixcut) train mixcut --augment advanced --no-head-augment --epochs 30 --fine-tune-epochs 6 \
            --fine-tune-layers 40 --fine-tune-lr 1e-4 --label-smoothing 0.1 ;;
  # (5) full fine-tuning: every backbone layer (BatchNorm still frozen), 12 epochs, cosine from 1e-4
  fullft) train fullft --augment basic --no-head-augment --epochs 30 --fine-tune-epochs 12 \
            --fine-tune-layers 1000 --fine-tune-lr 1e-4 --label-smoothing 0.1 ;;
  # (7) recipe (5) with MixUp (α 0.2) / CutMix (α 1.0) while fine-tuning: does mixing curb the
  #     overfitting of full fine-tuning (train accuracy 100% by the 7th epoch)?
  fullft-mix) train fullft-mix --augment advanced --no-head-augment --epochs 30 \
            --fine-tune-epochs 12 --fine-tune-layers 1000 --fine-tune-lr 1e-4 --label-smoothing 0.1 ;;
  # (8) recipe (5) with a 3x higher fine-tuning learning rate (3e-4)
  fullft-lr3) train fullft-lr3 --augment basic --no-head-augment --epochs 30 \
            --fine-tune-epochs 12 --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (6) recipe (5) refit on train+val with the fine-tuning epochs its val curve asks for (7: val
  #     accuracy plateaus from the 5th to the 7th epoch on); fits in 20 minutes of CPU training
  fullft-final) train fullft-final --augment basic --no-head-augment --epochs 30 \
            --fine-tune-epochs 7 --fine-tune-layers 1000 --fine-tune-lr 1e-4 --label-smoothing 0.1 \
            --train-on train+val ;;
  # (10) recipe (8) with the fine-tuning learning rate doubled again (6e-4)
  fullft-lr6) train fullft-lr6 --augment basic --no-head-augment --epochs 30 \
            --fine-tune-epochs 12 --fine-tune-layers 1000 --fine-tune-lr 6e-4 --label-smoothing 0.1 ;;
  # (11) recipe (8) with stronger geometric augmentation while fine-tuning: both flips, rotation
  #      up to a quarter turn, zoom 0.25, translation 0.15 (train accuracy hits 100% by epoch 6)
  fullft-lr3-strong) train fullft-lr3-strong --augment basic --flip horizontal_and_vertical \
            --rotation 0.25 --zoom 0.25 --translation 0.15 --no-head-augment --epochs 30 \
            --fine-tune-epochs 12 --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (12) recipe (8) fine-tuned 2.5x longer (30 epochs, cosine from 3e-4): val accuracy of
  #      recipe (8) plateaus at 88.5-89.6% from the 7th of 12 epochs; does a longer schedule lift it?
  fullft-lr3-long) train fullft-lr3-long --augment basic --no-head-augment --epochs 30 \
            --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (13) recipe (12) refit on train+val; 24 fine-tuning epochs (its val accuracy plateaus at
  #      90.5-91.4% from the 15th of 30), which keeps the run under 20 minutes on the AVX-512 CPUs
  fullft-lr3-long-final) train fullft-lr3-long-final --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 24 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.1 --train-on train+val ;;
  # (14) recipe (12) with MixUp (α 0.2) / CutMix (α 1.0) while fine-tuning: train accuracy of
  #      recipe (12) reaches 100% by its 10th epoch; does mixing pay off on the longer schedule?
  fullft-lr3-long-mix) train fullft-lr3-long-mix --augment advanced --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.1 ;;
  # (15) recipe (12) with decoupled weight decay 0.5 while fine-tuning (AdamW; Keras scales it by
  #      the learning rate, so the weights shrink by about 7% over the schedule, gradients aside)
  fullft-lr3-long-wd) train fullft-lr3-long-wd --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --fine-tune-weight-decay 0.5 --label-smoothing 0.1 ;;
  # (16) recipe (12) with RandAugment (two operations per batch, strength 0.1) while fine-tuning
  #      (flowerdash's seeded RandAugment, without posterization and solarization)
  fullft-lr3-long-ra) train fullft-lr3-long-ra --augment basic --rand-augment 0.1 \
            --no-head-augment --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 \
            --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (17) recipe (12) with the image upsampled inside the model from 224 to 288 px before the
  #      backbone (input still 224 px; 1.65x the compute), 20 fine-tuning epochs to fit the budget
  fullft-lr3-up288) train fullft-lr3-up288 --augment basic --no-head-augment --backbone-size 288 \
            --epochs 30 --fine-tune-epochs 20 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.1 ;;
  # (18) recipe (12) with batches of 16 instead of 32 (twice the steps, noisier gradients)
  fullft-lr3-long-b16) train fullft-lr3-long-b16 --augment basic --no-head-augment \
            --batch-size 16 --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 \
            --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (19) the two ties of (16) and (18) together: RandAugment 0.1 and batches of 16
  fullft-lr3-long-ra-b16) train fullft-lr3-long-ra-b16 --augment basic --rand-augment 0.1 \
            --no-head-augment --batch-size 16 --epochs 30 --fine-tune-epochs 30 \
            --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (20, 21) the second fold, to break the ties of (16)-(19) with more evidence than 1,020 val
  #      images: recipes (12) and (19) trained on val and validated on train (the splits swapped)
  swap-lr3-long) train swap-lr3-long --train-on val --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.1 ;;
  swap-lr3-long-ra-b16) train swap-lr3-long-ra-b16 --train-on val --augment basic \
            --rand-augment 0.1 --no-head-augment --batch-size 16 --epochs 30 --fine-tune-epochs 30 \
            --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 ;;
  # (22, 23) recipe (12) with an exponential moving average of the weights while fine-tuning
  #      (momentum 0.99, about 3 epochs of 32 batches), on both folds
  fullft-lr3-long-ema) train fullft-lr3-long-ema --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --fine-tune-ema 0.99 --label-smoothing 0.1 ;;
  swap-lr3-long-ema) train swap-lr3-long-ema --train-on val --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --fine-tune-ema 0.99 --label-smoothing 0.1 ;;
  # (24, 25) recipe (12) with label smoothing 0.2 instead of 0.1, on both folds
  fullft-lr3-long-ls2) train fullft-lr3-long-ls2 --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.2 ;;
  swap-lr3-long-ls2) train swap-lr3-long-ls2 --train-on val --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 30 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.2 ;;
  # (26-28) the three recipes that tied the shipped one on both folds, refit on train+val like
  #      (13) (24 fine-tuning epochs; batches of 16 take twice the steps): the ensemble's members
  fullft-lr3-long-ls2-final) train fullft-lr3-long-ls2-final --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 24 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --label-smoothing 0.2 --train-on train+val ;;
  fullft-lr3-long-ema-final) train fullft-lr3-long-ema-final --augment basic --no-head-augment \
            --epochs 30 --fine-tune-epochs 24 --fine-tune-layers 1000 --fine-tune-lr 3e-4 \
            --fine-tune-ema 0.99 --label-smoothing 0.1 --train-on train+val ;;
  fullft-lr3-long-ra-b16-final) train fullft-lr3-long-ra-b16-final --augment basic \
            --rand-augment 0.1 --no-head-augment --batch-size 16 --epochs 30 --fine-tune-epochs 24 \
            --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 --train-on train+val ;;
  # (29) the best recipe: the shipped model and (26)-(28) as one model averaging their logits
  #      (chosen on val: ensembles of the four recipes' train-only runs gain 1.6 and 1.0 points on
  #      the two folds; `python -m benchmarks.ensemble`); 4x the training and inference
  ensemble4-final) echo "== ensemble4-final"; "$PY" -m flowerdash ensemble --checkpoint-dir "$OUT" \
            --name ensemble4-final fullft-lr3-long-final fullft-lr3-long-ls2-final \
            fullft-lr3-long-ema-final fullft-lr3-long-ra-b16-final 2>&1 \
            | grep -v "^I0000\|^E0000\|^WARNING\|absl\|cuda" | tee "$OUT/ensemble4-final.log" ;;
  # (30) recipe (13) on the training photos only: the fold behind the calibration, the unsure
  #      threshold and the people's-photo proxies (benchmarks.calibrate / unsure / proxies)
  fold-train) train fold-train --augment basic "${LONG[@]}" --train-on train --no-test ;;
  # (31) recipe (30) with grey photos (a fifth of them) and zoom up to 30% in or out while
  #      fine-tuning: aimed at phone and web photos (colour casts, wide or tight framing)
  fold-grey-zoom) train fold-grey-zoom --augment basic --grayscale 0.2 --zoom 0.3 \
            "${LONG[@]}" --train-on train --no-test ;;
  # (32) recipe (31) refit on train+val, like (13) from (30)
  grey-zoom-final) train grey-zoom-final --augment basic --grayscale 0.2 --zoom 0.3 \
            "${LONG[@]}" --train-on train+val ;;
  # (33) recipe (31) with a random patch (2-33% of the photo) covered by noise on half the photos
  #      (Random Erasing, Zhong et al. 2017, at its paper's rate): aimed at leaves, hands and
  #      watermarks hiding part of the flower (the occlusion proxy is recipe (31)'s weakest)
  fold-grey-zoom-erase) train fold-grey-zoom-erase --augment basic --grayscale 0.2 --zoom 0.3 \
            --erase 0.5 "${LONG[@]}" --train-on train --no-test ;;
  # (34) recipe (33) refit on train+val, like (32) from (31)
  grey-zoom-erase-final) train grey-zoom-erase-final --augment basic --grayscale 0.2 --zoom 0.3 \
            --erase 0.5 "${LONG[@]}" --train-on train+val ;;
  # (35) recipe (33) with a covered patch on every photo instead of half: does more of it close
  #      the gap to the occlusion target without costing clean photos?
  fold-grey-zoom-erase1) train fold-grey-zoom-erase1 --augment basic --grayscale 0.2 --zoom 0.3 \
            --erase 1.0 "${LONG[@]}" --train-on train --no-test ;;
  # (36) recipe (33) zoomed up to 50% in or out instead of 30%: wider framing is the proxies'
  #      next largest gap after covered photos
  fold-grey-zoom5-erase) train fold-grey-zoom5-erase --augment basic --grayscale 0.2 --zoom 0.5 \
            --erase 0.5 "${LONG[@]}" --train-on train --no-test ;;
  # (37, 38) recipes (33) and (36) on the second fold (trained on val, validated on train): they
  #      tie on the mean of the val proxies, so the train photos' proxies judge them again
  swap-grey-zoom-erase) train swap-grey-zoom-erase --augment basic --grayscale 0.2 --zoom 0.3 \
            --erase 0.5 "${LONG[@]}" --train-on val --no-test ;;
  swap-grey-zoom5-erase) train swap-grey-zoom5-erase --augment basic --grayscale 0.2 --zoom 0.5 \
            --erase 0.5 "${LONG[@]}" --train-on val --no-test ;;
  # (39) recipe (36) refit on train+val: chosen over (33) by the rule of (37, 38) on both folds
  grey-zoom5-erase-final) train grey-zoom5-erase-final --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 "${LONG[@]}" --train-on train+val ;;
  # (40) recipe (36) plus RandAugment 0.1 (two light, colour or shape operations per batch): the
  #      wider zoom gave back 0.7-1.0 points on colour casts, grey and covered photos, and on the
  #      test subset under darkening and contrast. Rule, set before the run: it goes on to the
  #      second fold only if it is at least 0.5 points ahead of (36) on the mean of the changed
  #      versions and at most 0.5 behind on clean photos
  fold-grey-zoom5-erase-ra) train fold-grey-zoom5-erase-ra --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 --rand-augment 0.1 "${LONG[@]}" --train-on train --no-test ;;
  # (41) recipe (36) keeping an exponential moving average of the weights (momentum 0.99), as in
  #      (22): a steadier model may hold more of clean accuracy under the wider zoom. Same rule as
  #      (40), set before the run
  fold-grey-zoom5-erase-ema) train fold-grey-zoom5-erase-ema --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 --fine-tune-ema 0.99 "${LONG[@]}" --train-on train --no-test ;;
  # (42) recipe (36) with patches up to half the photo instead of a third (--erase-size 0.5):
  #      covered photos are the proxies' largest gap to its target (69.7% against 82), and a
  #      patch on every photo (35) bought +2.1 there for 1.1 of clean accuracy; larger patches on
  #      half of them is the other way to show the model more hidden flower. Same rule as (40),
  #      set before the run
  fold-grey-zoom5-erase-big) train fold-grey-zoom5-erase-big --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 --erase-size 0.5 "${LONG[@]}" --train-on train --no-test ;;
  # (43) recipe (42) on the second fold (trained on val, validated on train), run only if (42)
  #      passes its rule. (44) its refit on train+val replaces the shipped recipe only if,
  #      averaged over both folds, it is at least 0.5 points ahead of (36) on the mean of the
  #      changed versions and at most 0.5 behind on clean photos: the rule of (37, 38)
  swap-grey-zoom5-erase-big) train swap-grey-zoom5-erase-big --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 --erase-size 0.5 "${LONG[@]}" --train-on val --no-test ;;
  grey-zoom5-erase-big-final) train grey-zoom5-erase-big-final --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 --erase-size 0.5 "${LONG[@]}" --train-on train+val ;;
  # (45) recipe (36) distilled from the first fold's ensemble: fold-ensemble4, the mean of four
  #      train-only runs of this recipe family (fold-grey-zoom-erase, fold-grey-zoom5-erase and
  #      its -ema and -big variants; no validation photo seen), blended half into every
  #      fine-tuning target (--distill 0.5). The issue's named lever for test >= 93%. Same rule
  #      as (40), set before the run: the second fold only if at least 0.5 points ahead of (36)
  #      on the mean of the changed versions and at most 0.5 behind on clean photos
  fold-ensemble4) echo "== fold-ensemble4"; "$PY" -m flowerdash ensemble --no-test \
            --name fold-ensemble4 --checkpoint-dir "$OUT" "$OUT/fold-grey-zoom-erase" \
            "$OUT/fold-grey-zoom5-erase" "$OUT/fold-grey-zoom5-erase-ema" \
            "$OUT/fold-grey-zoom5-erase-big" ;;
  fold-grey-zoom5-erase-kd) train fold-grey-zoom5-erase-kd --augment basic --grayscale 0.2 \
            --zoom 0.5 --erase 0.5 --teacher "$OUT/fold-ensemble4" --distill 0.5 "${LONG[@]}" \
            --train-on train --no-test ;;
  # (46) the weights of fold-ensemble4's four members averaged into one model (a "model soup",
  #      Wortsman et al. 2022; `ensemble --average weights`): they share their start (ImageNet
  #      weights and a head trained on the same cached features with one seed) and differ only
  #      in fine-tuning. Measured on val before any rule was set, as a look: it prompted (47-49)
  fold-soup4) soup fold-soup4 fold-grey-zoom-erase fold-grey-zoom5-erase \
            fold-grey-zoom5-erase-ema fold-grey-zoom5-erase-big ;;
  # (47, 48) the same without -ema, the one member with no second-fold run: recipes (33), (36)
  #      and (42) averaged on the first fold, and their second-fold runs (37), (38), (43). Rule,
  #      set before either was measured: (49), the average of the three recipes' refits on
  #      train+val, (34), (39) and (44), replaces the shipped model only if, averaged over both
  #      folds, it is at least 0.5 points ahead of (36) and (38) on the mean of the changed
  #      versions and at most 0.5 behind on clean photos: the rule of (37, 38). (44) is trained
  #      for this average, not to ship alone
  fold-soup3) soup fold-soup3 fold-grey-zoom-erase fold-grey-zoom5-erase \
            fold-grey-zoom5-erase-big ;;
  swap-soup3) soup swap-soup3 swap-grey-zoom-erase swap-grey-zoom5-erase \
            swap-grey-zoom5-erase-big ;;
  soup3-final) soup soup3-final grey-zoom-erase-final grey-zoom5-erase-final \
            grey-zoom5-erase-big-final ;;
  # (50) a greedy soup of the first fold (benchmarks.greedy_soup): every train-only run from the
  #      shared start whose checkpoint is kept, best own validation score first, each kept if
  #      it raises the mean of the changed versions and costs at most 0.5 points on clean
  #      photos (fold-train and fold-grey-zoom are gone). A look for the next recipe, not a
  #      ship. Rule, set before it ran: it goes to the second fold only if it is at least 0.5
  #      points ahead of (47) fold-soup3 on the changed versions and at most 0.5 behind on clean
  fold-greedy-soup) echo "== fold-greedy-soup"; "$PY" -m benchmarks.greedy_soup \
            --name fold-greedy-soup "$OUT/fold-grey-zoom-erase" "$OUT/fold-grey-zoom5-erase-big" \
            "$OUT/fold-grey-zoom5-erase-ema" "$OUT/fold-grey-zoom5-erase" \
            "$OUT/fold-grey-zoom-erase1" "$OUT/fold-grey-zoom5-erase-kd" \
            "$OUT/fold-grey-zoom5-erase-ra" 2>&1 | grep -v "^I0000\|^E0000\|^WARNING\|absl\|cuda" \
            | tee "$OUT/fold-greedy-soup.log"
            if [ -d "$OUT/fold-greedy-soup" ]; then
              "$PY" -m benchmarks.run_record "$OUT/fold-greedy-soup" fold-greedy-soup
            fi ;;
  # (51) recipe (36) with CutMix on every fine-tuning batch (--cutmix-alpha 1.0): patches of
  #      other flowers over part of each photo, as a soup ingredient that differs more from the
  #      others than (50)'s did (MixUp/CutMix cost a point of val alone in (14), and bought 13
  #      points under occlusion of the centre in (3)). (52) is fold-soup3's three runs
  #      and this one averaged. Rule, set before the run: the second fold only if (52) is at
  #      least 0.5 points ahead of (47) fold-soup3 on the mean of the changed versions and at
  #      most 0.5 behind on clean photos
  fold-grey-zoom5-erase-cutmix) train fold-grey-zoom5-erase-cutmix --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --cutmix-alpha 1.0 "${LONG[@]}" \
            --train-on train --no-test ;;
  fold-soup3-cutmix) soup fold-soup3-cutmix fold-grey-zoom-erase fold-grey-zoom5-erase \
            fold-grey-zoom5-erase-big fold-grey-zoom5-erase-cutmix ;;
  # (53) recipe (42) with half the covered patches one flat colour of a random shade instead of
  #      noise (--erase-flat 0.5): hands, leaves and labels are smooth, and covered photos are
  #      still the proxies' largest gap (fold-soup3: 74.1% against 82). (54) is fold-soup3 with
  #      (53) in place of (42). Rule, set before the run: (55) the second fold of both only if
  #      (54) is at least 0.5 points ahead of (47) fold-soup3 on the mean of the changed versions
  #      and at most 0.5 behind on clean photos; (57), the average of (34), (39) and (56), the
  #      refit of (53), replaces the shipped soup3-final only if the same holds averaged over both
  #      folds against (47, 48). Not run: (54) fell short of its rule
  fold-grey-zoom5-erase-big-flat) train fold-grey-zoom5-erase-big-flat --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 --erase-flat 0.5 \
            "${LONG[@]}" --train-on train --no-test ;;
  fold-soup3-flat) soup fold-soup3-flat fold-grey-zoom-erase fold-grey-zoom5-erase \
            fold-grey-zoom5-erase-big-flat ;;
  swap-grey-zoom5-erase-big-flat) train swap-grey-zoom5-erase-big-flat --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 --erase-flat 0.5 \
            "${LONG[@]}" --train-on val --no-test ;;
  swap-soup3-flat) soup swap-soup3-flat swap-grey-zoom-erase swap-grey-zoom5-erase \
            swap-grey-zoom5-erase-big-flat ;;
  grey-zoom5-erase-big-flat-final) train grey-zoom5-erase-big-flat-final --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 --erase-flat 0.5 \
            "${LONG[@]}" --train-on train+val ;;
  soup3-flat-final) soup soup3-flat-final grey-zoom-erase-final grey-zoom5-erase-final \
            grey-zoom5-erase-big-flat-final ;;
  # (58, 59) recipes (33) and (36) with the flat-colour patches of (53) (--erase-flat 0.5): in
  #      (54) one member's +5.8 points on covered photos came out as +2.1 in the average of
  #      three, so here every member learns them. (60) is the average of (53), (58) and (59).
  #      Rule, set before the runs: the second fold only if (60) is at least 0.5 points ahead of
  #      (47) fold-soup3 on the mean of the changed versions and at most 0.5 behind on clean
  fold-grey-zoom-erase-flat) train fold-grey-zoom-erase-flat --augment basic --grayscale 0.2 \
            --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" --train-on train --no-test ;;
  fold-grey-zoom5-erase-flat) train fold-grey-zoom5-erase-flat --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --train-on train --no-test ;;
  fold-soup3-allflat) soup fold-soup3-allflat fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat ;;
  # (61-64) the second fold of (53), (58), (59) and their average (60), run only if (60) passes
  #      its rule; (65-67) their refits on train+val and (68) the average of those, which
  #      replaces the shipped soup3-final only if, averaged over both folds, (60) and (64) are at
  #      least 0.5 points ahead of (47, 48) on the mean of the changed versions and at most 0.5
  #      behind on clean photos. Set with (58-60), before any of them was measured. Not
  #      run then: (60) fell short of its rule
  # (72) (61-64) run after all, under this rule, set before they ran: (60) came within 0.03
  #      points of its rule, and its +3.8 points on covered photos is the largest gain left, so
  #      the second fold is the fresh evidence that decides it, not another look at the first.
  #      The refits (65-68) follow, and (68) replaces soup3-final, only by (61-64)'s own rule
  #      above: averaged over both folds, (60) and (64) at least 0.5 points ahead of (47, 48) on
  #      the mean of the changed versions and at most 0.5 behind on clean photos
  #      Passed: +0.8 on the changed versions and +0.1 on clean photos over both folds, so
  #      (65-68) were trained
  # (76) (53), (58-60) and (65-68) trained again, same recipes and seeds: their checkpoints
  #      were lost with the machine before (68) shipped, and shipping needs (68) and, for its
  #      temperature and unsure threshold, (60). Rule, set before the runs: (68) ships as decided
  #      under (72); where a run's numbers differ from its first record, the new record replaces
  #      it (the shipped file must match its record) and RESULTS says by how much
  swap-grey-zoom-erase-flat) train swap-grey-zoom-erase-flat --augment basic --grayscale 0.2 \
            --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" --train-on val --no-test ;;
  swap-grey-zoom5-erase-flat) train swap-grey-zoom5-erase-flat --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --train-on val --no-test ;;
  swap-soup3-allflat) soup swap-soup3-allflat swap-grey-zoom-erase-flat \
            swap-grey-zoom5-erase-flat swap-grey-zoom5-erase-big-flat ;;
  grey-zoom-erase-flat-final) train grey-zoom-erase-flat-final --augment basic \
            --grayscale 0.2 --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --train-on train+val ;;
  grey-zoom5-erase-flat-final) train grey-zoom5-erase-flat-final --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --train-on train+val ;;
  soup3-allflat-final) soup soup3-allflat-final grey-zoom-erase-flat-final \
            grey-zoom5-erase-flat-final grey-zoom5-erase-big-flat-final ;;
  # (69) the greedy soup of (50) again, its pool grown by the flat-colour runs (53), (58), (59)
  #      and the CutMix run (51): eleven train-only runs from the shared start, best own
  #      validation score first. Same rule as (50), set before it ran: the second fold only if
  #      it ends at least 0.5 points ahead of (47) fold-soup3 on the mean of the changed
  #      versions and at most 0.5 behind on clean photos
  fold-greedy-soup-flat) echo "== fold-greedy-soup-flat"; "$PY" -m benchmarks.greedy_soup \
            --name fold-greedy-soup-flat "$OUT/fold-grey-zoom-erase" \
            "$OUT/fold-grey-zoom5-erase-big" "$OUT/fold-grey-zoom5-erase-ema" \
            "$OUT/fold-grey-zoom5-erase-big-flat" "$OUT/fold-grey-zoom5-erase" \
            "$OUT/fold-grey-zoom-erase1" "$OUT/fold-grey-zoom5-erase-flat" \
            "$OUT/fold-grey-zoom5-erase-kd" "$OUT/fold-grey-zoom-erase-flat" \
            "$OUT/fold-grey-zoom5-erase-cutmix" "$OUT/fold-grey-zoom5-erase-ra" 2>&1 \
            | grep -v "^I0000\|^E0000\|^WARNING\|absl\|cuda" | tee "$OUT/fold-greedy-soup-flat.log"
            if [ -d "$OUT/fold-greedy-soup-flat" ]; then
              "$PY" -m benchmarks.run_record "$OUT/fold-greedy-soup-flat" fold-greedy-soup-flat
            fi ;;
  # (70) recipe (53) with every covered patch flat (--erase-flat 1.0), the dose question the
  #      half-and-half runs leave open; (71) is fold-soup3-allflat with (70) in place of (53).
  #      Rule, set before the run: the second fold only if (71) is at least 0.5 points ahead of
  #      (47) fold-soup3 on the mean of the changed versions and at most 0.5 behind on clean
  fold-grey-zoom5-erase-big-flat1) train fold-grey-zoom5-erase-big-flat1 --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 --erase-flat 1.0 \
            "${LONG[@]}" --train-on train --no-test ;;
  fold-soup3-allflat1) soup fold-soup3-allflat1 fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat1 ;;
  # (73) WiSE-FT (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models"): fine-tuned
  #      weights moved part of the way back to where fine-tuning started, which kept much of
  #      the start's robustness to changed photos there. (73) fold-start is that start alone,
  #      the ImageNet backbone and the head of 30 epochs on cached features that every run
  #      from (13) on shares (no fine-tuning). (74) averages it with (60)'s three runs, a
  #      quarter of the weight; (75) lists it three times, a half. A doubt stated before: the
  #      frozen backbone's probe scored 52.1% on the team's web photos against 60.1% fine-tuned.
  #      Rule, set before the runs: the second fold only if (74) or (75) is at least 0.5 points
  #      ahead of (60) fold-soup3-allflat on the mean of the changed versions and at most 0.5
  #      behind on clean photos (the higher mean if both). Both fell short: the start is far
  #      less robust than the runs (64.8% on the changed versions); (74) -0.5, (75) -2.8
  fold-start) train fold-start --augment basic --no-head-augment --epochs 30 \
            --fine-tune-epochs 0 --label-smoothing 0.1 --train-on train --no-test ;;
  fold-wise25-allflat) soup fold-wise25-allflat fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat fold-start ;;
  fold-wise50-allflat) soup fold-wise50-allflat fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat fold-start fold-start \
            fold-start ;;
  # (77) the teacher of (78): (60) fold-soup3-allflat with its own temperature inside, fitted
  #      on the validation photos (benchmarks.calibrate; one number fitted on val reaches the
  #      student, which sees no validation photo). (45) distilled from an uncalibrated, far too
  #      modest teacher, so half of every target was a nearly flat spread, flattest on covered
  #      photos; RESULTS named a calibrated teacher as the next distillation to try.
  # (78) recipe (53) (fold-grey-zoom5-erase-big-flat) distilled from (77), half of every
  #      fine-tuning target from the teacher's answer on the same augmented photo
  #      (--distill 0.5). (79) is (60) with (78) in place of (53). Rule, set before the runs:
  #      the second fold only if (79) is at least 0.5 points ahead of (60) fold-soup3-allflat on
  #      the mean of the changed versions and at most 0.5 behind on clean photos. Fell short:
  #      (79) -0.2 on the changed versions; (78) alone -2.1 on covered photos
  fold-soup3-allflat-cal) echo "== fold-soup3-allflat-cal"; rm -rf "$OUT/fold-soup3-allflat-cal"
            cp -r "$OUT/fold-soup3-allflat" "$OUT/fold-soup3-allflat-cal"
            "$PY" -m benchmarks.calibrate --fold "$OUT/fold-soup3-allflat" \
              --target "$OUT/fold-soup3-allflat-cal" --out "$OUT/fold-soup3-allflat-cal.json" ;;
  fold-grey-zoom5-erase-big-flat-kd) train fold-grey-zoom5-erase-big-flat-kd --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 --erase-flat 0.5 \
            --teacher "$OUT/fold-soup3-allflat-cal" --distill 0.5 "${LONG[@]}" \
            --train-on train --no-test ;;
  fold-soup3-allflat-kd) soup fold-soup3-allflat-kd fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat-kd ;;
  # (80) recipe (53) (fold-grey-zoom5-erase-big-flat) fine-tuned 36 epochs instead of 24, the
  #      cosine from 3e-4 stretched to fit: of (60)'s three runs it fits its own augmented photos
  #      least (training accuracy 94.1% in the last epoch against 97.3% and 98.5%), and strong
  #      augmentation is known to want longer schedules; 1.5x its training time. (81) is (60)
  #      with (80) in place of (53). A doubt stated before: a run that moves further from the
  #      shared start may average less well with the other two. Rule, set before the run: the
  #      second fold only if (81) is at least 0.5 points ahead of (60) fold-soup3-allflat on
  #      the mean of the changed versions and at most 0.5 behind on clean photos
  fold-grey-zoom5-erase-big-flat-long) train fold-grey-zoom5-erase-big-flat-long \
            --augment basic --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 \
            --erase-flat 0.5 "${LONG[@]}" --fine-tune-epochs 36 --train-on train --no-test ;;
  # (82) (60)'s three runs and (80) averaged, four members: set with (80) still training, before
  #      any of its numbers was seen, for the doubt above (it keeps the shorter twin too). Same
  #      rule as (81); if both pass, the one with the higher mean of the changed versions goes on
  fold-soup3-allflat-long) soup fold-soup3-allflat-long fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat-long ;;
  fold-soup4-allflat-long) soup fold-soup4-allflat-long fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat \
            fold-grey-zoom5-erase-big-flat-long ;;
  # (87, 88) the second fold of (80) and (82): swap-grey-zoom5-erase-big-flat-long and
  #      swap-soup4-allflat-long, beside (61-63) trained again (their checkpoints went with the
  #      machine, (76)'s reason; a record that differs is replaced and RESULTS says by how much).
  #      (82) passed its rule (+0.53 on the changed versions, +0.39 on clean photos) and (81) did
  #      not (+0.36). Rule, set before these runs: (89), the refit of (80) on train+val, and
  #      (90), the average of (65-67) and (89), replace the shipped soup3-allflat-final only if,
  #      averaged over both folds, (82) and (88) are at least 0.5 points ahead of (60) and (64)
  #      on the mean of the changed versions and at most 0.5 behind on clean photos
  swap-grey-zoom5-erase-big-flat-long) train swap-grey-zoom5-erase-big-flat-long \
            --augment basic --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 \
            --erase-flat 0.5 "${LONG[@]}" --fine-tune-epochs 36 --train-on val --no-test ;;
  swap-soup4-allflat-long) soup swap-soup4-allflat-long swap-grey-zoom-erase-flat \
            swap-grey-zoom5-erase-flat swap-grey-zoom5-erase-big-flat \
            swap-grey-zoom5-erase-big-flat-long ;;
  grey-zoom5-erase-big-flat-long-final) train grey-zoom5-erase-big-flat-long-final \
            --augment basic --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 \
            --erase-flat 0.5 "${LONG[@]}" --fine-tune-epochs 36 --train-on train+val ;;
  soup4-allflat-long-final) soup soup4-allflat-long-final grey-zoom-erase-flat-final \
            grey-zoom5-erase-flat-final grey-zoom5-erase-big-flat-final \
            grey-zoom5-erase-big-flat-long-final ;;
  # (91) recipe (59) (fold-grey-zoom5-erase-flat) fine-tuned 36 epochs instead of 24, as (80)
  #      did for (53): after (53), it fits its own augmented photos least of the shipped
  #      members (97.2% in its last epoch, against 98.5% for (58)), and (80)'s longer schedule
  #      gained most on that member (+1.1 alone on the changed versions). (92) is (82)'s four
  #      runs and (91) averaged, beside (59) as (82) kept (53), because adding beside passed where
  #      replacing did not. Rule, set before the runs: the second fold only if (92) is at least
  #      0.5 points ahead of (82) fold-soup4-allflat-long, the shipped recipe's fold, on the mean
  #      of the changed versions and at most 0.5 behind on clean photos
  fold-grey-zoom5-erase-flat-long) train fold-grey-zoom5-erase-flat-long --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --fine-tune-epochs 36 --train-on train --no-test ;;
  fold-soup5-allflat-long) soup fold-soup5-allflat-long fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat \
            fold-grey-zoom5-erase-big-flat-long fold-grey-zoom5-erase-flat-long ;;
  # (93) recipe (58) (fold-grey-zoom-erase-flat) fine-tuned 36 epochs, the last shipped member
  #      not yet trained longer: (91) alone gained 2.0 points on the changed versions and 1.4 on
  #      clean photos over (59), more than the 0.3 its place in an average of five gave (92, short
  #      of its rule). (94) averages the three longer runs (80), (91), (93) alone; (95) averages
  #      them with the three shorter ones, as (82) kept (53). Rule, set before the runs: the
  #      second fold only for one that is at least 0.5 points ahead of (82) fold-soup4-allflat-long
  #      on the mean of the changed versions and at most 0.5 behind on clean photos; if both
  #      pass, the one with the higher mean of the changed versions
  fold-grey-zoom-erase-flat-long) train fold-grey-zoom-erase-flat-long --augment basic \
            --grayscale 0.2 --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --fine-tune-epochs 36 --train-on train --no-test ;;
  fold-soup3-alllong) soup fold-soup3-alllong fold-grey-zoom-erase-flat-long \
            fold-grey-zoom5-erase-flat-long fold-grey-zoom5-erase-big-flat-long ;;
  fold-soup6-allflat-long) soup fold-soup6-allflat-long fold-grey-zoom-erase-flat \
            fold-grey-zoom5-erase-flat fold-grey-zoom5-erase-big-flat \
            fold-grey-zoom-erase-flat-long fold-grey-zoom5-erase-flat-long \
            fold-grey-zoom5-erase-big-flat-long ;;
  # (96-98) the second fold of (94), which passed its rule (+0.55 on the changed versions, +0.2
  #      on clean photos): (93) and (91) trained on val, and their average with (87). Rule, set
  #      before these runs: (99, 100), the refits of (93) and (91) on train+val, and (101), their
  #      average with (89), replace the shipped soup4-allflat-long-final only if, averaged over
  #      both folds, (94) and (98) are at least 0.5 points ahead of (82) and (88) on the mean of
  #      the changed versions and at most 0.5 behind on clean photos
  swap-grey-zoom-erase-flat-long) train swap-grey-zoom-erase-flat-long --augment basic \
            --grayscale 0.2 --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --fine-tune-epochs 36 --train-on val --no-test ;;
  swap-grey-zoom5-erase-flat-long) train swap-grey-zoom5-erase-flat-long --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --fine-tune-epochs 36 --train-on val --no-test ;;
  swap-soup3-alllong) soup swap-soup3-alllong swap-grey-zoom-erase-flat-long \
            swap-grey-zoom5-erase-flat-long swap-grey-zoom5-erase-big-flat-long ;;
  grey-zoom-erase-flat-long-final) train grey-zoom-erase-flat-long-final --augment basic \
            --grayscale 0.2 --zoom 0.3 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --fine-tune-epochs 36 --train-on train+val ;;
  grey-zoom5-erase-flat-long-final) train grey-zoom5-erase-flat-long-final --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            --fine-tune-epochs 36 --train-on train+val ;;
  soup3-alllong-final) soup soup3-alllong-final grey-zoom-erase-flat-long-final \
            grey-zoom5-erase-flat-long-final grey-zoom5-erase-big-flat-long-final ;;
  # (102) recipe (80) (the big-patch member) fine-tuned 48 epochs instead of 36: 24 -> 36
  #      epochs passed on both folds (96-101) and the runs' validation curves still rose at their
  #      last epochs; the big-patch member is the one the covered photos (target 82, shipped
  #      recipe 80.4%) owe most to. (103) averages (93), (91) and (102): the shipped recipe with
  #      that member trained longer. Rule, set before the runs: the second fold only if (103) is
  #      at least 0.5 points ahead of (94) fold-soup3-alllong on the mean of the changed versions
  #      and at most 0.5 behind on clean photos
  fold-grey-zoom5-erase-big-flat-xlong) train fold-grey-zoom5-erase-big-flat-xlong \
            "${FLAT5BIG[@]}" --fine-tune-epochs 48 --train-on train --no-test ;;
  fold-soup3-alllong-x) soup fold-soup3-alllong-x fold-grey-zoom-erase-flat-long \
            fold-grey-zoom5-erase-flat-long fold-grey-zoom5-erase-big-flat-xlong ;;
  # (104, 105) the second fold of (103), run only if (103) passes its rule: (102) trained on
  #      val, and its average with (96) and (97). Rule, set before (102) finished: (106), the
  #      refit of (102) on train+val, and (107), its average with (99) and (100), replace the
  #      shipped soup3-alllong-final only if, averaged over both folds, (103) and (105) are at
  #      least 0.5 points ahead of (94) and (98) on the mean of the changed versions and at most
  #      0.5 behind on clean photos
  swap-grey-zoom5-erase-big-flat-xlong) train swap-grey-zoom5-erase-big-flat-xlong \
            "${FLAT5BIG[@]}" --fine-tune-epochs 48 --train-on val --no-test ;;
  swap-soup3-alllong-x) soup swap-soup3-alllong-x swap-grey-zoom-erase-flat-long \
            swap-grey-zoom5-erase-flat-long swap-grey-zoom5-erase-big-flat-xlong ;;
  grey-zoom5-erase-big-flat-xlong-final) train grey-zoom5-erase-big-flat-xlong-final \
            "${FLAT5BIG[@]}" --fine-tune-epochs 48 --train-on train+val ;;
  soup3-alllong-x-final) soup soup3-alllong-x-final grey-zoom-erase-flat-long-final \
            grey-zoom5-erase-flat-long-final grey-zoom5-erase-big-flat-xlong-final ;;
  # (108) (94)'s three runs and (102) averaged, four members: (103) replaced (80) by (102) and
  #      fell short (+0.42 on the changed versions); (82) added (80) beside its twin where
  #      replacing had not passed, so the same is tried here, set after (103)'s numbers and
  #      before (108)'s. The same rule as (103): the second fold only if (108) is at least 0.5
  #      points ahead of (94) on the mean of the changed versions and at most 0.5 behind on
  #      clean photos; if it passes, (109) is (104) and (110) its average with (96), (97), (87)
  fold-soup4-alllong-x) soup fold-soup4-alllong-x fold-grey-zoom-erase-flat-long \
            fold-grey-zoom5-erase-flat-long fold-grey-zoom5-erase-big-flat-long \
            fold-grey-zoom5-erase-big-flat-xlong ;;
  swap-soup4-alllong-x) soup swap-soup4-alllong-x swap-grey-zoom-erase-flat-long \
            swap-grey-zoom5-erase-flat-long swap-grey-zoom5-erase-big-flat-long \
            swap-grey-zoom5-erase-big-flat-xlong ;;
  # (111, 112) recipes (93) and (91) fine-tuned 48 epochs, the other two members of (94): one
  #      member at 48 epochs gained 1.2 points alone but the average only 0.42 (103) or 0.49
  #      (108), as one member at 36 had; all three at 36 passed. (113) averages (111), (112) and
  #      (102). Rule, set before any of them ran: the second fold only if (113) is at least 0.5
  #      points ahead of (94) fold-soup3-alllong on the mean of the changed versions and at most
  #      0.5 behind on clean photos
  fold-grey-zoom-erase-flat-xlong) train fold-grey-zoom-erase-flat-xlong "${FLAT3[@]}" \
            --fine-tune-epochs 48 --train-on train --no-test ;;
  fold-grey-zoom5-erase-flat-xlong) train fold-grey-zoom5-erase-flat-xlong "${FLAT5[@]}" \
            --fine-tune-epochs 48 --train-on train --no-test ;;
  fold-soup3-allxlong) soup fold-soup3-allxlong fold-grey-zoom-erase-flat-xlong \
            fold-grey-zoom5-erase-flat-xlong fold-grey-zoom5-erase-big-flat-xlong ;;
  # (114-116) the second fold of (113), run only if (113) passes its rule: (111) and (112)
  #      trained on val, and their average with (104). Rule, set before (112) finished: (117,
  #      118), the refits of (111) and (112) on train+val, and (119), their average with (106),
  #      replace the shipped soup3-alllong-final only if, averaged over both folds, (113) and
  #      (116) are at least 0.5 points ahead of (94) and (98) on the mean of the changed
  #      versions and at most 0.5 behind on clean photos
  swap-grey-zoom-erase-flat-xlong) train swap-grey-zoom-erase-flat-xlong "${FLAT3[@]}" \
            --fine-tune-epochs 48 --train-on val --no-test ;;
  swap-grey-zoom5-erase-flat-xlong) train swap-grey-zoom5-erase-flat-xlong "${FLAT5[@]}" \
            --fine-tune-epochs 48 --train-on val --no-test ;;
  swap-soup3-allxlong) soup swap-soup3-allxlong swap-grey-zoom-erase-flat-xlong \
            swap-grey-zoom5-erase-flat-xlong swap-grey-zoom5-erase-big-flat-xlong ;;
  grey-zoom-erase-flat-xlong-final) train grey-zoom-erase-flat-xlong-final "${FLAT3[@]}" \
            --fine-tune-epochs 48 --train-on train+val ;;
  grey-zoom5-erase-flat-xlong-final) train grey-zoom5-erase-flat-xlong-final "${FLAT5[@]}" \
            --fine-tune-epochs 48 --train-on train+val ;;
  soup3-allxlong-final) soup soup3-allxlong-final grey-zoom-erase-flat-xlong-final \
            grey-zoom5-erase-flat-xlong-final grey-zoom5-erase-big-flat-xlong-final ;;
  # (120) (94)'s three runs and (113)'s three averaged, six members: with the 48-epoch members
  #      in place of their twins (103, 113) or one beside its twin (108), each average fell
  #      short by 0.01 to 0.10 points, and beside came closest; set after (113)'s numbers and
  #      before (120)'s. The same rule: the second fold only if (120) is at least 0.5 points
  #      ahead of (94) on the mean of the changed versions and at most 0.5 behind on clean
  #      photos; if it passes, (121) averages (98)'s three runs with (104), (114) and (115)
  fold-soup6-alllong-xlong) soup fold-soup6-alllong-xlong fold-grey-zoom-erase-flat-long \
            fold-grey-zoom5-erase-flat-long fold-grey-zoom5-erase-big-flat-long \
            fold-grey-zoom-erase-flat-xlong fold-grey-zoom5-erase-flat-xlong \
            fold-grey-zoom5-erase-big-flat-xlong ;;
  swap-soup6-alllong-xlong) soup swap-soup6-alllong-xlong swap-grey-zoom-erase-flat-long \
            swap-grey-zoom5-erase-flat-long swap-grey-zoom5-erase-big-flat-long \
            swap-grey-zoom-erase-flat-xlong swap-grey-zoom5-erase-flat-xlong \
            swap-grey-zoom5-erase-big-flat-xlong ;;
  # (122) the refit of (120): (120) passed its rule (+0.70 on the changed versions, +0.49 on
  #      clean photos), so (121) is run. Rule, set before any run of (121) finished: (122), the
  #      average of the three shipped refits of (94)'s runs with (106), (117) and (118), the
  #      refits of (102), (111) and (112) on train+val, replaces the shipped soup3-alllong-final
  #      only if, averaged over both folds, (120) and (121) are at least 0.5 points ahead of
  #      (94) and (98) on the mean of the changed versions and at most 0.5 behind on clean photos
  soup6-alllong-xlong-final) soup soup6-alllong-xlong-final grey-zoom-erase-flat-long-final \
            grey-zoom5-erase-flat-long-final grey-zoom5-erase-big-flat-long-final \
            grey-zoom-erase-flat-xlong-final grey-zoom5-erase-flat-xlong-final \
            grey-zoom5-erase-big-flat-xlong-final ;;
  # (123, 124) (94) fold-soup3-alllong with its BatchNorm statistics recomputed on the fold's
  #      training photos, as SWA does after averaging: every run kept BatchNorm frozen at its
  #      ImageNet statistics, so no layer's statistics describe the fine-tuned weights it
  #      follows, let alone the average. (123) from the plain photos (one pass), (124) from
  #      them augmented as the members were (two passes). Set after a pooling probe failed and
  #      before either's numbers. Rule: the better of the two on the mean of the changed
  #      versions goes to the second fold, (125) the same done to (98) swap-soup3-alllong with
  #      the val photos, only if it is at least 0.5 points ahead of (94) on the mean of the
  #      changed versions and at most 0.5 behind on clean photos; (126), the same done to the
  #      shipped soup3-alllong-final with train+val photos, replaces it only if, averaged over
  #      both folds, (123 or 124) and (125) are at least 0.5 points ahead of (94) and (98) on
  #      the mean of the changed versions and at most 0.5 behind on clean photos.
  #      Withdrawn before any run was recorded: the offline weights' BatchNorm layers hold
  #      folded biases over identity statistics (gamma 1, mean 0, var 1-eps; see the weights
  #      folder's README), so there are no statistics to bring up to date; recomputing them
  #      whitens every channel and drops the scales folded into the convolutions (a probe of
  #      (123) answered at chance)
  # (127, 128) (94) answering every photo enlarged inside the model to 256 px (127) or 288 px
  #      (128) before the backbone, without training: the runs train on random zooms of up to
  #      50% but answer a centre crop, so at test a flower looks smaller than the ones trained
  #      on, most of all in zoomed-out photos and four flowers in a grid (the train/test
  #      resolution discrepancy, Touvron et al. 2019). Set before either's numbers. Rule: the
  #      better of the two on the mean of the changed versions goes to the second fold, (129)
  #      the same done to (98), only if it is at least 0.5 points ahead of (94) on the mean of
  #      the changed versions and at most 0.5 behind on clean photos; (130), the same done to
  #      soup3-alllong-final, replaces it only if, averaged over both folds, it and (129) are at
  #      least 0.5 points ahead of (94) and (98) on the mean of the changed versions and at
  #      most 0.5 behind on clean photos
  fold-soup3-alllong-up256) soup fold-soup3-alllong-up256 --backbone-size=256 \
            fold-grey-zoom-erase-flat-long fold-grey-zoom5-erase-flat-long \
            fold-grey-zoom5-erase-big-flat-long ;;
  fold-soup3-alllong-up288) soup fold-soup3-alllong-up288 --backbone-size=288 \
            fold-grey-zoom-erase-flat-long fold-grey-zoom5-erase-flat-long \
            fold-grey-zoom5-erase-big-flat-long ;;
  swap-soup3-alllong-up288) soup swap-soup3-alllong-up288 --backbone-size=288 \
            swap-grey-zoom-erase-flat-long swap-grey-zoom5-erase-flat-long \
            swap-grey-zoom5-erase-big-flat-long ;;
  soup3-alllong-up288-final) soup soup3-alllong-up288-final --backbone-size=288 \
            grey-zoom-erase-flat-long-final grey-zoom5-erase-flat-long-final \
            grey-zoom5-erase-big-flat-long-final ;;
  # (131-134) The test robustness run of the shipped soup3-alllong-up288-final (flowerdash
  #      robustness, 200 test photos, 11 variations at 3 severities), read after (130) shipped
  #      it, is 2.2 points behind soup3-alllong-final over its 33 conditions: behind under blur,
  #      noise, JPEG and zoom-in. The team's twelve-corruption mean is of that kind, so the same
  #      variations judge it on photos a fold may be chosen on (accuracy_runs.sh
  #      robustness-folds): (131) fold-soup3-alllong, -up256 and -up288 on all val photos;
  #      (132) swap-soup3-alllong-up256, the second fold of (127), with its proxies; (133)
  #      swap-soup3-alllong, -up256 and -up288 on all train photos. Set before any of their
  #      numbers. Rule: the 288-px average stays shipped only if, averaged over both folds, it
  #      is at most 0.5 points behind the unenlarged average on the mean over the 33
  #      conditions. Otherwise (134), the 256-px average of the shipped refits, replaces it if
  #      over both folds it is at least 0.5 points ahead of the unenlarged average on the mean
  #      of the changed versions, at most 0.5 behind on clean photos and at most 0.5 behind on
  #      the 33-condition mean; else soup3-alllong-final is shipped again
  swap-soup3-alllong-up256) soup swap-soup3-alllong-up256 --backbone-size=256 \
            swap-grey-zoom-erase-flat-long swap-grey-zoom5-erase-flat-long \
            swap-grey-zoom5-erase-big-flat-long ;;
  soup3-alllong-up256-final) soup soup3-alllong-up256-final --backbone-size=256 \
            grey-zoom-erase-flat-long-final grey-zoom5-erase-flat-long-final \
            grey-zoom5-erase-big-flat-long-final ;;
  # (135-138) the three members of the shipped recipe, each with a fifth of its photos shown as
  #      a 2×2 grid of four crops of themselves while fine-tuning (--tiles 0.2, the share grey
  #      photos have), and (138) their average enlarged to 256 px as shipped: several flowers in
  #      one frame is one of the issue's causes, its proxy (four flowers in a grid) the shipped
  #      recipe's second-weakest version, and no run has trained on such pictures; averaging
  #      views (benchmarks.views) gained at most 0.8 points. Rule, set before any of them ran:
  #      the second fold (139-142) only if (138) is at least 0.5 points ahead of (127)
  #      fold-soup3-alllong-up256 on the mean of the changed versions, ahead on the mean of the
  #      seven other than four flowers in a grid (the grid is what it trains on), and at most
  #      0.5 behind on clean photos. The refits (143-146) replace the shipped model only if,
  #      averaged over both folds, (138) and (142) pass the same three tests against (127) and
  #      (132) and are at most 0.5 points behind them on the 33 conditions (robustness-folds)
  fold-grey-zoom-erase-flat-long-tiles) train fold-grey-zoom-erase-flat-long-tiles \
            "${FLAT3[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on train --no-test ;;
  fold-grey-zoom5-erase-flat-long-tiles) train fold-grey-zoom5-erase-flat-long-tiles \
            "${FLAT5[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on train --no-test ;;
  fold-grey-zoom5-erase-big-flat-long-tiles) train fold-grey-zoom5-erase-big-flat-long-tiles \
            "${FLAT5BIG[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on train --no-test ;;
  fold-soup3-alllong-tiles-up256) soup fold-soup3-alllong-tiles-up256 --backbone-size=256 \
            fold-grey-zoom-erase-flat-long-tiles fold-grey-zoom5-erase-flat-long-tiles \
            fold-grey-zoom5-erase-big-flat-long-tiles ;;
  swap-grey-zoom-erase-flat-long-tiles) train swap-grey-zoom-erase-flat-long-tiles \
            "${FLAT3[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on val --no-test ;;
  swap-grey-zoom5-erase-flat-long-tiles) train swap-grey-zoom5-erase-flat-long-tiles \
            "${FLAT5[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on val --no-test ;;
  swap-grey-zoom5-erase-big-flat-long-tiles) train swap-grey-zoom5-erase-big-flat-long-tiles \
            "${FLAT5BIG[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on val --no-test ;;
  swap-soup3-alllong-tiles-up256) soup swap-soup3-alllong-tiles-up256 --backbone-size=256 \
            swap-grey-zoom-erase-flat-long-tiles swap-grey-zoom5-erase-flat-long-tiles \
            swap-grey-zoom5-erase-big-flat-long-tiles ;;
  # (147) the three members of (127) and the three of (138) averaged, six members, enlarged to
  #      256 px as shipped: the grid-trained members gained 3.8 points on four flowers in a
  #      grid on the second fold but lost JPEG, grey and covered photos there, which the
  #      untiled members keep; averages of runs trained differently from one start have been
  #      ahead of either (82, 120). Set after (142)'s numbers and before (147)'s. Rule: the
  #      second fold (148), the same six of (132) and (142), only if (147) is at least 0.5
  #      points ahead of (127) on the mean of the changed versions and at most 0.5 behind on
  #      clean photos. (149), the three shipped refits and the refits (143-145) averaged at
  #      256 px, replaces the shipped model only if, averaged over both folds, (147) and (148)
  #      are at least 0.5 points ahead of (127) and (132) on the mean of the changed versions,
  #      at most 0.5 behind on clean photos and at most 0.5 behind on the 33 conditions
  fold-soup6-alllong-tiles-up256) soup fold-soup6-alllong-tiles-up256 --backbone-size=256 \
            fold-grey-zoom-erase-flat-long fold-grey-zoom5-erase-flat-long \
            fold-grey-zoom5-erase-big-flat-long fold-grey-zoom-erase-flat-long-tiles \
            fold-grey-zoom5-erase-flat-long-tiles fold-grey-zoom5-erase-big-flat-long-tiles ;;
  swap-soup6-alllong-tiles-up256) soup swap-soup6-alllong-tiles-up256 --backbone-size=256 \
            swap-grey-zoom-erase-flat-long swap-grey-zoom5-erase-flat-long \
            swap-grey-zoom5-erase-big-flat-long swap-grey-zoom-erase-flat-long-tiles \
            swap-grey-zoom5-erase-flat-long-tiles swap-grey-zoom5-erase-big-flat-long-tiles ;;
  # (143-145) the refits of (135-137) on train+val, and (149) their average with the three
  #      shipped refits at 256 px: trained because (147) and (148) passed the first two tests
  #      of (147)'s rule; (149) is shipped only if the 33 conditions pass too. The shipped
  #      refits live on only in their average, checkpoints/default: an average among the
  #      members counts as its three runs (flowerdash.models.ensemble), so (149) is the mean of
  #      all six runs (to float32 rounding: 1e-6 on the first fold's six)
  grey-zoom-erase-flat-long-tiles-final) train grey-zoom-erase-flat-long-tiles-final \
            "${FLAT3[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on train+val ;;
  grey-zoom5-erase-flat-long-tiles-final) train grey-zoom5-erase-flat-long-tiles-final \
            "${FLAT5[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on train+val ;;
  grey-zoom5-erase-big-flat-long-tiles-final) train grey-zoom5-erase-big-flat-long-tiles-final \
            "${FLAT5BIG[@]}" --tiles 0.2 --fine-tune-epochs 36 --train-on train+val ;;
  soup6-alllong-tiles-up256-final) [ -e "$OUT/soup3-alllong-up256-final" ] \
            || cp -r checkpoints/default "$OUT/soup3-alllong-up256-final"
          soup soup6-alllong-tiles-up256-final --backbone-size=256 soup3-alllong-up256-final \
            grey-zoom-erase-flat-long-tiles-final grey-zoom5-erase-flat-long-tiles-final \
            grey-zoom5-erase-big-flat-long-tiles-final ;;
  # (150) (91), one of the shipped recipes (fold-grey-zoom5-erase-flat-long), with a fifth of
  #      its photos blurred and a fifth given grain while fine-tuning (--blur 0.2 --noise 0.2):
  #      over the 33 conditions' three strengths the shipped model loses 55 points to pixel
  #      noise and 36 to blur (docs/RESULTS.md), which the issue's corruptions include and no run
  #      has trained on; phones blur and add grain in dim light. The proxies have neither, so
  #      this screen reads both: the 33 conditions on the val photos (robustness-folds, for
  #      (150) and for (91)) and the proxies. Set before its numbers. Rule: the other two
  #      recipes follow, each with the same change, only if (150) alone is at least 1.0 point
  #      ahead of (91) over the 33 conditions, at most 0.3 behind on the mean of the changed
  #      versions and at most 0.5 behind on clean photos
  fold-grey-zoom5-erase-flat-long-grain) train fold-grey-zoom5-erase-flat-long-grain \
            "${FLAT5[@]}" "${GRAIN[@]}" --train-on train --no-test ;;
  # (151, 152) the other two shipped recipes, (93) and (80) (fold-grey-zoom-erase-flat-long,
  #      fold-grey-zoom5-erase-big-flat-long), with the same
  #      change: trained because (150) passed (+4.35 points over the 33 conditions, +0.3 on the
  #      changed versions, +1.3 clean). Their averages with the grid-trained runs of (147),
  #      enlarged to 256 px as shipped: (153) the three grainy runs in place of their twins
  #      (six runs) and (154) beside them (nine runs). Set before any of their numbers. Rule:
  #      of (153) and (154), those at least 1.0 point ahead of (147) over the 33 conditions on
  #      the val photos, at most 0.3 behind on the mean of the changed versions and at most 0.5
  #      behind on clean photos go on; of those, the one further ahead on the mean of the
  #      changed versions is trained on the second fold, judged there the same way
  fold-grey-zoom-erase-flat-long-grain) train fold-grey-zoom-erase-flat-long-grain \
            "${FLAT3[@]}" "${GRAIN[@]}" --train-on train --no-test ;;
  fold-grey-zoom5-erase-big-flat-long-grain) train fold-grey-zoom5-erase-big-flat-long-grain \
            "${FLAT5BIG[@]}" "${GRAIN[@]}" --train-on train \
            --no-test ;;
  fold-soup6-grain-tiles-up256) soup fold-soup6-grain-tiles-up256 --backbone-size=256 \
            fold-grey-zoom-erase-flat-long-grain fold-grey-zoom5-erase-flat-long-grain \
            fold-grey-zoom5-erase-big-flat-long-grain fold-grey-zoom-erase-flat-long-tiles \
            fold-grey-zoom5-erase-flat-long-tiles fold-grey-zoom5-erase-big-flat-long-tiles ;;
  fold-soup9-grain-tiles-up256) soup fold-soup9-grain-tiles-up256 --backbone-size=256 \
            "${SOUP9[@]}" ;;
  # (155-158) the second fold of (154), chosen by (151-154)'s rule (both passed; (154) was
  #      further ahead on the changed versions): the three grainy runs trained on val, and their
  #      average with (148)'s six, judged on the train photos as (154) was on val
  swap-grey-zoom-erase-flat-long-grain) train swap-grey-zoom-erase-flat-long-grain \
            "${FLAT3[@]}" "${GRAIN[@]}" --train-on val --no-test ;;
  swap-grey-zoom5-erase-flat-long-grain) train swap-grey-zoom5-erase-flat-long-grain \
            "${FLAT5[@]}" "${GRAIN[@]}" --train-on val --no-test ;;
  swap-grey-zoom5-erase-big-flat-long-grain) train swap-grey-zoom5-erase-big-flat-long-grain \
            "${FLAT5BIG[@]}" "${GRAIN[@]}" --train-on val \
            --no-test ;;
  swap-soup9-grain-tiles-up256) soup swap-soup9-grain-tiles-up256 --backbone-size=256 \
            "${SOUP9[@]/#fold-/swap-}" ;;
  # (159-161) the three grainy recipes refitted on train+val, and (162) their average with the
  #      shipped model at 256 px (a copy of checkpoints/default, which counts as its six runs,
  #      so (162) is the mean of nine runs as (154) and (158) were). Set before (158)'s numbers.
  #      Rule: (162) replaces the shipped model only if, averaged over both folds, (154) and
  #      (158) are at least 1.0 point ahead of (147) and (148) over the 33 conditions, at most
  #      0.3 behind on the mean of the changed versions and at most 0.5 behind on clean photos
  grey-zoom-erase-flat-long-grain-final) train grey-zoom-erase-flat-long-grain-final \
            "${FLAT3[@]}" "${GRAIN[@]}" --train-on train+val ;;
  grey-zoom5-erase-flat-long-grain-final) train grey-zoom5-erase-flat-long-grain-final \
            "${FLAT5[@]}" "${GRAIN[@]}" --train-on train+val ;;
  grey-zoom5-erase-big-flat-long-grain-final) train grey-zoom5-erase-big-flat-long-grain-final \
            "${FLAT5BIG[@]}" "${GRAIN[@]}" --train-on train+val ;;
  soup9-grain-tiles-up256-final) [ -e "$OUT/soup6-alllong-tiles-up256-final" ] \
            || cp -r checkpoints/default "$OUT/soup6-alllong-tiles-up256-final"
          soup soup9-grain-tiles-up256-final --backbone-size=256 soup6-alllong-tiles-up256-final \
            grey-zoom-erase-flat-long-grain-final grey-zoom5-erase-flat-long-grain-final \
            grey-zoom5-erase-big-flat-long-grain-final ;;
  # (163) (150), the grainy recipe fold-grey-zoom5-erase-flat-long-grain, with two fifths of its
  #      photos made grey instead of one (--grayscale 0.4). With (162) shipped, grey photos are
  #      the weakest changed version after covered ones (86.1% on the first fold, 82.8% on the
  #      second, which trains on the validation photos), and the grainy runs cost them 0.5 and
  #      0.9 points against the six-run average; no run has trained on more grey than a fifth.
  #      Set before its numbers. Rule: the other two grainy recipes follow with the same change
  #      only if (163) is, against (150) on the proxies, at least 1.0 point ahead on grey
  #      photos, at least 0.3 ahead on the mean of the changed versions and at most 0.5 behind
  #      on clean photos
  fold-grey-zoom5-erase-flat-long-grain-grey4) train fold-grey-zoom5-erase-flat-long-grain-grey4 \
            --augment basic --grayscale 0.4 --zoom 0.5 --erase 0.5 --erase-flat 0.5 "${LONG[@]}" \
            "${GRAIN[@]}" --train-on train --no-test ;;
  # (164) (150) also shown a fifth of its photos as a 2×2 grid of four crops (--tiles 0.2, as
  #      the grid-trained runs (135-137)). In the shipped nine-run average the grainy runs never
  #      saw grids, and four flowers in a grid fall from 88.0% (the six-run average) to 87.0% on
  #      the first fold, 86.9% to 86.1% on the second; one run trained on both might keep both
  #      gains. Set after (163)'s numbers and before its own. Rule: the other two grainy recipes
  #      follow with the same change only if (164) is, against (150), at least 0.5 points ahead
  #      on the mean of the changed versions and at most 0.5 behind on clean photos (proxies),
  #      and at most 0.5 behind over the 33 conditions on the validation photos
  #      (robustness-folds), so that the grain's gain is kept
  fold-grey-zoom5-erase-flat-long-grain-tiles) train fold-grey-zoom5-erase-flat-long-grain-tiles \
            "${FLAT5[@]}" "${GRAIN[@]}" --tiles 0.2 --train-on train --no-test ;;
  # (165) the shipped recipe's two folds averaged again with every photo enlarged to 288 px,
  #      for benchmarks.views --recipe soup9-grain-tiles: with the recipe shipped before
  #      (soup3-alllong), answering a photo's views (its mirror image, 288 px, or both) gained
  #      up to 0.8 points on the changed versions and none reached 88%; the shipped recipe's
  #      single view starts higher. Set before any of its numbers. Rule: benchmarks.views' own
  #      (over both folds at least 88.0% on the changed versions, at most 0.5 behind on clean
  #      photos, the fewest views). A candidate that passes is built into the shipped model's
  #      answers; its explanations stay on the photo as given
  fold-soup9-grain-tiles-up288) soup fold-soup9-grain-tiles-up288 --backbone-size=288 \
            "${SOUP9[@]}" ;;
  swap-soup9-grain-tiles-up288) soup swap-soup9-grain-tiles-up288 --backbone-size=288 \
            "${SOUP9[@]/#fold-/swap-}" ;;
  # (166-168) rule (165) passed with all four views (the photo and its mirror image at 256 and
  #      288 px; 88.03% on the changed versions over both folds, clean photos 0.34 behind), so
  #      they are built into the model (flowerdash.models.views): one network, the mean of the
  #      views' logits where benchmarks.views averaged probabilities. (166, 167) the shipped
  #      recipe's folds built so; set before their numbers. Rule: (168), the nine refits built
  #      so, replaces the shipped model only if (166) and (167) on the proxies pass (165)'s rule
  #      again against fold- and swap-soup9-grain-tiles-up256 (averaged over both folds, at
  #      least 88.0% on the changed versions, at most 0.5 behind on clean photos)
  fold-soup9-views) soup fold-soup9-views --backbone-size=256 --also-size=288 --mirror \
            "${SOUP9[@]}" ;;
  swap-soup9-views) soup swap-soup9-views --backbone-size=256 --also-size=288 --mirror \
            "${SOUP9[@]/#fold-/swap-}" ;;
  soup9-views-final) [ -e "$OUT/soup6-alllong-tiles-up256-final" ] \
            || { echo "soup6-alllong-tiles-up256-final missing in $OUT" >&2; exit 1; }
          soup soup9-views-final --backbone-size=256 --also-size=288 --mirror \
            soup6-alllong-tiles-up256-final grey-zoom-erase-flat-long-grain-final \
            grey-zoom5-erase-flat-long-grain-final grey-zoom5-erase-big-flat-long-grain-final ;;
  # (83) recipe (59) (fold-grey-zoom5-erase-flat) with half the photos saved as JPEG at a
  #      random quality of 15-90 (--jpeg 0.5), last after the covered patch: people's web photos
  #      are small, hard-saved JPEGs, and JPEG costs (60) fold-soup3-allflat 3.7 points (86.5%
  #      against 90.2% clean) though no run has trained on it. The proxy saves at 15-30, inside
  #      the trained range: said with the result. A screen on one run first, as
  #      the rule: (84, 85), recipes (58) and (53) with --jpeg 0.5, follow only if (83) alone is
  #      at least 0.5 points ahead of (59) on the mean of the changed versions and at most 0.5
  #      behind on clean photos. Then (86), their average, goes to the second fold only if it is
  #      at least 0.5 points ahead of (60) on the mean of the changed versions and at most 0.5
  #      behind on clean photos
  fold-grey-zoom5-erase-flat-jpeg) train fold-grey-zoom5-erase-flat-jpeg --augment basic \
            --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-flat 0.5 --jpeg 0.5 "${LONG[@]}" \
            --train-on train --no-test ;;
  fold-grey-zoom-erase-flat-jpeg) train fold-grey-zoom-erase-flat-jpeg --augment basic \
            --grayscale 0.2 --zoom 0.3 --erase 0.5 --erase-flat 0.5 --jpeg 0.5 "${LONG[@]}" \
            --train-on train --no-test ;;
  fold-grey-zoom5-erase-big-flat-jpeg) train fold-grey-zoom5-erase-big-flat-jpeg \
            --augment basic --grayscale 0.2 --zoom 0.5 --erase 0.5 --erase-size 0.5 \
            --erase-flat 0.5 --jpeg 0.5 "${LONG[@]}" --train-on train --no-test ;;
  fold-soup3-allflat-jpeg) soup fold-soup3-allflat-jpeg fold-grey-zoom-erase-flat-jpeg \
            fold-grey-zoom5-erase-flat-jpeg fold-grey-zoom5-erase-big-flat-jpeg ;;
  # (9) recipe (8) refit on train+val; 8 fine-tuning epochs (its val accuracy reaches 88.7% by the
  #     7th epoch of 12), inside the 20-minute training budget
  fullft-lr3-final) train fullft-lr3-final --augment basic --no-head-augment --epochs 30 \
            --fine-tune-epochs 8 --fine-tune-layers 1000 --fine-tune-lr 3e-4 --label-smoothing 0.1 \
            --train-on train+val ;;
  # (4) the shipped default: recipe (2) chosen on val, refit on train+val (no val metrics then)
  final)  train final --augment basic --no-head-augment --epochs 30 --fine-tune-epochs 6 \
            --fine-tune-layers 40 --fine-tune-lr 1e-4 --label-smoothing 0.1 --train-on train+val ;;
  *) echo "unknown run $r"; exit 2 ;;
esac; done
exit
}
