r"""Toy zero-shot demo: the real toy test videos labelled from text prompts by a random-init toy ViCLIP.

Every prompt set of gesture_jax.text.prompts is scored against the same features, as an ensemble and prompt by
prompt (the prompt lab: results.md's spread table and prompt_spread.png); text + a few synthetic or real
examples per class is scored beside text only and examples only. The weights are random, so
the numbers sit near chance (1/7 = 14.3%): the demo shows the mode running end to end, not a finding. The
toy dataset is built on first use. The prompts are tokenised with OpenAI's CLIP merges file
bpe_simple_vocab_16e6.txt.gz, shipped with the package (gesture_jax/text/clip_vocab/, MIT), so the demo runs
offline; --config.zeroshot.vocab_path points at another copy.

  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_demo
  python -m gesture_jax.main --config configs/zeroshot/demo.py:smoke --workdir workdirs/zeroshot_smoke
  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_names \
      --config.zeroshot.prompt_sets="('names',)"
  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_mine \
      --config.zeroshot.prompt_files="('my_prompts.txt',)"

A prompt file (text): one class per line, several texts split by |, optional templates line:

  templates: a video of {} | someone doing {}
  Halt: a raised hand held still | a stop signal
  Rally: a hand circling above the head
  ...
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" for the full toy test split, "smoke" for the small one (tests and quick checks)."""
    config, toy = config_lib.toy_experiment(
        "zeroshot", file="configs/zeroshot/demo.py", arg=arg, encoder_name="toy-viclip"
    )
    config.zeroshot = config_lib.zeroshot(queries=(toy.gestures("real", "test"),))
    # Text + a few examples per class, from the synthetic and from the real training videos; the weight
    # is chosen on synthetic val, and on the real training videos outside each draw (toy real has no val).
    config.zeroshot.fewshot.update(
        galleries=(toy.gestures("synthetic", "train"), toy.gestures("real", "train")),
        validation_splits=(toy.gestures("synthetic", "val"), toy.gestures("real", "train")),
        shots=(1, 2) if toy.small else (1, 2, 4),
        prompt_set="descriptions_templates",
    )
    return config
