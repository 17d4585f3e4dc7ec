"""Typo and spoken-form tolerance: a question word the corpus lacks is read as the nearest word it has.

The vocabulary is the surface words (lower case) and lemmas of the live chunks; a word is matched against it
with the optimal-string-alignment distance (a swap of two letters counts 1: *startegian* → *strategian*)
through rapidfuzz. pyvoikko 0.6 has no spelling suggestions, so edit distance is the only source.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from assistant.answering.retrieve import Snapshot
from assistant.knowledge.artefacts import surface_counts
from assistant.text import finnish

# Shorter words have too many neighbours at any distance ("maa" is 1 from "mies", "taa", "maan" ...).
MIN_CHARS = 4
# a lower-case word Voikko knows as a name ("alko": Alko) may still be a typo ("alkoi")
_NAMES = frozenset({"nimi", "etunimi", "sukunimi", "paikannimi"})
TWO_EDITS_FROM = 8  # words this long may be two edits off (*projektipäälikkö* is one, *merilisen* one)


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]
    freq: dict[str, int]
    by_initial: dict[str, tuple[str, ...]] = field(default_factory=dict)  # ``words`` by their first letter

    @classmethod
    def of(cls, texts: Iterable[str], lemmas: Mapping[str, int]) -> Vocabulary:
        """Surface words, their hyphen parts ("ELMO-pilotti" → "pilotti") and the index's lemmas: a typo
        of an inflected form is near the form, a typo of a base form near the lemma."""
        return cls.from_counts(surface_counts(texts), lemmas)

    @classmethod
    def from_counts(cls, surface: Mapping[str, int], lemmas: Mapping[str, int]) -> Vocabulary:
        counts: Counter[str] = Counter(surface)
        counts.update({t: df for t in lemmas if not t.isdigit() and " " not in t for df in (lemmas[t],)})
        # a fixed order (most frequent first), so that a generation built incrementally from the previous one
        # and one built from scratch correct a typo the same way when several words tie
        words = tuple(sorted(counts, key=lambda w: (-counts[w], w)))
        by_initial: dict[str, list[str]] = {}
        for w in words:
            by_initial.setdefault(w[:1], []).append(w)
        return cls(words, dict(counts), {k: tuple(v) for k, v in by_initial.items()})

    def nearest(self, word: str) -> str | None:
        """The corpus word closest to ``word`` (≤ 1 edit, ≤ 2 for long words; the most frequent on a
        tie) that begins with the same letter, or None. A word the corpus has is its own nearest.

        Typing seldom gets a word's first letter wrong, while a real word the corpus lacks is often an edit
        or two from another that differs there (*oodi* → *koodi*, *fuusiota* → *uusista*)."""
        low = word.lower()
        if low in self.freq:
            return low
        if len(low) < MIN_CHARS or low.isdigit() or not self.words:
            return None
        limit = 2 if len(low) >= TWO_EDITS_FROM else 1
        same_initial = self.by_initial.get(low[:1], ())
        found = process.extract(low, same_initial, scorer=OSA.distance, score_cutoff=limit, limit=8)
        if not found:
            return None
        best = min(found, key=lambda hit: (hit[1], -self.freq[hit[0]]))
        return best[0]


_cache: dict[int, Vocabulary] = {}
_lock = threading.Lock()


def vocabulary(snap: Snapshot) -> Vocabulary:
    """The snapshot's vocabulary, built once per snapshot (a snapshot never changes)."""
    key = id(snap)
    with _lock:
        if key not in _cache:
            _cache[key] = Vocabulary.from_counts(snap.surface_counts(), snap.lexical.df)
            weakref.finalize(snap, _cache.pop, key, None)
        return _cache[key]


def correct(word: str, snap: Snapshot, inside: bool = False) -> str | None:
    """A written-language or corpus spelling of ``word`` when it is a spoken form or a typo of a corpus
    word, else None: ``uus`` → ``uusi``, ``piloti`` → ``pilotti``. A verb or adjective Voikko knows is taken
    as written. ``inside``: the word does not open the question (a capital there marks a name)."""
    spoken = finnish.written_form(word)
    if spoken is not None:
        return spoken
    if finnish.is_acronym(word):
        # an acronym is a name: it may be a typo of another name (ICRISTAT of the sources' ICRISAT), never of a
        # Finnish word ("ELMO" is not "elo": a corpus without ELMO lacks it)
        near = vocabulary(snap).nearest(word)
        return near if near is not None and near != word.lower() and not finnish.word_classes(near) else None
    classes = finnish.word_classes(word)
    if classes and not any(c.startswith("nimisana") or c in _NAMES for c in classes):
        # a verb or an adjective Finnish has ("pidettiin", "alennettu") is no typo of a corpus word one edit
        # away; a noun is still read as its nearest corpus form ("rahoittaja" → "rahoittama")
        return None
    near = vocabulary(snap).nearest(word)
    if near is None and not classes and not (inside and word[:1].isupper()):
        # a capitalised word inside the question is a name: the sources lack it, it is no form of theirs with a
        # letter dropped (*Lapitan*, Lapita's, is not *Lapithan*, "Lappi, you know")
        near = restored_letter(word, snap.lexical.df)
    return near if near is not None and near != word.lower() else None


_LETTERS = "aeiouyäöhjklmnprstvdg"
MIN_RESTORE, MAX_RESTORE = 5, 14  # longer unknown words are compounds or names: Voikko is slow on them (≈ 70 ms)


def restored_letter(word: str, lemmas: Mapping[str, int]) -> str | None:
    """An inflected form the sources never write, typed with a letter dropped ("rahotti" for "rahoitti", where
    the sources have "rahoittanut"): the one-letter insertion Voikko knows whose lemma the sources use (the
    most used on a tie). Insertions only: about 20 × len(word) Voikko look-ups, ≈ 5 ms a word, where all edits
    cost 40–100 ms and read real words Voikko lacks as others (docs/refusal.md)."""
    low = word.lower()
    if not MIN_RESTORE <= len(low) <= MAX_RESTORE or not low.isalpha():
        return None
    best: tuple[int, str] | None = None
    for i in range(1, len(low) + 1):
        for ch in _LETTERS:
            cand = low[:i] + ch + low[i:]
            df = max((lemmas.get(lem, 0) for lem in finnish.base_forms(cand)), default=0)
            if df and (best is None or df > best[0]):
                best = (df, cand)
    return best[1] if best else None
