"""A scripted OpenAI-compatible LLM server for the tests: real HTTP on 127.0.0.1, in a thread.

It speaks what the ``openai`` client (under llama-index's ``OpenAILike``) sends and expects:

* ``POST /v1/chat/completions`` — a JSON ``chat.completion``, or with ``"stream": true`` server-sent
  events (``data: {chat.completion.chunk}`` … ``data: [DONE]``, chunked transfer encoding, a first chunk
  carrying the role, a last one the ``finish_reason``, plus a usage chunk when ``stream_options`` asks);
* ``GET /v1/models`` — the model list.

Replies come from a queue (``server.script(...)``) or, when the queue is empty, from ``default`` (a string
or a function of the request). A reply is a string (the assistant's content), a :class:`Fail` (an HTTP
error status) or a :class:`Hang` (sleep before answering, for timeouts). Every request is recorded in
``server.requests`` (path, headers, parsed JSON body) so tests can assert on the prompt.

    with FakeLLM() as llm:
        llm.script("Gitte Meriläinen on projektipäällikkö. [1]")
        ... ASSISTANT_LLM_URL=llm.url ...
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fail:
    status: int = 500
    message: str = "internal error (scripted)"


@dataclass
class Hang:
    seconds: float
    then: str = ""


Reply = str | Fail | Hang
ReplyFn = Callable[["Request"], Reply]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def content(self, role: str) -> str:
        """All the text of the messages with this role, joined (content as a string or as blocks)."""
        out = []
        for m in self.messages:
            if m.get("role") != role:
                continue
            c = m.get("content")
            if isinstance(c, list):
                out.extend(b.get("text", "") for b in c if isinstance(b, dict))
            elif c:
                out.append(str(c))
        return "\n".join(out)

    @property
    def system(self) -> str:
        return self.content("system")

    @property
    def user(self) -> str:
        return self.content("user")


def split_tokens(text: str) -> list[str]:
    """Content cut the way a model streams it: words with their trailing space, markers on their own."""
    return re.findall(r"\[\d+\]|\s*[^\s\[]+\s*|\s+", text) or [text]


class FakeLLM:
    def __init__(self, default: Reply | ReplyFn = "", *, model: str = "fake", delay: float = 0.0):
        self.default = default
        self.model = model
        self.delay = delay  # seconds between streamed chunks
        self.requests: list[Request] = []
        self._queue: queue.Queue[Reply | ReplyFn] = queue.Queue()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------------------------------------

    def script(self, *replies: Reply | ReplyFn) -> FakeLLM:
        for r in replies:
            self._queue.put(r)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> FakeLLM:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        while not self._queue.empty():
            self._queue.get_nowait()

    # -- serving -----------------------------------------------------------------------------------------

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def _next_reply(self, req: Request) -> Reply:
        try:
            reply: Reply | ReplyFn = self._queue.get_nowait()
        except queue.Empty:
            reply = self.default
        while callable(reply):
            reply = reply(req)
        return reply


def _make_handler(server: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like vLLM / llama.cpp

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def do_GET(self) -> None:
            server._record(Request("GET", self.path, dict(self.headers)))
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [_model_card(server.model)]})
            else:
                self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                return
            req = Request("POST", self.path, dict(self.headers), body)
            server._record(req)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                return
            if not isinstance(body.get("messages"), list) or not body.get("model"):
                self._json(
                    400,
                    {
                        "error": {
                            "message": "messages and model are required",
                            "type": "invalid_request_error",
                        }
                    },
                )
                return
            reply = server._next_reply(req)
            if isinstance(reply, Hang):
                time.sleep(reply.seconds)
                reply = reply.then
            if isinstance(reply, Fail):
                self._json(
                    reply.status,
                    {"error": {"message": reply.message, "type": "server_error", "code": reply.status}},
                )
                return
            if req.stream:
                self._stream(req, reply)
            else:
                self._complete(req, reply)

        def _complete(self, req: Request, content: str) -> None:
            self._json(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": req.body.get("model", server.model),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": _usage(req, content),
                },
            )

        def _chunk(self, data: str) -> None:
            payload = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        def _stream(self, req: Request, content: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            created = int(time.time())
            model = req.body.get("model", server.model)

            def event(delta: dict[str, Any], finish: str | None = None) -> str:
                return json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                    }
                )

            try:
                self._chunk(event({"role": "assistant", "content": ""}))
                for token in split_tokens(content) if content else []:
                    if server.delay:
                        time.sleep(server.delay)
                    self._chunk(event({"content": token}))
                self._chunk(event({}, "stop"))
                if (req.body.get("stream_options") or {}).get("include_usage"):
                    usage = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(req, content),
                    }
                    self._chunk(json.dumps(usage))
                self._chunk("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away mid-stream

    return Handler


def _model_card(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "tests"}


def _usage(req: Request, content: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in req.messages)
    completion = len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
