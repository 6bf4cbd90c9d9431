r"""Toy zero-shot demo: the real toy test videos labelled from text prompts by a random-init toy ViCLIP.

Every prompt set of gesture_jax.prompts is scored against the same features. The weights are random, so
the numbers sit near chance (1/7 = 14.3%): the demo shows the mode running end to end, not a finding. The
toy dataset is built on first use. The prompts are tokenised with OpenAI's CLIP merges file
bpe_simple_vocab_16e6.txt.gz, which is not shipped: gesture_jax.text's error message (or
`python -m gesture_jax.text --help`) says where to get it and where to put it; --config.zeroshot.vocab_path
points at another copy.

  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_demo
  python -m gesture_jax.main --config configs/zeroshot/demo.py:smoke --workdir workdirs/zeroshot_smoke
  python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_names \
      --config.zeroshot.prompt_sets="('names',)" --config.zeroshot.vocab_path=/x/bpe_simple_vocab_16e6.txt.gz
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
    return config
