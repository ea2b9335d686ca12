"""The word vocabulary: WordNet lookups, ImageNet families, suggestions, and refusing a damaged data file."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest

from engine.errors import ModelCorrupt, ModelMissing
from engine.resources import resource_path
from engine.words.vocab import VOCAB_FILE, Vocabulary, normalise, sidecar_of

NAMES = [line.split(", ")[0] for line in resource_path("models", "imagenet_classes.txt").read_text().splitlines()]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load()


def classes(vocab: Vocabulary, word: str) -> set[str]:
    return {NAMES[i] for i in vocab.word_classes(word)}


def test_dog_covers_every_dog_breed(vocab):
    # ImageNet's 118 dog breeds are logits 151..268, from Chihuahua to Mexican hairless.
    assert set(vocab.word_classes("dog")) == set(range(151, 269))
    assert vocab.senses("dogs") == vocab.senses("Dog")


def test_shoes_cover_shoes_sneakers_and_boots(vocab):
    assert {"running shoe", "Loafer", "sandal", "clog", "cowboy boot"} <= classes(vocab, "shoes")
    assert classes(vocab, "sneakers") == {"running shoe"}
    assert classes(vocab, "shoe") == classes(vocab, "shoes")
    assert "sock" not in classes(vocab, "shoes")


@pytest.mark.parametrize("spelling", ["t-shirt", "T shirt", "tshirt", "T_Shirt", "  t-shirts "])
def test_t_shirt_spellings_agree(vocab, spelling):
    senses = vocab.senses(spelling)
    assert senses and senses[0].wnid == "n03595614"
    assert senses[0].imagenet_index == NAMES.index("jersey")


@pytest.mark.parametrize(
    ("word", "lemma"),
    [("mice", "mouse"), ("dresses", "dress"), ("boxes", "box"), ("churches", "church"), ("berries", "berry"),
     ("women", "woman"), ("running shoes", "running shoe"), ("Bell Peppers", "bell pepper"), ("glasses", "glasses")],
)
def test_plurals_and_phrases_reach_their_lemma(vocab, word, lemma):
    assert vocab.lemma_of(word) == lemma


def test_mice_means_mouse(vocab):
    assert vocab.senses("mice") == vocab.senses("mouse")
    assert "mouse" in classes(vocab, "mice")


def test_banana_hits_the_banana_class(vocab):
    tree, fruit = vocab.senses("banana")  # WordNet's first banana is the plant
    assert tree.imagenet_index is None and vocab.imagenet_classes(tree) == []
    assert fruit.imagenet_index == NAMES.index("banana")
    assert vocab.imagenet_classes(fruit) == [NAMES.index("banana")]
    assert vocab.known("bananas")


@pytest.mark.parametrize(("word", "at_least"), [("fruit", 10), ("vehicle", 50), ("clothes", 30), ("clothing", 30)])
def test_family_words_have_many_classes(vocab, word, at_least):
    assert len(vocab.word_classes(word)) >= at_least


def test_aliases_come_before_wordnet_senses(vocab):
    assert vocab.senses("hoodie")[0].name == "sweatshirt"
    # WordNet 3.0's own "pants" are bloomers, and its trousers hold shorts: "pants" are the long ones, jeans
    assert vocab.senses("pants")[0].name == "jean" and vocab.senses("trousers")[0].name == "jean"
    from engine.words.wordsearch import word_classes  # what a search for the word looks for

    def searched(word):
        return {NAMES[i] for i in word_classes(vocab, word)}

    assert searched("pants") == searched("trousers") == {"jean"} and "swimming trunks" in searched("shorts")
    assert searched("footwear") == searched("shoes") and "sock" not in searched("footwear")
    assert vocab.senses("top")[0].gloss.startswith("a garment")
    assert {"jersey", "sweatshirt"} <= classes(vocab, "top")


def test_unknown_word_has_no_senses_and_no_silly_suggestion(vocab):
    assert vocab.senses("qwertyzzz") == []
    assert not vocab.known("qwertyzzz")
    assert vocab.lemma_of("qwertyzzz") is None
    assert vocab.suggest("qwertyzzz") == []
    assert vocab.senses("") == [] and vocab.split("") == []


def test_misspelling_suggests_the_word(vocab):
    assert vocab.suggest("bananna")[0] == "banana"
    assert vocab.suggest("banana") == []


def test_word_without_classes_suggests_its_known_family(vocab):
    assert not vocab.known("tomato")
    assert "pepper" in vocab.suggest("tomato")
    assert vocab.suggest("peach")[0] == "edible fruit"  # the fruit is closer to a known word than the tree
    assert vocab.suggest("sweatpants")[:2] == ["trouser", "jean"]


def test_a_word_far_below_any_known_word_gets_no_suggestion_by_meaning(vocab):
    # "garden" is five steps below "location", "forest" four below "abstraction": neither says what they show
    for word in ("garden", "forest", "city", "tree"):
        assert vocab.senses(word) and not vocab.known(word)
        assert vocab.suggest(word) == [], word


def test_related_classes_weigh_the_nearest_family(vocab):
    tomato = next(s for s in vocab.senses("tomato") if "fruit" in s.gloss)
    related = vocab.related_classes(tomato)
    assert NAMES.index("bell pepper") in related
    assert all(0 < w < 1 for w in related.values())
    assert list(related.values()) == sorted(related.values(), reverse=True)
    assert vocab.related_classes(tomato, max_classes=len(related) - 1) == {}
    assert vocab.related_classes(vocab.senses("yogurt")[0]) == {}  # its nearest family is all of food
    banana = vocab.senses("banana")[1]
    assert vocab.related_classes(banana) == {NAMES.index("banana"): 1.0}


def test_ancestors_nearest_first_up_to_entity(vocab):
    dog = vocab.senses("dog")[0]
    ancestors = vocab.ancestors(dog)
    names = [a.name for a in ancestors]
    assert names[-1] == "entity" and vocab.synset("n00001740").depth == 0
    assert {"canine", "domestic animal"} == set(names[:2])
    assert names.index("carnivore") < names.index("animal")
    assert all(path[-1].name == "entity" for path in vocab.hypernym_paths(dog))
    assert len(vocab.hypernym_paths(dog)) >= 2  # dog is both a canine and a domestic animal
    assert dog.depth == min(len(p) for p in vocab.hypernym_paths(dog))
    assert vocab.wup_similarity(dog, dog) == 1.0


def test_split_finds_the_longest_entries(vocab):
    assert vocab.split("red running shoes") == ["red", "running shoe"]
    assert vocab.split("Bell-Pepper and hot dogs") == ["bell pepper", "and", "hot dog"]


def test_synsets_are_frozen(vocab):
    banana = vocab.senses("banana")[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        banana.gloss = "changed"  # type: ignore[misc]


def test_normalise():
    assert normalise("  T-Shirt_XL\u2019s ") == "t shirt xl's"
    assert normalise("Running   Shoes.") == "running shoes"


def _copy_data(tmp_path: Path) -> Path:
    src = resource_path("models", VOCAB_FILE)
    dst = tmp_path / VOCAB_FILE
    shutil.copyfile(src, dst)
    shutil.copyfile(sidecar_of(src), sidecar_of(dst))
    return dst


def test_load_is_fast_and_cached(tmp_path):
    path = _copy_data(tmp_path)
    start = time.perf_counter()
    vocab = Vocabulary.load(path)
    assert vocab.known("dog")
    assert time.perf_counter() - start < 2.0
    assert Vocabulary.load(path) is vocab


def test_load_refuses_a_damaged_file(tmp_path):
    path = _copy_data(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelCorrupt, match="damaged or was changed"):
        Vocabulary.load(path)


def test_load_refuses_a_missing_sidecar_or_file(tmp_path):
    path = _copy_data(tmp_path)
    sidecar_of(path).unlink()
    with pytest.raises(ModelMissing, match="Checksum file"):
        Vocabulary.load(path)
    with pytest.raises(ModelMissing, match="does not exist"):
        Vocabulary.load(tmp_path / "absent.json.gz")
