"""CLIP BPE tokenizer: exact ids against the reference fixture, and the algorithm on a tiny merges file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from gesture_jax.text import clip_bpe as text

REPO = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((REPO / "tests" / "fixtures" / "tokenizer" / "clip_tokens_dev.json").read_text("utf-8"))
CASES = FIXTURE["cases"]
CASE_IDS = [f"case{i:02d}" for i in range(len(CASES))]
# OpenAI's real merges file (CLIP, MIT licence), copied so that CI checks exactness on every string.
VOCAB = text.BUNDLED_VOCAB

# Rank order matters: "b c</w>" outranks "a b", so "abc" becomes a + bc</w> and "ab c</w>" never applies.
SMALL_MERGES = ["b c</w>", "a b", "ab c</w>", "h e", "l l", "he ll", "hell o</w>", "a a"]
SMALL_SOT = 512 + len(SMALL_MERGES)
SMALL_EOT = SMALL_SOT + 1


def _write_merges(path: Path, merges: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(["#version: 0.2", *merges]) + "\n")
    return path


def _byte_id(symbol: str, end_of_word: bool = False) -> int:
    """Id of a single byte symbol: the byte table's order, then the same 256 again with </w>."""
    return list(text.bytes_to_unicode().values()).index(symbol) + (256 if end_of_word else 0)


def _merge_id(merge: str) -> int:
    return 512 + SMALL_MERGES.index(merge)


@pytest.fixture(scope="module")
def small_vocab(tmp_path_factory) -> Path:
    return _write_merges(tmp_path_factory.mktemp("vocab") / "tiny_merges.txt.gz", SMALL_MERGES)


@pytest.fixture(scope="module")
def small(small_vocab) -> text.ClipTokenizer:
    return text.ClipTokenizer(small_vocab)


@pytest.fixture(scope="module")
def real() -> text.ClipTokenizer:
    return text.get_tokenizer(VOCAB)


# Cleaning and pre-tokenizing do not depend on the vocabulary, so these always run.


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_clean_and_pre_tokens_match_reference(case):
    assert text.clean_text(case["text"]) == case["cleaned"]
    assert text.pre_tokenize(case["cleaned"]) == case["pre_tokens"]


def test_fixture_header_matches_constants():
    assert FIXTURE["context_length"] == 32 and FIXTURE["dtype"] == "int32"
    assert FIXTURE["pad_id"] == text.PAD_ID
    assert FIXTURE["vocab_size"] == text.CLIP_VOCAB_SIZE == 49408
    assert (FIXTURE["sot_id"], FIXTURE["eot_id"]) == (49406, 49407)


def test_byte_table():
    table = text.bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert not any(c.isspace() for c in table.values())
    # Printable ASCII comes first and stands for itself: "!" is id 0, "a</w>" is 256 + 64.
    assert list(table.values())[:94] == [chr(b) for b in range(33, 127)]
    assert table[ord(" ")] == "Ġ" and table[0] == "Ā"


# The real vocabulary.


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_real_vocab_matches_reference(real, case):
    assert real.bpe_strings(case["text"]) == case["bpe_strings"]
    assert real.encode(case["text"]) == case["bpe_ids"]
    row = real.tokenize(case["text"], context_length=32)
    assert row.dtype == np.int32 and row.shape == (1, 32)
    assert row[0].tolist() == case["token_ids"]
    assert case["truncated"] == (len(case["bpe_ids"]) + 2 > 32)
    if case["truncated"]:
        assert row[0, -1] == real.eot_id and row[0, :-1].tolist() == [real.sot_id, *case["bpe_ids"][:30]]


def test_real_vocab_batch_and_size(real):
    assert real.vocab_size == text.CLIP_VOCAB_SIZE
    assert (real.sot_id, real.eot_id) == (FIXTURE["sot_id"], FIXTURE["eot_id"])
    ids = text.clip_tokenize([case["text"] for case in CASES], vocab_path=real.vocab_path)
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, np.array([case["token_ids"] for case in CASES]))
    # The special-token case: the literal string becomes EOT, so the first EOT sits mid-caption.
    (special,) = [case for case in CASES if "<|endoftext|>" in case["text"]]
    assert real.encode(special["text"])[1] == real.eot_id
    assert real.decode(real.tokenize("Move Forward")[0], skip_special_tokens=True) == "move forward"


# The algorithm, on a tiny merges file.


def test_small_vocab_layout(small):
    assert small.vocab_size == 512 + len(SMALL_MERGES) + 2
    assert (small.sot_id, small.eot_id) == (SMALL_SOT, SMALL_EOT)
    assert small.decoder[_merge_id("hell o</w>")] == "hello</w>"


@pytest.mark.parametrize(
    "word, expected",
    [
        ("abc", ["a", "bc</w>"]),  # rank 0 wins over the earlier pair "a b"
        ("abd", ["ab", "d</w>"]),
        ("ab", ["a", "b</w>"]),  # "a b" does not match b</w>
        ("hello", ["hello</w>"]),
        ("hellox", ["hell", "o", "x</w>"]),  # "hell o</w>" applies only at the end of a word
        ("aaa", ["aa", "a</w>"]),  # left to right, no overlaps
        ("aaaa", ["aa", "a", "a</w>"]),
        ("a", ["a</w>"]),
    ],
)
def test_merges_apply_in_rank_order(small, word, expected):
    assert small.bpe_strings(word) == expected
    assert small.encode(word) == [small.encoder[s] for s in expected]


def test_ids_of_merges_and_bytes(small):
    assert small.encode("abc hello") == [_byte_id("a"), _merge_id("b c</w>"), _merge_id("hell o</w>")]
    assert small.encode("a") == [_byte_id("a", end_of_word=True)] == [320]


def test_unknown_bytes_fall_back_to_byte_tokens(small):
    # é is UTF-8 c3 a9; the thumbs-up emoji is four bytes.
    assert small.bpe_strings("é") == ["Ã", "©</w>"]
    assert small.encode("é") == [_byte_id("Ã"), _byte_id("©", end_of_word=True)]
    assert small.bpe_strings("👍") == ["ð", "Ł", "ĳ", "į</w>"]
    assert small.decode(small.encode("café 👍")) == "café 👍"


def test_special_token_strings(small):
    assert small.encode("hello <|endoftext|> <|startoftext|>") == [
        _merge_id("hell o</w>"),
        SMALL_EOT,
        SMALL_SOT,
    ]
    # Case-folded by the cleaning step, so upper-case spellings are still the specials.
    assert small.encode("<|ENDOFTEXT|>") == [SMALL_EOT]


def test_tokenize_sot_eot_padding_truncation(small):
    hello = _merge_id("hell o</w>")
    a = _byte_id("a", end_of_word=True)
    np.testing.assert_array_equal(small.tokenize("hello"), [[SMALL_SOT, hello, SMALL_EOT] + [0] * 29])
    np.testing.assert_array_equal(small.tokenize("", context_length=4), [[SMALL_SOT, SMALL_EOT, 0, 0]])
    # Exactly full: no truncation. One more: cut and the last id replaced by EOT.
    np.testing.assert_array_equal(small.tokenize("a a", context_length=4), [[SMALL_SOT, a, a, SMALL_EOT]])
    np.testing.assert_array_equal(
        small.tokenize("a a a a a", context_length=4), [[SMALL_SOT, a, a, SMALL_EOT]]
    )
    np.testing.assert_array_equal(
        small.tokenize("a a a", context_length=7), [[SMALL_SOT, a, a, a, SMALL_EOT, 0, 0]]
    )
    with pytest.raises(ValueError, match="context_length"):
        small.tokenize("a a a", context_length=4, truncate=False)
    with pytest.raises(ValueError, match="at least 2"):
        small.tokenize("a", context_length=1)


def test_clip_tokenize_batch(small_vocab, small):
    ids = text.clip_tokenize(["hello", "", "abc", "a " * 20], context_length=16, vocab_path=small_vocab)
    assert ids.shape == (4, 16) and ids.dtype == np.int32
    assert ids[:, 0].tolist() == [SMALL_SOT] * 4
    assert ids[1].tolist() == [SMALL_SOT, SMALL_EOT] + [0] * 14
    assert ids[2, :4].tolist() == [SMALL_SOT, *small.encode("abc"), SMALL_EOT]
    assert ids[3, -1] == SMALL_EOT and (ids[3, 1:-1] == _byte_id("a", end_of_word=True)).all()
    assert text.clip_tokenize("hello", context_length=8, vocab_path=small_vocab).shape == (1, 8)
    assert text.clip_tokenize([], vocab_path=small_vocab).shape == (0, 32)


def test_decode(small):
    row = small.tokenize("Hello  abc", context_length=8)[0]
    assert small.decode(row, skip_special_tokens=True) == "hello abc"
    assert small.decode(row[:5]) == "<|startoftext|>hello abc <|endoftext|>"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        small.decode([small.vocab_size])


def test_bpe_cache(small_vocab):
    tokenizer = text.ClipTokenizer(small_vocab)
    tokenizer.encode("hello hello hello")
    info = tokenizer._bpe_cached.cache_info()
    assert (info.misses, info.hits) == (1, 2)


# Finding and checking the vocabulary file.


@pytest.fixture
def no_vocab_env(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(text.VOCAB_ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # nothing from an earlier cache location either


def test_the_shipped_vocabulary_is_used_when_none_is_named(no_vocab_env):
    """Offline by default: the merges file ships with the package (with its licence), checked by md5."""
    assert text.resolve_vocab_path() == text.BUNDLED_VOCAB
    assert (text.BUNDLED_VOCAB.parent / "LICENSE").read_text().count("MIT License") == 1
    assert text.clip_tokenize("hello")[0, 0] == 49406  # <|startoftext|>
    text.read_merges(text.BUNDLED_VOCAB)  # its md5 is the real file's, or this raises


def test_vocab_lookup_order(no_vocab_env, monkeypatch, tmp_path, small_vocab):
    monkeypatch.setenv(text.VOCAB_ENV_VAR, str(tmp_path / "missing.txt.gz"))
    with pytest.raises(FileNotFoundError, match="missing.txt.gz"):
        text.get_tokenizer()
    with pytest.raises(FileNotFoundError, match="nope.txt.gz"):
        text.get_tokenizer(tmp_path / "nope.txt.gz")
    monkeypatch.setenv(text.VOCAB_ENV_VAR, str(small_vocab))
    assert text.get_tokenizer().vocab_path == small_vocab
    # An explicit path wins over the environment variable.
    other = _write_merges(tmp_path / "other.txt.gz", ["h e"])
    assert text.get_tokenizer(other).vocab_size == 515
    # Without either, the shipped copy; a tiny file under the real name fails the md5 check.
    monkeypatch.delenv(text.VOCAB_ENV_VAR)
    assert text.get_tokenizer().vocab_path == text.BUNDLED_VOCAB
    monkeypatch.setenv(text.VOCAB_ENV_VAR, str(_write_merges(tmp_path / text.VOCAB_FILENAME, SMALL_MERGES)))
    with pytest.raises(ValueError, match="md5"):
        text.get_tokenizer()


def test_md5_mismatch(tmp_path):
    path = _write_merges(tmp_path / text.VOCAB_FILENAME, SMALL_MERGES)
    with pytest.raises(ValueError, match="corrupt") as error:
        text.ClipTokenizer(path)
    assert text.VOCAB_MD5 in str(error.value)


def test_malformed_merges(tmp_path):
    with pytest.raises(ValueError, match="two symbols"):
        text.ClipTokenizer(_write_merges(tmp_path / "bad.txt.gz", ["h e", "x y z"]))
    with pytest.raises(ValueError, match="duplicate"):
        text.ClipTokenizer(_write_merges(tmp_path / "dup.txt.gz", ["h e", "h e"]))
