"""An optional LLM judge of faithfulness (off by default: slow, and only as good as the judging model)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from assistant.config import Settings

JUDGE_PROMPT = """You check an assistant's answer against the passages it was given.
Passages:
{passages}

Question: {question}
Answer: {answer}

Is every statement in the answer supported by the passages? Reply with one JSON object and nothing else:
{{"faithful": true or false, "unsupported": ["each unsupported statement", ...]}}"""


def make_judge(
    settings: Settings, url: str | None = None, model: str | None = None
) -> Callable[[str, str, list[str]], dict[str, Any]]:
    """A judge over ``url``/``model`` (``ASSISTANT_EVAL_JUDGE_URL``/``_MODEL``), else the configured LLM."""
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=model or settings.llm_model or "",
        api_base=url or settings.llm_url or "",
        api_key=settings.llm_api_key or "none",
        is_chat_model=True,
        temperature=0.0,
        timeout=settings.llm_timeout,
    )

    def judge(question: str, answer: str, passages: list[str]) -> dict[str, Any]:
        prompt = JUDGE_PROMPT.format(
            passages="\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1)),
            question=question,
            answer=answer,
        )
        return parse_judgement(str(llm.complete(prompt)))

    return judge


def parse_judgement(reply: str) -> dict[str, Any]:
    """The judge's JSON verdict; ``faithful`` None when the reply has none."""
    m = re.search(r"\{.*\}", reply, re.S)
    try:
        data = json.loads(m.group()) if m else {}
    except json.JSONDecodeError:
        data = {}
    faithful = data.get("faithful") if isinstance(data, dict) else None
    unsupported = data.get("unsupported") if isinstance(data, dict) else None
    return {
        "faithful": faithful if isinstance(faithful, bool) else None,
        "unsupported": [str(u) for u in unsupported] if isinstance(unsupported, list) else [],
        "raw": reply[:500],
    }
