"""Follow-up questions without an LLM: carry the previous turn's entities and key terms into retrieval.

"Kuka on ELMO-pilotin projektipäällikkö?" → "Mikä hänen puhelinnumeronsa on?" is retrieved as the second
question plus the first one's content words, so the contact passage is found. With an LLM configured,
generate.py condenses the question with the LLM instead (and still gets these terms for the lexical side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.schema import user_questions
from assistant.text import finnish

# Pronouns and openers that point back to an earlier turn (fi / en / sv).
_ANAPHORA = re.compile(
    r"\b(hän|hänen|häneltä|hänelle|häntä|hänestä|he|heidän|heiltä|heille|heitä|se|sen|siitä|sitä|siinä|sillä|"
    r"siihen|tämä|tämän|tästä|tätä|tähän|nämä|näiden|niiden|ne|niistä|entä|kyseinen|kyseisen|mainittu|"
    r"mainitun|edellä|samaan|sama|saman|"
    r"he|his|him|her|hers|she|they|their|them|it|its|this|that|these|those|what about|and the|"
    r"han|hans|honom|hon|hennes|den|det|dess|de|deras|dem|denna|detta)\b",
    re.I,
)


def history_questions(history: list[Any]) -> list[str]:
    """History as plain user questions (every shape :func:`assistant.schema.normalise_history` accepts)."""
    return user_questions(history)


@dataclass
class FollowUp:
    context: str = ""  # earlier question text appended for dense retrieval
    terms: list[str] = field(default_factory=list)  # earlier content terms for the lexical side


def is_follow_up(question: str) -> bool:
    content = [t for t in finnish.terms(question) if not finnish.is_stopword(t)]
    return bool(_ANAPHORA.search(question)) or len(content) <= 1


def resolve_follow_up(question: str, history: list[Any], max_turns: int = 2) -> FollowUp:
    questions = history_questions(history)[-max_turns:]
    if not questions or not is_follow_up(question):
        return FollowUp()
    # the most recent turn first; older only when the recent one was itself a follow-up
    chosen = [questions[-1]]
    if len(questions) > 1 and is_follow_up(questions[-1]):
        chosen.insert(0, questions[-2])
    context = " ".join(chosen)[-500:]
    terms = [t for t in finnish.terms(context) if not finnish.is_stopword(t)]
    return FollowUp(context=context, terms=list(dict.fromkeys(terms)))
