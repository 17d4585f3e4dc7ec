"""The data every layer shares: answers and citations, conversation turns, and the API's request and
response models (what ``/docs`` shows is what the routes return).

``Citation`` and ``Answer`` are pydantic dataclasses: the answerer builds them positionally, pydantic
validates them and gives FastAPI their schema. ``to_dict()`` is the JSON of ``assistant ask --json`` and of
``POST /api/ask`` (optional citation fields left out when unknown, timings rounded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer, model_serializer
from pydantic.dataclasses import dataclass

MAX_HISTORY_ITEMS = 500  # more → 413
HISTORY_USED = 40  # items (20 question/answer turns) handed to the answerer

_OPTIONAL_CITATION_KEYS = ("page", "url", "publisher", "date")


# ------------------------------------------------------------------------------------------------------
# answers
# ------------------------------------------------------------------------------------------------------


@dataclass
class Citation:
    n: int
    source: str
    title: str
    text: Annotated[str, Field(description="the cited passage")]
    start: Annotated[int, Field(description="offset of the passage in the source's original text")]
    end: int
    page: int | None = None
    url: str | None = None
    publisher: str | None = None
    date: str | None = None
    chunk_id: str = ""

    @model_serializer(mode="wrap")
    def _known_only(self, handler: Any):  # noqa: ANN202 - unannotated: the schema stays the fields
        out = handler(self)
        for key in _OPTIONAL_CITATION_KEYS:
            if out.get(key) is None:
                out.pop(key, None)
        return out

    def to_dict(self) -> dict[str, Any]:
        return _CITATION.dump_python(self)


@dataclass
class Answer:
    question: str
    language: str
    answer: Annotated[str, Field(description="Markdown with [n] citation markers")]
    refused: Annotated[bool, Field(description="true when the sources do not answer the question")]
    citations: list[Citation]
    timings_ms: dict[str, float]
    mode: str = "extractive"
    quoted_from_finnish: bool = False
    contacts: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # sentences the verifier dropped
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    degraded: Annotated[
        bool, Field(description="the vector store was unreachable: answered from the lexical index alone")
    ] = False
    corrections: Annotated[
        dict[str, str], Field(description="typos read as a corpus word: {written: read as}")
    ] = field(default_factory=dict)

    @field_serializer("timings_ms")
    def _rounded(self, timings: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 2) for k, v in timings.items()}

    def to_dict(self) -> dict[str, Any]:
        return _ANSWER.dump_python(self)


_CITATION = TypeAdapter(Citation)
_ANSWER = TypeAdapter(Answer)


# ------------------------------------------------------------------------------------------------------
# conversation history: the one normaliser of every accepted shape
# ------------------------------------------------------------------------------------------------------


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    text: str


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def _turns_of(item: Any) -> Iterable[tuple[str, str]]:
    if isinstance(item, Turn):
        yield item.role, item.text
        return
    if isinstance(item, BaseModel):
        item = item.model_dump()
    if isinstance(item, str):
        yield "user", item
    elif isinstance(item, dict):
        role = str(item.get("role", "user"))
        if role in ("user", "assistant"):  # system and tool messages are not the conversation
            yield role, _content_text(item.get("content"))
    elif isinstance(item, list | tuple) and item:  # (user, assistant) pairs
        yield "user", str(item[0] or "")
        if len(item) > 1 and item[1]:
            yield "assistant", _content_text(item[1])


def normalise_history(history: Iterable[Any] | None) -> list[Turn]:
    """Turns from every accepted history shape: plain strings (user questions), ``{"role", "content"}``
    messages (Gradio / OpenAI style; content as text or a list of text blocks), :class:`HistoryMessage`
    models and ``(user, assistant)`` pairs. Empty turns are dropped; the text is kept as written."""
    turns = [Turn(role=role, text=text) for item in history or [] for role, text in _turns_of(item)]  # type: ignore[arg-type]
    return [t for t in turns if t.text.strip()]


def encodable(value: Any) -> Any:
    """Lone surrogates (valid in JSON, not in UTF-8) replaced, so that every answer can be encoded."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [encodable(v) for v in value]
    if isinstance(value, dict):
        return {k: encodable(v) for k, v in value.items()}
    return value


def user_questions(history: Iterable[Any] | None) -> list[str]:
    return [t.text for t in normalise_history(history) if t.role == "user"]


# ------------------------------------------------------------------------------------------------------
# API requests
# ------------------------------------------------------------------------------------------------------


class TextBlock(BaseModel):
    type: str = "text"
    text: str = ""


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str | list[TextBlock] = ""


class AskRequest(BaseModel):
    question: str = Field(..., description="the question; an empty one gets a short how-to answer")
    history: list[str | HistoryMessage] = Field(
        default_factory=list,
        description=f"earlier turns: questions as strings, or {{role, content}} messages (Gradio/OpenAI style). "
        f"At most {MAX_HISTORY_ITEMS} items; the last {HISTORY_USED} are used.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "Kuka on ELMO-pilotin projektipäällikkö?", "history": []},
                {
                    "question": "Mikä hänen puhelinnumeronsa on?",
                    "history": ["Kuka on ELMO-pilotin projektipäällikkö?"],
                },
            ]
        }
    )


# ------------------------------------------------------------------------------------------------------
# API responses
# ------------------------------------------------------------------------------------------------------


class SourceMeta(BaseModel):
    """What the catalogue tells of an indexed source: every response about one source starts with it."""

    source: str
    title: str
    kind: str | None = None
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, source: str, record: Any) -> dict[str, Any]:
        """The fields read from a catalogue record (``knowledge.store.SourceRecord``), as a dict."""
        return {"source": source, **{k: getattr(record, k) for k in cls.model_fields if k != "source"}}


class SourceModel(SourceMeta):
    model_config = ConfigDict(extra="allow")
    chunks: int
    refreshed_at: str | None = Field(None, description="ISO 8601, UTC")
    contacts: int = 0
    status: Literal["ok", "stale", "failed"] = Field(
        ...,
        description="ok; stale = the last refresh failed and the previous version answers; failed = not indexed",
    )
    failure: str | None = None


class SourcesResponse(BaseModel):
    sources: list[SourceModel]
    failures: list[dict[str, str]]
    last_refresh: str | None
    generation: int
    chunks: int


class ContactsResponse(BaseModel):
    contacts: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: str
    sources: int
    chunks: int
    generation: int


class PassageResponse(SourceMeta):
    length: int
    start: int
    end: int
    before: str
    passage: str
    after: str


class UploadResponse(BaseModel):
    saved: list[dict[str, Any]]
    refresh: dict[str, Any] | None = None


class RefreshResponse(BaseModel):
    summary: dict[str, Any]
    sources: int
    chunks: int
    generation: int


class SourceTextResponse(SourceMeta):
    length: int
    text: str = Field(..., description="the source's whole original text (what citation offsets index)")


class DeleteSourceResponse(RefreshResponse):
    removed: str = Field(..., description="the source whose file was deleted")
