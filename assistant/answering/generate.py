"""The optional generative answerer: an OpenAI-compatible LLM server through llama-index.

Used by ``Assistant.stream`` when ``ASSISTANT_LLM_URL`` and ``ASSISTANT_LLM_MODEL`` are set (vLLM, Ollama,
llama.cpp server, OpenAI — anything speaking the chat-completions protocol). It only ever runs after the
refusal check has passed, on the passages retrieval returned, and its draft goes through the same citation
verifier as the extractive answer: the LLM proposes, ``verify`` decides what reaches the user.

* The prompts are plain files in ``prompts/`` (one template each): ``system.<lang>.txt`` — the system prompt
  in the answer's language —, ``context.txt`` (the user message: numbered passages + question) and
  ``condense.txt`` (a follow-up rewritten into a standalone question). A file ``<name>.<lang>.txt`` overrides
  ``<name>.txt`` for one language; ``ASSISTANT_PROMPTS_DIR`` points to another folder.
* Passages are data, not instructions: each sits between ``<<<PASSAGE n>>>`` and ``<<<END>>>`` in the order
  the answerer received them, so ``[n]`` means ``passages[n-1]``; any run of angle brackets in a document
  (or the question) is removed first, so no text can close a delimiter or open a new one.
* A follow-up question ("Mikä hänen puhelinnumeronsa on?") is first condensed with the LLM (one
  non-streaming call) into a standalone question; the answer itself is streamed token by token.
* The server failing (refused connection, HTTP 5xx, timeout) never crashes the answer: the error is logged
  and the generator stops (yielding nothing, or what had arrived) — or, with ``raise_errors=True``, raises
  :class:`GenerationError` for the caller to fall back to the extractive answer.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.answering.conversation import is_follow_up
from assistant.schema import normalise_history

log = logging.getLogger(__name__)

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
LANGUAGES = ("fi", "en", "sv")
MAX_HISTORY_TURNS = 6  # messages (user + assistant) handed to the condense step
MAX_TURN_CHARS = 600  # each earlier message is cut to this many characters
MAX_CONDENSED_CHARS = 400

# Any run of 3+ angle brackets (ASCII, full-width, small forms): a document must not be able to write
# "<<<END>>>" and continue outside its passage.
_DELIMITER_RUN = re.compile(r"[<\uff1c\ufe64\u2039\u00ab]{3,}|[>\uff1e\ufe65\u203a\u00bb]{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
_CONDENSE_PREFIX = re.compile(
    r"^\s*(standalone question|rewritten question|question|itsenäinen kysymys|kysymys|fråga)\s*:\s*", re.I
)


class GenerationError(RuntimeError):
    """The LLM server could not produce an answer (unreachable, HTTP error, timeout, bad response)."""


# ------------------------------------------------------------------------------------------------------
# prompts
# ------------------------------------------------------------------------------------------------------


def prompts_dir() -> Path:
    override = os.environ.get("ASSISTANT_PROMPTS_DIR")
    return Path(override) if override else DEFAULT_PROMPTS_DIR


def load_prompt(name: str, language: str | None = None) -> str:
    """The text of ``prompts/<name>.<language>.txt`` if that exists, else ``prompts/<name>.txt``.

    System prompts exist per language only; an unknown language falls back to English."""
    folder = prompts_dir()
    candidates = []
    if language:
        candidates.append(folder / f"{name}.{language}.txt")
    candidates.append(folder / f"{name}.txt")
    if name == "system":
        candidates.append(folder / "system.en.txt")
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    raise GenerationError(f"prompt template {name!r} not found in {folder}")


def sanitize(text: str) -> str:
    """Document (or question) text made safe to place between the passage delimiters."""
    text = _CONTROL.sub(" ", text)
    return _DELIMITER_RUN.sub(" ", text).strip()


def format_passages(passages: list[Any]) -> str:
    blocks = []
    for n, p in enumerate(passages, start=1):
        title = sanitize(" ".join(str(getattr(p, "title", "") or "").split()))
        page = getattr(p, "page", None)
        head = f"{title} (s. {page})" if page is not None and title else title
        body = sanitize(str(p.text))
        blocks.append(
            f"<<<PASSAGE {n}>>>\n{head}\n{body}\n<<<END>>>"
            if head
            else f"<<<PASSAGE {n}>>>\n{body}\n<<<END>>>"
        )
    return "\n\n".join(blocks)


def build_messages(question: str, language: str, passages: list[Any]) -> list[Any]:
    """The chat for one answer: the system prompt in the answer's language, then one user message
    holding the delimited, numbered passages and the question."""
    from llama_index.core.llms import ChatMessage, MessageRole
    from llama_index.core.prompts import PromptTemplate

    system = load_prompt("system", language)
    user = PromptTemplate(load_prompt("context", language)).format(
        passages=format_passages(passages), question=sanitize(question)
    )
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=system),
        ChatMessage(role=MessageRole.USER, content=user),
    ]


# ------------------------------------------------------------------------------------------------------
# history and the condense step
# ------------------------------------------------------------------------------------------------------


def history_turns(history: list[Any]) -> list[tuple[str, str]]:
    """``(role, text)`` pairs, whitespace collapsed, from every shape :func:`normalise_history` accepts."""
    return [(t.role, " ".join(t.text.split())) for t in normalise_history(history)]


def _format_history(turns: list[tuple[str, str]]) -> str:
    lines = []
    for role, text in turns[-MAX_HISTORY_TURNS:]:
        label = "User" if role == "user" else "Assistant"
        cut = text if len(text) <= MAX_TURN_CHARS else text[: MAX_TURN_CHARS - 1] + "…"
        lines.append(f"{label}: {sanitize(cut)}")
    return "\n".join(lines)


def _clean_condensed(text: str) -> str:
    text = _strip_think(text).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = _CONDENSE_PREFIX.sub("", text).strip().strip("\"“”«»'").strip()
    return text


def needs_condensing(question: str, history: list[Any]) -> bool:
    return any(role == "user" for role, _ in history_turns(history)) and is_follow_up(question)


def condense_question(assistant: Any, question: str, history: list[Any], language: str = "fi") -> str:
    """A follow-up rewritten by the LLM into a standalone question (the question itself when it is no
    follow-up, or when the rewrite is empty or implausibly long). Raises :class:`GenerationError`."""
    if not needs_condensing(question, history):
        return question
    from llama_index.core.llms import ChatMessage, MessageRole
    from llama_index.core.prompts import PromptTemplate

    prompt = PromptTemplate(load_prompt("condense", language)).format(
        history=_format_history(history_turns(history)), question=sanitize(question)
    )
    llm = make_llm(assistant)
    try:
        response = llm.chat([ChatMessage(role=MessageRole.USER, content=prompt)])
    except Exception as exc:  # openai/httpx errors of every kind
        raise GenerationError(_describe(exc, assistant)) from exc
    condensed = _clean_condensed(response.message.content or "")
    if not condensed or len(condensed) > max(MAX_CONDENSED_CHARS, 4 * len(question)):
        return question
    return condensed


# ------------------------------------------------------------------------------------------------------
# the LLM
# ------------------------------------------------------------------------------------------------------


def make_llm(assistant_or_settings: Any) -> Any:
    """A llama-index ``OpenAILike`` for the configured server, cached on the Assistant (``_llm``)."""
    holder = assistant_or_settings if hasattr(assistant_or_settings, "settings") else None
    settings = holder.settings if holder is not None else assistant_or_settings
    cached = getattr(holder, "_llm", None) if holder is not None else None
    if cached is not None and _same_config(cached, settings):
        return cached
    if not (settings.llm_url and settings.llm_model):
        raise GenerationError("no LLM configured (set ASSISTANT_LLM_URL and ASSISTANT_LLM_MODEL)")
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_url,
        api_key=settings.llm_api_key or "not-needed",
        is_chat_model=True,
        context_window=8192,
        max_tokens=512,
        timeout=settings.llm_timeout,
        temperature=0.1,
        # One quick retry inside the openai client; none of llama-index's (its back-off waits 1-20 s,
        # and the user is waiting: a dead server should fall back to the extractive answer at once).
        max_retries=1,
    )
    if holder is not None:
        holder._llm = llm
    return llm


def _same_config(llm: Any, settings: Any) -> bool:
    return (
        getattr(llm, "model", None) == settings.llm_model
        and getattr(llm, "api_base", None) == settings.llm_url
        and getattr(llm, "api_key", None) == (settings.llm_api_key or "not-needed")
        and getattr(llm, "timeout", None) == settings.llm_timeout
    )


def _describe(exc: BaseException, assistant: Any) -> str:
    url = getattr(getattr(assistant, "settings", None), "llm_url", None)
    status = getattr(exc, "status_code", None)
    what = f"HTTP {status}" if status else type(exc).__name__
    return f"LLM server {url} failed ({what}): {exc}"


def _strip_think(text: str) -> str:
    return re.sub(r"^\s*<think>.*?(</think>|$)", "", text, flags=re.S)


class _ThinkFilter:
    """Drops a leading ``<think>…</think>`` block (reasoning models whose server does not separate it)
    and the whitespace after it; any other text passes through unchanged."""

    def __init__(self) -> None:
        self.buffer = ""
        self.state = "start"  # start → (thinking → after →) text

    def feed(self, delta: str) -> str:
        if self.state == "text":
            return delta
        if self.state == "after":
            delta = delta.lstrip()
            if delta:
                self.state = "text"
            return delta
        self.buffer += delta
        if self.state == "start":
            head = self.buffer.lstrip()
            if not head:
                return ""
            if len(head) < len(_THINK_OPEN) and _THINK_OPEN.startswith(head):
                return ""  # could still become "<think>"
            if not head.startswith(_THINK_OPEN):
                self.state = "text"
                out, self.buffer = self.buffer, ""
                return out
            self.state = "thinking"
        end = self.buffer.find(_THINK_CLOSE)
        if end < 0:
            return ""
        rest = self.buffer[end + len(_THINK_CLOSE) :]
        self.buffer = ""
        self.state = "after"
        return self.feed(rest)

    def flush(self) -> str:
        out = self.buffer if self.state == "start" else ""
        self.buffer = ""
        return out


def generate_answer(
    assistant: Any,
    question: str,
    language: str,
    passages: list[Any],
    history: list[Any] | None = None,
    *,
    raise_errors: bool = False,
) -> Iterator[str]:
    """Text deltas of the LLM's answer to ``question`` from ``passages`` (cited as [1]..[k] in order).

    On a server error it logs a warning and stops — yielding nothing if the error came first — unless
    ``raise_errors`` is set, when it raises :class:`GenerationError` after whatever it already yielded."""
    if not passages:
        return
    try:
        standalone = condense_question(assistant, question, history or [], language)
        if standalone != question:
            log.info("condensed follow-up %r → %r", question, standalone)
        messages = build_messages(standalone, language, passages)
        llm = make_llm(assistant)
        think = _ThinkFilter()
        try:
            for chunk in llm.stream_chat(messages):
                text = think.feed(chunk.delta or "")
                if text:
                    yield text
        except Exception as exc:
            raise GenerationError(_describe(exc, assistant)) from exc
        rest = think.flush()
        if rest:
            yield rest
    except GenerationError as exc:
        if raise_errors:
            raise
        log.warning("%s — no generated answer", exc)
