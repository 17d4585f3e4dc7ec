"""An OpenAI-compatible chat endpoint, so that existing OpenAI clients ask the knowledge base unchanged.

* ``POST /v1/chat/completions`` — the last message (role ``user``) is the question, earlier ``user``
  messages are the conversation history; ``system``/``developer``/``assistant``/``tool`` messages are
  accepted and ignored (a public client cannot steer the answerer with its own prompt). Only text content
  counts: image, audio and file parts are dropped. ``model`` and sampling parameters are accepted and
  ignored. The answer keeps its ``[n]`` markers; the citations (the objects of ``POST /api/ask``) are in
  ``choices[0].message.citations`` and a top-level ``citations``; ``refused`` says whether the sources
  answered. With ``"stream": true``: server-sent ``chat.completion.chunk`` events, the citations on the
  final chunk (the one with ``finish_reason``), then ``data: [DONE]``.
* ``GET /v1/models`` — the one model, :data:`MODEL_ID`.

Errors use OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``, 400 for invalid input), so
the ``openai`` client raises its usual ``BadRequestError`` with our message.

Streaming sends the *verified* answer only: an LLM's draft can lose sentences or have its citations
renumbered by the verifier, and an OpenAI stream cannot take back text it already sent.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from assistant.schema import HISTORY_USED, MAX_HISTORY_ITEMS, Answer, encodable

MODEL_ID = "elmo-assistant"

AskStream = Callable[[str, list[Any]], Iterator["str | Answer"]]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")  # image/audio payloads are not kept
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",  # temperature, max_tokens, … : accepted, not used
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [{"role": "user", "content": "Kuka on ELMO-pilotin projektipäällikkö?"}],
                }
            ]
        },
    )
    model: str = Field(MODEL_ID, description=f"any name is accepted; the answer comes from {MODEL_ID}")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_HISTORY_ITEMS + 1)
    stream: bool = False


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def error_response(status: int, message: str, code: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status)


class OpenAIRoute(APIRoute):
    """Errors of these routes in OpenAI's shape instead of FastAPI's ``{"detail"}``."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ())[1:])
                message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "")
                return error_response(400, message or "invalid request", "invalid_request", where or None)
            except OpenAIError as exc:
                return error_response(exc.status, exc.message, exc.code, exc.param)
            except HTTPException as exc:
                return error_response(exc.status_code, str(exc.detail), "http_error")

        return route


def text_of(content: str | list[ContentPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.text for p in content if p.type == "text" and p.text)


def question_and_history(body: ChatCompletionRequest, max_chars: int) -> tuple[str, list[str]]:
    """The last message as the question (its size checked first), earlier user messages as history."""
    last = body.messages[-1]
    if last.role != "user":
        raise OpenAIError(
            400, "the last message must be the question, with role 'user'", "invalid_role", "messages"
        )
    size = (
        len(last.content)
        if isinstance(last.content, str)
        else sum(len(p.text or "") for p in last.content or [] if p.type == "text")
    )
    if size > max_chars:
        raise OpenAIError(
            400,
            f"the question is too long ({size} characters; at most {max_chars})",
            "question_too_long",
            "messages",
        )
    question = text_of(last.content)
    if not question.strip():
        raise OpenAIError(400, "the last user message has no text", "empty_question", "messages")
    history = [text_of(m.content) for m in body.messages[:-1] if m.role == "user"]
    return encodable(question), encodable([q for q in history if q.strip()][-HISTORY_USED:])


def final_answer(items: Iterator[str | Answer]) -> Answer:
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise RuntimeError("the assistant gave no answer")
    return answer


def completion(answer: Answer, completion_id: str, created: int) -> dict[str, Any]:
    citations = answer.to_dict()["citations"]
    message = {"role": "assistant", "content": answer.answer, "refusal": None, "citations": citations}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "citations": citations,
        "refused": answer.refused,
        "language": answer.language,
    }


_PIECE = re.compile(r"\s*\S+|\s+$")  # words with the whitespace before them: the pieces join to the text


def chunk(
    completion_id: str, created: int, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def stream_events(items: Iterator[str | Answer], completion_id: str, created: int) -> Iterator[str]:
    yield sse(
        chunk(completion_id, created, {"role": "assistant", "content": ""})
    )  # at once: the stream is live
    try:
        answer = final_answer(items)
    except Exception:  # noqa: BLE001 - the status line is sent; OpenAI clients raise on an in-band error
        yield sse({"error": {"message": "the answer failed; see the server log", "type": "server_error"}})
        return
    for piece in _PIECE.findall(answer.answer):
        yield sse(chunk(completion_id, created, {"content": piece}))
    last = chunk(completion_id, created, {}, finish="stop")
    citations = answer.to_dict()["citations"]
    last["choices"][0]["delta"]["citations"] = citations
    last.update(citations=citations, refused=answer.refused, language=answer.language)
    yield sse(last)
    yield sse("[DONE]")


def add_openai_routes(app: FastAPI, ask_stream: AskStream, *, max_question_chars: int) -> None:
    """``POST /v1/chat/completions`` and ``GET /v1/models`` on ``app``, answering with ``ask_stream``
    (``(question, history)`` → text drafts, then the final :class:`Answer`)."""
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], route_class=OpenAIRoute)
    created_at = int(time.time())

    @router.post("/chat/completions", responses={400: {"description": "OpenAI-style error"}})
    def chat_completions(body: ChatCompletionRequest) -> Response:
        """Answers the last user message from the knowledge base (OpenAI chat-completions format, streaming
        with `"stream": true`); the `[n]` markers stay in the text, the cited passages are in `citations`."""
        question, history = question_and_history(body, max_question_chars)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        items = ask_stream(question, history)
        if body.stream:
            return StreamingResponse(
                stream_events(items, completion_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse(completion(final_answer(items), completion_id, created))

    @router.get("/models")
    def models() -> dict[str, Any]:
        """The one model this server answers with."""
        return {
            "object": "list",
            "data": [
                {"id": MODEL_ID, "object": "model", "created": created_at, "owned_by": "elmo-assistant"}
            ],
        }

    app.include_router(router)
