"""Evaluation suites: pydantic item models, YAML/JSONL loading, feedback conversion, the squad2fi-dev format.

A suite item names its expected passages by source and a quote (so it survives re-chunking), the facts the
answer must contain (each a list of accepted alternatives) or that it must refuse. Format: ``evals/README.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from assistant.config import REPO_ROOT

EVALS_DIR = REPO_ROOT / "evals"
REPORTS_DIR = EVALS_DIR / "reports"
THRESHOLDS_FILE = EVALS_DIR / "thresholds.yaml"

AREAS = ("elmo", "strategy-2019", "strategy-2024", "contacts", "out-of-scope", "feedback", "uploads")
LANGUAGES = ("fi", "en", "sv")
KINDS = frozenset(
    {"who", "what", "when", "where", "why", "count", "list", "contact", "inflected", "follow-up", "refusal"}
)
STATUSES = ("active", "draft")
#: suites reported but left out of the gate (their figures are targets to reach, not yet a floor to keep)
UNGATED_SUITES = frozenset({"realistic", "near-miss"})


class SuiteError(ValueError):
    """A suite file that cannot be used (the message names the file and the item)."""


def _as_str_list(value: Any) -> list[str]:
    """YAML lets a one-element list be written as a scalar: ``kind: who``, ``facts: [2018, [a, b]]``."""
    if value is None:
        return []
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    raise ValueError(f"expected a string or a list of strings, got {value!r}")


StrList = Annotated[list[str], BeforeValidator(_as_str_list)]


def _non_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must be a non-empty string")
    return v


NonBlank = Annotated[str, AfterValidator(_non_blank)]


def one_of(field: str, allowed: Iterable[str]) -> AfterValidator:
    """A validator refusing a value outside ``allowed`` (the message lists them)."""
    known = tuple(allowed)

    def check(v: str) -> str:
        if v not in known:
            raise ValueError(f"unknown {field} {v!r} (one of {', '.join(known)})")
        return v

    return AfterValidator(check)


def each_one_of(field: str, allowed: Iterable[str]) -> AfterValidator:
    """:func:`one_of` for every element of a list (the message names the unknown ones)."""
    known = frozenset(allowed)

    def check(v: list[str]) -> list[str]:
        unknown = [k for k in v if k not in known]
        if unknown:
            raise ValueError(f"unknown {field} {unknown} (known: {', '.join(sorted(known))})")
        return v

    return AfterValidator(check)


class ExpectedPassage(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True)

    source: str
    quote: NonBlank
    grade: int = Field(1, ge=1)  # graded relevance for nDCG: 2 = the passage that answers, 1 = supporting


class Item(BaseModel):
    id: str
    question: NonBlank
    area: Annotated[str, one_of("area", AREAS)]
    language: Annotated[str, one_of("language", LANGUAGES)]
    kind: Annotated[StrList, each_one_of("kind", KINDS)] = []
    history: list[Any] = []
    expected_passages: list[ExpectedPassage] = []
    facts: list[StrList] = []
    must_refuse: StrictBool = False
    forbidden: Annotated[StrList, AfterValidator(lambda v: [x for x in v if x])] = []
    status: Annotated[str, one_of("status", STATUSES)] = "active"
    suite: str = ""
    note: str | None = None
    extra: dict[str, Any] = {}

    @field_validator("facts")
    @classmethod
    def _facts(cls, v: list[list[str]]) -> list[list[str]]:
        facts = [[a for a in alts if a.strip()] for alts in v]
        if any(not alts for alts in facts):
            raise ValueError("a fact has no alternatives")
        return facts

    @model_validator(mode="after")
    def _refusal_has_no_answer(self) -> Item:
        if self.must_refuse and (self.facts or self.expected_passages):
            raise ValueError("an item that must be refused has no facts or expected passages")
        return self

    @property
    def answerable(self) -> bool:
        return not self.must_refuse

    def to_dict(self) -> dict[str, Any]:
        """The item in the suite format (only what differs from the defaults, plus unknown keys kept)."""
        out: dict[str, Any] = {
            "id": self.id,
            "area": self.area,
            "language": self.language,
            "kind": list(self.kind),
            "question": self.question,
        }
        if self.history:
            out["history"] = list(self.history)
        if self.expected_passages:
            out["expected_passages"] = [
                {"source": e.source, "quote": e.quote, **({"grade": e.grade} if e.grade != 1 else {})}
                for e in self.expected_passages
            ]
        if self.facts:
            out["facts"] = [list(f) for f in self.facts]
        out["must_refuse"] = self.must_refuse
        if self.forbidden:
            out["forbidden"] = list(self.forbidden)
        if self.status != "active":
            out["status"] = self.status
        if self.note:
            out["note"] = self.note
        out.update(self.extra)
        return out


_ITEM_KEYS = frozenset(Item.model_fields) - {"suite", "extra"}


def parse_item(
    raw: Mapping[str, Any], *, origin: str = "", position: int = 0, defaults: Mapping[str, Any] | None = None
) -> Item:
    """One suite item from its YAML mapping: defaults filled, derived fields set, the model validates."""
    if not isinstance(raw, Mapping):
        raise SuiteError(f"{origin} item {position}: expected a mapping, got {type(raw).__name__}")
    data = {**(defaults or {}), **raw}
    where = f"{origin} item {data.get('id', position)}"
    question, history = data.get("question"), data.get("history") or []
    item_id = str(data.get("id") or "")
    if not item_id:
        key = json.dumps([question, history], ensure_ascii=False, default=str)
        item_id = f"{Path(origin).stem or 'item'}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    language = data.get("language")
    if not language and isinstance(question, str) and question.strip():
        from assistant.text.language import detect_language

        language = detect_language(question)
    expected_block = data.get("expected")  # feedback export: {"refuse": bool}
    review = bool(data.get("review"))  # feedback export: a disliked answer waiting for a person
    default_refuse = isinstance(expected_block, Mapping) and not review and bool(expected_block.get("refuse"))
    fields = {k: data[k] for k in _ITEM_KEYS if data.get(k) is not None}
    fields |= {
        "id": item_id,
        "history": history,
        "area": data.get("area") or "feedback",
        "language": language or "",
        "must_refuse": data.get("must_refuse", default_refuse),
        "status": data.get("status") or ("draft" if review else "active"),
        "suite": Path(origin).stem,
        "extra": {k: v for k, v in data.items() if k not in _ITEM_KEYS and k not in (defaults or {})},
    }
    try:
        return Item(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise SuiteError(f"{where}: {problems}") from None


def _looks_like_item(record: Mapping[str, Any]) -> bool:
    return any(k in record for k in ("facts", "expected_passages", "must_refuse", "area", "kind"))


def _load_jsonl(path: Path, text: str) -> list[Item]:
    items_raw: list[dict[str, Any]] = []
    feedback_rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}:{lineno}: not JSON: {exc}") from exc
        if not isinstance(rec, dict):
            raise SuiteError(f"{path}:{lineno}: expected a JSON object")
        (items_raw if _looks_like_item(rec) else feedback_rows).append(rec)
    items_raw += items_from_feedback(feedback_rows)
    return [parse_item(r, origin=str(path), position=i) for i, r in enumerate(items_raw, start=1)]


def load_suite(path: Path | str) -> list[Item]:
    """Items of one suite file.

    Accepted: YAML with a top-level list of items, or a mapping ``{suite, defaults, items}`` (the
    ``assistant feedback export --as-suite`` output is either); and JSONL, one item or one exported
    feedback record a line (records are turned into draft items, see :func:`items_from_feedback`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc}") from exc
    if path.suffix == ".jsonl":
        return _load_jsonl(path, text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from exc
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        defaults = dict(data.get("defaults") or {})
        data = data.get("items")
    if data is None:
        return []
    if not isinstance(data, list):
        raise SuiteError(f"{path}: expected a list of items (or a mapping with 'items')")
    return [parse_item(r, origin=str(path), position=i, defaults=defaults) for i, r in enumerate(data, start=1)]


def default_suite_paths(root: Path = EVALS_DIR) -> list[Path]:
    """The default suite: every ``*.yaml`` in ``evals/`` except ``thresholds.yaml``."""
    return sorted(p for p in root.glob("*.yaml") if p.name != THRESHOLDS_FILE.name)


def gated_suite_paths(root: Path = EVALS_DIR) -> list[Path]:
    """The suites the gate holds to ``evals/thresholds.yaml``: the default ones except :data:`UNGATED_SUITES`."""
    return [p for p in default_suite_paths(root) if p.stem not in UNGATED_SUITES]


def load_suites(paths: Iterable[Path | str]) -> list[Item]:
    items: list[Item] = []
    seen: dict[str, str] = {}
    for path in paths:
        for item in load_suite(path):
            if item.id in seen:
                raise SuiteError(f"duplicate item id {item.id!r} (in {seen[item.id]} and {path})")
            seen[item.id] = str(path)
            items.append(item)
    return items
def items_from_feedback(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Exported feedback rows (``assistant feedback export`` JSONL) → suite items.

    The conversion is the web chat's own (:func:`assistant.feedback.suite_items`, also behind
    ``feedback export --as-suite``): a liked answer becomes a regression item expecting the passages it
    cited, a liked refusal must stay a refusal, a disliked answer is marked ``review: true`` (skipped until a
    person writes what the answer should say). Rows missing fields get neutral defaults first; ratings such
    as +1/-1, true/false or 👍/👎 are read as up/down."""
    from assistant.feedback import suite_items

    rows = []
    for n, rec in enumerate(records, start=1):
        question = str(rec.get("question") or "").strip()
        if not question:
            continue
        rating = rec.get("rating", rec.get("vote"))
        up = rating in ("up", "+1", "good", "👍", True) or (
            isinstance(rating, int | float) and not isinstance(rating, bool) and rating > 0
        )
        rows.append(
            {
                "id": rec.get("id") if rec.get("id") not in (None, "") else n,
                "question": question,
                "history": list(rec.get("history") or []),
                "language": rec.get("language"),
                "rating": "up" if up else "down",
                "refused": bool(rec.get("refused")),
                "answer": str(rec.get("answer") or ""),
                "citations": list(rec.get("citations") or []),
                "comment": rec.get("comment"),
                "created_at": rec.get("created_at") or "",
            }
        )
    return suite_items(rows)


def suite_yaml(items: Iterable[Mapping[str, Any] | Item], name: str = "feedback") -> str:
    """Suite YAML for ``items`` (dicts in the suite format or :class:`Item`), loadable by :func:`load_suite`."""
    rows = [i.to_dict() if isinstance(i, Item) else dict(i) for i in items]
    return yaml.safe_dump({"suite": name, "items": rows}, allow_unicode=True, sort_keys=False, width=110)


# ------------------------------------------------------------------------------------------------------
# the squad2fi-dev format: external documents and questions nobody here wrote
# ------------------------------------------------------------------------------------------------------
# A folder holds ``corpus/*.txt`` (one article a file), ``questions.jsonl`` (``id``, ``q``, ``source``,
# ``paragraph_index``, ``answer_spans``) and ``paragraphs.json`` (every paragraph with its character
# offsets in its corpus file).

class SquadError(ValueError):
    """A folder that is not in the squad2fi-dev format (the message says what is missing)."""


@dataclass(frozen=True)
class Paragraph:
    source: str
    index: int
    start: int
    end: int
    spans: tuple[str, ...]


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    source: str
    paragraph_index: int
    spans: tuple[str, ...]
    # why the question was read by hand as one of SQuAD 2.0's unanswerables ("" when it was not): refusing it
    # is right, though its paragraph is its gold
    read_unanswerable: str = ""


@dataclass
class SquadSet:
    root: Path
    corpus_dir: Path
    corpus_hash: str
    questions: list[SquadQuestion]
    paragraphs: dict[tuple[str, int], Paragraph]
    total_questions: int
    questions_file: str | None = None  # the questions asked in other words (load_squad)

    def gold(self, q: SquadQuestion) -> Paragraph:
        return self.paragraphs[(q.source, q.paragraph_index)]


def corpus_hash(corpus_dir: Path) -> str:
    """SHA-256 over every corpus file's name and bytes: the index cache key."""
    h = hashlib.sha256()
    for path in sorted(corpus_dir.glob("*.txt")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _spread(items: Sequence[Any], limit: int | None) -> list[Any]:
    """``limit`` items evenly spaced over ``items`` (a quick run still covers every article)."""
    if not limit or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def load_squad(
    root: Path | str,
    limit: int | None = None,
    questions_file: Path | str | None = None,
    readings_file: Path | str | None = None,
) -> SquadSet:
    """A squad2fi-dev-format folder. ``questions_file``: a JSON object of question id → question text (the set's
    questions in another language, evals/squad2fi-dev-en.json): only those questions, asked in those words.
    ``readings_file``: a JSON object of question id → why it was read by hand as a SQuAD 2.0 unanswerable
    (evals/squad2fi-dev-unanswerable.json)."""
    root = Path(root)
    corpus = root / "corpus"
    missing = [p.name for p in (corpus, root / "questions.jsonl", root / "paragraphs.json") if not p.exists()]
    if missing:
        raise SquadError(f"{root} is not a squad2fi-dev folder: missing {', '.join(missing)}")
    data = json.loads((root / "paragraphs.json").read_text(encoding="utf-8"))
    paragraphs: dict[tuple[str, int], Paragraph] = {}
    for article in data.get("articles", []):
        for p in article["paragraphs"]:
            spans = tuple(s["text"] if isinstance(s, Mapping) else str(s) for s in p.get("answer_spans", []))
            paragraphs[(article["file"], int(p["index"]))] = Paragraph(
                article["file"], int(p["index"]), int(p["start"]), int(p["end"]), spans
            )
    questions = []
    for lineno, line in enumerate((root / "questions.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        q = SquadQuestion(
            str(rec["id"]), rec["q"], rec["source"], int(rec["paragraph_index"]), tuple(rec["answer_spans"])
        )
        if (q.source, q.paragraph_index) not in paragraphs:
            raise SquadError(f"questions.jsonl:{lineno}: paragraph {q.paragraph_index} of {q.source} unknown")
        questions.append(q)
    if questions_file is not None:
        asked = json.loads(Path(questions_file).read_text(encoding="utf-8"))
        if not isinstance(asked, dict) or not all(isinstance(v, str) for v in asked.values()):
            raise SquadError(f"{questions_file}: expected a JSON object of question id → question")
        unknown = sorted(set(asked) - {q.id for q in questions})
        if unknown:
            raise SquadError(f"{questions_file}: unknown question ids {', '.join(unknown[:5])}")
        questions = [dataclasses.replace(q, question=asked[q.id]) for q in questions if q.id in asked]
    if readings_file is not None:
        read = json.loads(Path(readings_file).read_text(encoding="utf-8"))
        if not isinstance(read, dict) or not all(isinstance(v, str) and v.strip() for v in read.values()):
            raise SquadError(f"{readings_file}: expected a JSON object of question id → why it is unanswerable")
        unknown = sorted(set(read) - {q.id for q in questions})
        if unknown and questions_file is None:
            raise SquadError(f"{readings_file}: unknown question ids {', '.join(unknown[:5])}")
        questions = [dataclasses.replace(q, read_unanswerable=read.get(q.id, "")) for q in questions]
    return SquadSet(
        root, corpus, corpus_hash(corpus), _spread(questions, limit), paragraphs, len(questions),
        str(questions_file) if questions_file is not None else None,
    )  # fmt: skip

