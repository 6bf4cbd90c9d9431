r"""Toy zero-shot demo: the real toy test videos labelled from text prompts by a random-init toy ViCLIP.

Every prompt set of gesture_jax.text.prompts is scored against the same features, as an ensemble and prompt by
prompt (the prompt lab: results.md's spread table and prompt_spread.png); text + a few synthetic or real
examples per class is scored beside text only and examples only. The weights are random, so
the numbers sit near chance (1/7 = 14.3%): the demo shows the mode running end to end, not a finding. The
toy dataset is built on first use. The prompts are tokenised with OpenAI's CLIP merges file
bpe_simple_vocab_16e6.txt.gz, which is not shipped: gesture_jax.text.clip_bpe's error message (or
`python -m gesture_jax.text.clip_bpe --help`) says where to get it and where to put it; --config.zeroshot.vocab_path
points at another copy.

  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_demo
  python -m gesture_jax.main --config configs/zeroshot/demo.py:smoke --workdir workdirs/zeroshot_smoke
  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_names \
      --config.zeroshot.prompt_sets="('names',)" --config.zeroshot.vocab_path=/x/bpe_simple_vocab_16e6.txt.gz
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
    if arg not in (None, "", "smoke"):
        raise ValueError(f"configs/zeroshot/demo.py takes no argument or 'smoke', got {arg!r}")
    suffix = "_small" if arg == "smoke" else ""
    config = ml_collections.ConfigDict()
    config.mode = "zeroshot"
    config.data = config_lib.data(build_if_missing=True)
    config.encoder = config_lib.encoder("toy-viclip", init_seed=0)
    config.extract = config_lib.extract(per_device_batch=16, chunk_batches=20)
    config.zeroshot = config_lib.zeroshot(queries=(f"toy_gestures/real{suffix}:test",))
    # Text + a few examples per class, from the synthetic and from the real training videos; the weight
    # is chosen on synthetic val, and on the real training videos outside each draw (toy real has no val).
    config.zeroshot.fewshot.update(
        galleries=(f"toy_gestures/synthetic{suffix}:train", f"toy_gestures/real{suffix}:train"),
        validation_splits=(f"toy_gestures/synthetic{suffix}:val", f"toy_gestures/real{suffix}:train"),
        shots=(1, 2) if arg == "smoke" else (1, 2, 4),
        prompt_set="descriptions_templates",
    )
    return config
