"""The language of a question or passage: Finnish, English or Swedish."""

from __future__ import annotations

import re
import threading
from typing import Any

# --------------------------------------------------------------------------------------------------
# Language detection
# --------------------------------------------------------------------------------------------------

_LANGS = ("fi", "en", "sv")
_identifier: Any = None
_identifier_lock = threading.Lock()

# Unambiguous function words / interrogatives: a prior for very short questions.
_KEYWORDS: dict[str, frozenset[str]] = {
    "fi": frozenset(
        "kuka kenen kenelle keneltä keitä ketkä mikä mitä mitkä minkä missä mistä mihin milloin miksi miten "
        "kuinka millainen millä onko ovatko oliko voiko saako paljonko montako ja on ovat oli ei myös "
        "yhteystiedot hanke hankkeen".split()
    ),
    "en": frozenset(
        "who whom whose what which when where why how is are was were does do did the of and there "
        "can could should about tell".split()
    ),
    "sv": frozenset(
        "vem vems vad vilka vilken vilket när var varför hur är och det finns kan jag om berätta "
        "också ett".split()
    ),
}
_WORD_RE = re.compile(r"[^\W\d_]+")


def _get_identifier() -> Any:
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(list(_LANGS))
                if hasattr(ident, "_full_model"):
                    # kept only to switch languages again, which we never do: the 142-language tables (~28 MB)
                    ident._full_model = ident.nb_ptc, ident.nb_pc, ident.nb_classes
                _identifier = ident
    return _identifier


def detect_language(text: str) -> str:
    """Return "fi", "en" or "sv" for ``text`` (Finnish when there is nothing to go on)."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if not words:
        return "fi"
    probs = dict(_get_identifier().rank(text))
    scores = {lang: float(probs.get(lang, 0.0)) for lang in _LANGS}
    if len(words) <= 8:
        for lang in _LANGS:
            hits = sum(1 for w in set(words) if w in _KEYWORDS[lang])
            scores[lang] *= 5.0**hits
    return max(_LANGS, key=lambda lang: scores[lang])
