"""The "Keskustelu / Chat" tab: questions, streamed answers, the sources panel and 👍/👎 feedback.

Gradio keeps State values on the server, per session; the client never sends or sees them. A session's
turns: ``[{"index", "question", "lang", "answer": slim answer dict | None, "id": answer id, "notice": str | None}]``.
Answered turns are also saved per browser (the cookie of :mod:`assistant.web.history`), so a reload, the list
of past conversations and undo bring them back; the client still sends nothing but text.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.conversations import MAX_TITLE_CHARS, Conversation, copy_text
from assistant.i18n import language
from assistant.schema import Answer
from assistant.service import KnowledgeService
from assistant.web.history import browser_of
from assistant.web.security import TokenBucket
from assistant.web.ui.conversation_view import (
    SCROLL_TO_LAST_QUESTION,
    WRITE_CLIPBOARD,
    export_link,
    list_label,
    message_index,
)
from assistant.web.ui.render import MAX_TURNS, TEXTS, answered, chat_messages, render_panel, turn_messages

log = logging.getLogger("assistant.web.ui")
Turns = list[dict[str, Any]]  # a session's turns (see the module docstring)

QUESTIONS_USED = 20  # earlier questions handed to the answerer (schema.HISTORY_USED counts API items)
ASK_CONCURRENCY = 4  # questions answered at once (2 CPU cores); the rest wait in Gradio's queue
ASKS_PER_CLIENT = 2  # questions of one client address in progress at once; more get a "busy" notice
ANSWER_KEYS = ("question", "language", "answer", "refused", "citations", "mode", "quoted_from_finnish")
STREAM_STEPS = 14  # extractive answers appear in about this many steps (after the answering slot is freed)
STREAM_DELAY = 0.025  # seconds between the steps

# example questions per UI language (the same count in each: the buttons are relabelled on a switch)
EXAMPLES: dict[str, list[str]] = {
    "fi": [
        "Kuka on ELMO-pilotin projektipäällikkö?",
        "Mitkä maakunnat valittiin ELMO-pilottiin?",
        "Mitkä ovat Itä- ja Pohjois-Suomen älykkään erikoistumisen strategian painopisteet?",
    ],
    "en": [
        "Who is the project manager of the ELMO pilot?",
        "Which regions took part in the ELMO pilot?",
        "What are the priorities of the new strategy?",
    ],
    "sv": [
        "Vem är projektledare för ELMO-piloten?",
        "Vilka landskap deltog i ELMO-piloten?",
        "Vad är ELMO-piloten?",
    ],
}


def slim(answer: Answer) -> dict[str, Any]:
    """What a session keeps of an answer: enough to render it, show its passages and rate it."""
    full = answer.to_dict()
    return {k: full[k] for k in ANSWER_KEYS if k in full}


def reveal_steps(text: str) -> list[int]:
    """Where an extractive answer is cut while it appears: about STREAM_STEPS word ends, the whole left out."""
    words = [m.end() for m in re.finditer(r"\S+\s*", text)]
    step = max(1, len(words) // STREAM_STEPS)
    return words[step - 1 : -1 : step]


def earlier_questions(turns: Turns, upto: int | None = None) -> list[str]:
    """The session's answered questions before turn position ``upto`` (all when None), the last QUESTIONS_USED."""
    done = turns if upto is None else turns[:upto]
    return [t["question"] for t in done if t.get("answer")][-QUESTIONS_USED:]


def turn_at(turns: Turns, message_index: Any) -> dict[str, Any] | None:
    """The turn whose answer is chat message ``message_index`` (a client-sent number, so checked)."""
    if isinstance(message_index, list | tuple) and message_index:
        message_index = message_index[0]
    if not isinstance(message_index, int) or isinstance(message_index, bool) or message_index % 2 != 1:
        return None
    pos = message_index // 2
    return turns[pos] if 0 <= pos < len(turns) else None


class PerClient:
    """Questions in progress per client address: Gradio's queue is first-come first-served across all
    clients, so one address flooding it would delay everyone; its extra questions get a notice instead."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}

    def acquire(self, client: str) -> bool:
        with self._lock:
            if self._running.get(client, 0) >= self.limit:
                return False
            self._running[client] = self._running.get(client, 0) + 1
            return True

    def release(self, client: str) -> None:
        with self._lock:
            left = self._running.get(client, 1) - 1
            if left > 0:
                self._running[client] = left
            else:
                self._running.pop(client, None)


def _client_address(request: gr.Request | None) -> str:
    client = getattr(request, "client", None)
    return str(getattr(client, "host", None) or "unknown")


class ChatTab:
    """Built inside a ``gr.Tab``; :meth:`wire` attaches the events once the language switch exists.

    The session's turns are also saved per browser (:class:`~assistant.conversations.ConversationStore`,
    keyed by the browser-id cookie) after each answer, and brought back when the page loads again.
    """

    def __init__(
        self,
        service: KnowledgeService,
        settings: Settings,
        ttl: int,
    ):
        self.service = service
        self.settings = settings
        self.feedback = service.feedback
        self.store = service.conversations
        self.per_client = PerClient(ASKS_PER_CLIENT)
        # questions per minute per address: here, not in Shield, which sees every UI event as a queue join
        self.ask_bucket = TokenBucket(settings.ask_rate_per_minute)
        self.turns = gr.State([], time_to_live=ttl)
        self.rated = gr.State({}, time_to_live=ttl)  # turn index -> feedback row id
        self.last_rating = gr.State(None, time_to_live=ttl)  # {"row", "answer"}: what a comment goes to
        self.next_index = gr.State(0, time_to_live=ttl)  # citation anchors stay unique within a session
        self.conversation = gr.State(None, time_to_live=ttl)  # the saved conversation's id
        self.undo_slot = gr.State(None, time_to_live=ttl)  # what the undo button brings back (once)
        self.revealing = gr.State(None, time_to_live=ttl)  # the index of the turn being revealed
        self._layout(TEXTS["fi"])

    def _layout(self, fi: dict[str, str]) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                self.chatbot = gr.Chatbot(
                    label=fi["chat_label"],
                    show_label=False,
                    elem_id="elmo-chat",
                    height=480,
                    resizable=True,
                    placeholder=fi["welcome"],
                    sanitize_html=True,
                    render_markdown=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    buttons=["copy"],
                    feedback_options=("Like", "Dislike"),
                    autoscroll=False,  # a long answer opens at its start (COPY/SCROLL scripts below)
                )
                with gr.Row(equal_height=True):
                    # no max_length: the browser would cut a long paste silently; the server refuses it visibly
                    self.question = gr.Textbox(
                        label=fi["input_label"],
                        placeholder=fi["input_placeholder"],
                        show_label=False,
                        lines=1,
                        max_lines=6,
                        scale=5,
                        elem_id="elmo-question",
                        autofocus=True,
                    )
                    self.send = gr.Button(fi["send"], variant="primary", scale=1, min_width=90, elem_id="elmo-send")
                    self.api_ask = gr.Button(visible=False)  # the trigger of the "ask" API endpoint, never shown
                self.feedback_msg = gr.Markdown("", elem_id="elmo-feedback-msg")
                with gr.Group(visible=False, elem_id="elmo-feedback") as self.comment_box:
                    self.comment = gr.Textbox(
                        label=fi["comment_label"],
                        placeholder=fi["comment_placeholder"],
                        lines=2,
                        max_length=2000,
                        elem_id="elmo-comment",
                    )
                    self.comment_send = gr.Button(fi["comment_send"], size="sm", elem_id="elmo-comment-send")
                self.copy_text = gr.Textbox("", visible="hidden", elem_id="elmo-copy-text", show_label=False)
                with gr.Row():
                    self.new_chat = gr.Button(
                        fi["new"], variant="secondary", size="sm", scale=0, min_width=170, elem_id="elmo-new"
                    )
                    self.undo = gr.Button(fi["undo"], size="sm", scale=0, min_width=100, visible=False, elem_id="elmo-undo")
                self.notice = gr.Markdown("", elem_id="elmo-chat-status")
                self._history_layout(fi)
                self.examples_label = gr.Markdown(f"**{fi['examples']}**")
                with gr.Row(elem_classes="elmo-examples"):
                    self.example_buttons = [gr.Button(q, size="sm") for q in EXAMPLES["fi"]]
            with gr.Column(scale=2, min_width=300):
                self.panel = gr.HTML(render_panel([], "fi", self.service.texts), elem_id="elmo-sources", js_on_load=None)

    def _history_layout(self, fi: dict[str, str]) -> None:
        with gr.Accordion(fi["history_label"], open=False, elem_id="elmo-history") as self.history_box:
            self.history = gr.Dropdown(
                choices=[],
                value=None,
                label=fi["history_choose"],
                allow_custom_value=True,  # the choices are per browser; the handler checks ownership
                elem_id="elmo-history-list",
            )
            with gr.Row(equal_height=True):
                self.title = gr.Textbox(label=fi["rename_label"], max_length=MAX_TITLE_CHARS, scale=3, elem_id="elmo-title-box")
                self.rename = gr.Button(fi["rename"], size="sm", scale=1, elem_id="elmo-rename")
            with gr.Row():
                self.delete = gr.Button(fi["delete"], size="sm", variant="stop", scale=0, elem_id="elmo-delete")
                self.export = gr.HTML("", elem_id="elmo-export", js_on_load=None)

    # -- relabelling ---------------------------------------------------------------------------------------

    def labelled(self) -> list[Any]:
        return [
            self.chatbot,
            self.question,
            self.send,
            self.new_chat,
            self.examples_label,
            self.panel,
            self.comment,
            self.comment_send,
            *self.example_buttons,
        ]

    def relabel(self, lang: str, turn_list: Turns) -> list[Any]:
        t = TEXTS[lang]
        return [
            gr.Chatbot(label=t["chat_label"], placeholder=t["welcome"]),
            gr.Textbox(label=t["input_label"], placeholder=t["input_placeholder"]),
            gr.Button(t["send"]),
            gr.Button(t["new"]),
            f"**{t['examples']}**",
            render_panel(answered(turn_list), lang, self.service.texts),
            gr.Textbox(label=t["comment_label"], placeholder=t["comment_placeholder"]),
            gr.Button(t["comment_send"]),
            *(gr.Button(q) for q in EXAMPLES.get(lang, EXAMPLES["fi"])),
        ]

    def _relabel_history(self, lang_value: Any, conversation: str | None) -> tuple[Any, ...]:
        t = TEXTS[language(lang_value)]
        return (
            gr.Accordion(label=t["history_label"]),
            gr.Dropdown(label=t["history_choose"]),
            gr.Textbox(label=t["rename_label"]),
            gr.Button(t["rename"]),
            gr.Button(t["delete"]),
            gr.Button(t["undo"]),
            export_link(conversation, language(lang_value)),
        )

    # -- asking --------------------------------------------------------------------------------------------

    def respond(
        self, message: Any, lang_value: Any, turn_list: Turns | None, counter: int | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        """The "ask" API endpoint: the whole answer in the last output."""
        yield from self._respond(message, lang_value, turn_list, counter, request, in_page=False)

    def ask_in_page(
        self, message: Any, lang_value: Any, turn_list: Turns | None, counter: int | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        """The page's question: an extractive answer is then revealed progressively (:meth:`reveal`)."""
        yield from self._respond(message, lang_value, turn_list, counter, request, in_page=True)

    def _respond(
        self,
        message: Any,
        lang_value: Any,
        turn_list: Turns | None,
        counter: int | None,
        request: gr.Request,
        *,
        in_page: bool,
    ) -> Iterator[tuple[Any, ...]]:
        """Outputs: the chat, the question box, the panel, the turns, the counter, the turn to reveal."""
        ui_lang = language(lang_value)
        turn_list = list(turn_list or [])[-(min(MAX_TURNS, self.settings.conversation_max_turns) - 1) :]
        q = message.strip() if isinstance(message, str) else ""  # capped before anything else
        if not q:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), None
            return
        turn: dict[str, Any] = {"index": int(counter or 0), "question": q, "lang": ui_lang}
        counter = turn["index"] + 1
        limit = self.settings.max_question_chars
        if len(q) > limit:  # refused visibly; the text stays in the box to be shortened
            turn["question"] = q[:200] + "…"
            yield self._notice(TEXTS[ui_lang]["too_long"].format(n=len(q), limit=limit), turn, turn_list, counter)
            return
        client = _client_address(request)
        wait = self.ask_bucket.take(client)
        if wait:
            notice = TEXTS[ui_lang]["too_many_questions"].format(seconds=max(1, math.ceil(wait)))
            yield self._notice(notice, turn, turn_list, counter)
            return
        if not self.per_client.acquire(client):
            yield self._notice(TEXTS[ui_lang]["busy"], turn, turn_list, counter)
            return
        try:
            yield from self._answer(q, ui_lang, turn, turn_list, counter, in_page)
        finally:
            self.per_client.release(client)

    @staticmethod
    def _notice(text: str, turn: dict[str, Any], turn_list: Turns, counter: int) -> tuple[Any, ...]:
        """A turn answered by a notice instead (refused, failed): the last output of :meth:`respond`."""
        turn["notice"] = text
        turn_list.append(turn)
        return chat_messages(turn_list), gr.skip(), gr.skip(), turn_list, counter, None

    def _answer(
        self, q: str, ui_lang: str, turn: dict[str, Any], turn_list: Turns, counter: int, in_page: bool
    ) -> Iterator[tuple[Any, ...]]:
        earlier = earlier_questions(turn_list)
        head = chat_messages(turn_list)  # the earlier turns, rendered once: only the new turn changes below
        yield [*head, *turn_messages(turn)], "", gr.skip(), gr.skip(), gr.skip(), None
        final: Answer | None = None
        draft = ""
        shown_at = 0.0
        try:
            for item in self.service.stream(q, earlier):
                if isinstance(item, Answer):
                    final = item
                else:  # a generative draft: shown as plain text until the verified answer replaces it
                    draft += item
                    if time.monotonic() - shown_at > 0.05:
                        shown_at = time.monotonic()
                        turn["notice"] = draft
                        yield [*head, *turn_messages(turn)], gr.skip(), gr.skip(), gr.skip(), gr.skip(), None
        except Exception:  # noqa: BLE001 - the user gets a sentence, the log the traceback
            log.exception("answering failed")
            yield self._notice(TEXTS[ui_lang]["error"], turn, turn_list, counter)
            return
        assert final is not None
        turn.update(answer=slim(final), notice=None, id=secrets.token_urlsafe(9))
        turn_list.append(turn)
        steps = reveal_steps(turn["answer"]["answer"]) if in_page and not draft else []
        if steps:  # extractive, in a page: shown progressively by :meth:`reveal`, after this slot is free
            yield [*head, *turn_messages(turn, steps[0])], "", gr.skip(), turn_list, counter, turn["index"]
            return
        # whole at once: a streamed draft was shown already; API callers want the answer itself
        panel = render_panel(answered(turn_list), ui_lang, self.service.texts)
        yield [*head, *turn_messages(turn)], "", panel, turn_list, counter, None

    async def reveal(
        self, turn_list: Turns | None, pending: int | None, lang_value: Any
    ) -> AsyncIterator[tuple[Any, ...]]:
        """The extractive answer just given, appearing progressively (a .then of the question, holding no
        answering slot nor thread while it waits), then its passages in the panel, as when it was whole.
        Outputs: the chat, the panel, the turn to reveal (cleared)."""
        turns = turn_list or []
        if pending is None or not turns or turns[-1].get("index") != pending or not turns[-1].get("answer"):
            yield gr.skip(), gr.skip(), None
            return
        head, turn = chat_messages(turns[:-1]), turns[-1]
        for upto in reveal_steps(turn["answer"]["answer"])[1:]:
            await asyncio.sleep(STREAM_DELAY)
            yield [*head, *turn_messages(turn, upto)], gr.skip(), gr.skip()
        await asyncio.sleep(STREAM_DELAY)
        panel = render_panel(answered(turns), language(lang_value), self.service.texts)
        yield [*head, *turn_messages(turn)], panel, None

    def _example(self, i: int) -> Callable[..., Iterator[tuple[Any, ...]]]:
        # the question comes from the server's list for the UI language, never from the button's client-sent value
        def run(
            lang_value: Any, turn_list: Turns | None, counter: int | None, request: gr.Request
        ) -> Iterator[tuple[Any, ...]]:
            yield from self.ask_in_page(EXAMPLES[language(lang_value)][i], lang_value, turn_list, counter, request)

        return run

    def asking_starts(self) -> tuple[Any, ...]:
        """A new question closes the comment box (a comment is for the answer just rated) and ends undo."""
        return gr.Group(visible=False), None, "", None, gr.Button(visible=False), ""

    # -- saved conversations -------------------------------------------------------------------------------

    def persist(
        self,
        turn_list: Turns | None,
        counter: int | None,
        conversation: str | None,
        lang_value: Any,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """After an answer: the session's turns saved as this browser's conversation."""
        browser = browser_of(request)
        if browser is None or not answered(turn_list or []):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        conversation = self.store.save(browser, conversation, list(turn_list or []), int(counter or 0))
        found = self.store.get(browser, conversation)
        title = found.title if found else ""
        return conversation, self._choices(browser, conversation), export_link(conversation, language(lang_value)), title

    def _choices(self, browser: str | None, current: str | None) -> Any:
        listing = self.store.listing(browser) if browser else []
        choices = [(list_label(title, updated), cid) for cid, title, updated in listing]
        return gr.Dropdown(choices=choices, value=current if current in {c[1] for c in choices} else None)

    def _show(self, found: Conversation | None, lang: str, browser: str | None, counter: int) -> tuple[Any, ...]:
        """Outputs that show a saved conversation (or an empty chat): SHOW_OUTPUTS order."""
        turns = found.turns if found else []
        # anchors must stay unique in the page: renumber the turns from the session's counter on
        for i, turn in enumerate(turns):
            turn["index"] = counter + i
        current = found.id if found else None
        return (
            chat_messages(turns),
            render_panel(answered(turns), lang, self.service.texts),
            turns,
            counter + len(turns),
            current,
            self._choices(browser, current),
            export_link(current, lang),
            found.title if found else "",
            {},
            None,
            gr.Group(visible=False),
        )

    def restore(self, lang_value: Any, counter: int | None, request: gr.Request) -> tuple[Any, ...]:
        """On page load: the browser's latest conversation, as it was."""
        browser = browser_of(request)
        found = self.store.latest(browser) if browser else None
        return self._show(found, language(lang_value), browser, int(counter or 0))

    def switch(self, chosen: Any, lang_value: Any, counter: int | None, request: gr.Request) -> tuple[Any, ...]:
        browser = browser_of(request)
        found = self.store.get(browser, chosen) if browser else None  # only this browser's own
        if found is None:
            return tuple(gr.skip() for _ in SHOW_OUTPUTS_COUNT)
        return self._show(found, language(lang_value), browser, int(counter or 0))

    def do_rename(self, title: Any, conversation: str | None, lang_value: Any, request: gr.Request) -> tuple[Any, ...]:
        browser = browser_of(request)
        if not browser or not conversation or not isinstance(title, str):
            return gr.skip(), gr.skip()
        if not self.store.rename(browser, conversation, title):
            return gr.skip(), gr.skip()
        return self._choices(browser, conversation), TEXTS[language(lang_value)]["renamed"]

    def clear(
        self,
        kind: str,
        lang_value: Any,
        turn_list: Turns | None,
        counter: int | None,
        conversation: str | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """"Uusi keskustelu" (``kind="new"``: the conversation stays in the list) or the trash / delete
        (``"clear"``: it leaves the list); either can be undone once."""
        lang = language(lang_value)
        browser = browser_of(request)
        slot = None
        if turn_list:
            slot = {"kind": kind, "turns": list(turn_list), "conversation": conversation}
            if kind == "clear" and browser and conversation:
                self.store.hide(browser, conversation)
        shown = self._show(None, lang, browser, int(counter or 0))
        notice = TEXTS[lang]["cleared"] if slot else ""
        return (*shown, "", slot, gr.Button(visible=slot is not None), notice)

    def start_new(
        self, lang_value: Any, turns: Any, counter: int | None, conversation: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        return self.clear("new", lang_value, turns, counter, conversation, request)

    def clear_current(
        self, lang_value: Any, turns: Any, counter: int | None, conversation: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        return self.clear("clear", lang_value, turns, counter, conversation, request)

    def do_undo(self, slot: dict[str, Any] | None, lang_value: Any, counter: int | None, request: gr.Request) -> tuple[Any, ...]:
        lang = language(lang_value)
        browser = browser_of(request)
        if not slot:
            return (*(gr.skip() for _ in SHOW_OUTPUTS_COUNT), None, gr.Button(visible=False), "")
        conversation = slot.get("conversation")
        if slot["kind"] == "clear" and browser and conversation:
            self.store.restore(browser, conversation)
        found = Conversation(id=conversation or "", title="", turns=list(slot["turns"]))
        shown = list(self._show(found, lang, browser, int(counter or 0)))
        if not (browser and conversation and self.store.get(browser, conversation)):
            shown[4:8] = [None, self._choices(browser, None), export_link(None, lang), ""]  # session-only
        else:
            shown[7] = self.store.get(browser, conversation).title  # type: ignore[union-attr]
        return (*shown, None, gr.Button(visible=False), "")

    # -- copy ----------------------------------------------------------------------------------------------

    def on_copy(self, data: gr.CopyData, turn_list: Turns | None, lang_value: Any) -> tuple[Any, ...]:
        """The clipboard text of a message, made here from the server's own turn (Gradio's button copies the
        rendered Markdown; the browser then replaces it with this)."""
        turns = turn_list or []
        index = message_index(chat_messages(turns), data.value)
        if index is None:
            return gr.skip(), gr.skip()
        pos = index // 2
        turn = turns[pos]
        lang = language(lang_value)
        if index % 2 == 0:
            return turn["question"], gr.skip()
        if turn.get("answer"):
            return copy_text(turn["answer"], lang), TEXTS[lang]["copy_done"]
        return str(turn.get("notice") or ""), gr.skip()

    # -- feedback ------------------------------------------------------------------------------------------

    def on_like(
        self, data: gr.LikeData, turn_list: Turns, rated_map: dict[int, int], lang_value: Any
    ) -> tuple[Any, ...]:
        lang_value = language(lang_value)
        t = TEXTS[lang_value]
        turn_list = turn_list or []
        turn = turn_at(turn_list, data.index)
        if turn is None or not turn.get("answer"):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        rated_map = dict(rated_map or {})
        key = turn["index"]
        row = rated_map.get(key)
        rating = "up" if data.liked is True else "down" if data.liked is False else None
        if rating is None:  # the user took the rating back: nothing left to comment on
            if row is not None:
                self.feedback.delete(row)
                rated_map.pop(key, None)
            return rated_map, None, gr.Group(visible=False), t["feedback_removed"], ""
        answer_id = str(turn.get("id") or "")
        if row is None or not self.feedback.update(row, rating=rating):
            # what is stored is the server's own answer and the session's earlier questions
            history = earlier_questions(turn_list, turn_list.index(turn))
            row = self.feedback.add_answer(
                rating, turn["answer"], history=history, ui_language=lang_value, answer_id=answer_id or None
            )
            rated_map[key] = row
        return rated_map, {"row": row, "answer": answer_id}, gr.Group(visible=True), t["thanks"], ""

    def on_comment(self, text: Any, rating: dict[str, Any] | None, lang_value: Any) -> tuple[Any, ...]:
        """Saves the comment on the rating it was opened for (checked by the store against the answer id),
        then closes the box: a later comment needs a new rating."""
        t = TEXTS[language(lang_value)]
        if not isinstance(rating, dict) or not isinstance(text, str) or not text.strip():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if not self.feedback.comment_on(int(rating["row"]), str(rating["answer"]), text):
            return gr.skip(), "", gr.Group(visible=False), None
        return t["comment_saved"], "", gr.Group(visible=False), None

    # -- events --------------------------------------------------------------------------------------------

    def wire(self, lang: gr.Radio, demo: gr.Blocks | None = None) -> None:
        chat_outputs = [self.chatbot, self.question, self.panel, self.turns, self.next_index, self.revealing]
        asking = {"concurrency_limit": ASK_CONCURRENCY, "concurrency_id": "ask", "show_progress": "hidden"}
        private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        # no concurrency limit: it only waits (asyncio), and must not queue behind other sessions' questions
        reveal = {
            "fn": self.reveal,
            "inputs": [self.turns, self.revealing, lang],
            "outputs": [self.chatbot, self.panel, self.revealing],
        }
        persist = {
            "fn": self.persist,
            "inputs": [self.turns, self.next_index, self.conversation, lang],
            "outputs": [self.conversation, self.history, self.export, self.title],
            **private,
        }
        starts = [self.comment_box, self.last_rating, self.comment, self.undo_slot, self.undo, self.notice]
        chat_inputs = [self.question, lang, self.turns, self.next_index]
        # the API's "ask" (whole answers) has a trigger of its own: the page's questions are revealed instead
        api = self.api_ask.click(self.respond, inputs=chat_inputs, outputs=chat_outputs, api_name="ask", **asking)
        api.then(**persist)
        asked = gr.on(
            triggers=[self.question.submit, self.send.click],
            fn=self.ask_in_page,
            inputs=chat_inputs,
            outputs=chat_outputs,
            api_visibility="private",
            **asking,
        )
        events = [asked]
        for i, button in enumerate(self.example_buttons):
            events.append(
                button.click(
                    self._example(i),
                    inputs=chat_inputs[1:],
                    outputs=chat_outputs,
                    api_visibility="private",
                    **asking,
                )
            )
        for event in events:  # saved at once; the reveal runs beside it (the turns are complete already)
            event.then(**persist)
            event.then(**reveal, concurrency_limit=None, **private).then(None, js=SCROLL_TO_LAST_QUESTION, **private)
        # (a question asked within a reveal's ~0.4 s may be hidden until its own answer: the last view is right)
        triggers = [self.question.submit, self.send.click, *(b.click for b in self.example_buttons)]
        gr.on(triggers=triggers, fn=self.asking_starts, outputs=starts, **private)
        self._wire_history(lang, demo, private)
        self._wire_feedback(lang, private)

    def _wire_history(self, lang: gr.Radio, demo: gr.Blocks | None, private: dict[str, Any]) -> None:
        shown = [
            self.chatbot, self.panel, self.turns, self.next_index, self.conversation, self.history,
            self.export, self.title, self.rated, self.last_rating, self.comment_box,
        ]  # fmt: skip
        after_clear = [*shown, self.comment, self.undo_slot, self.undo, self.notice]
        clear_inputs = [lang, self.turns, self.next_index, self.conversation]
        self.new_chat.click(self.start_new, inputs=clear_inputs, outputs=after_clear, **private)
        gr.on(
            triggers=[self.chatbot.clear, self.delete.click],
            fn=self.clear_current,
            inputs=clear_inputs,
            outputs=after_clear,
            **private,
        )
        self.undo.click(
            self.do_undo,
            inputs=[self.undo_slot, lang, self.next_index],
            outputs=[*shown, self.undo_slot, self.undo, self.notice],
            **private,
        )
        self.history.input(self.switch, inputs=[self.history, lang, self.next_index], outputs=shown, **private)
        gr.on(
            triggers=[self.rename.click, self.title.submit],
            fn=self.do_rename,
            inputs=[self.title, self.conversation, lang],
            outputs=[self.history, self.notice],
            **private,
        )
        lang.change(
            self._relabel_history,
            inputs=[lang, self.conversation],
            outputs=[self.history_box, self.history, self.title, self.rename, self.delete, self.undo, self.export],
            **private,
        )
        if demo is not None:
            demo.load(self.restore, inputs=[lang, self.next_index], outputs=shown, **private)
        self.chatbot.copy(
            self.on_copy, inputs=[self.turns, lang], outputs=[self.copy_text, self.notice], **private
        ).then(None, inputs=[self.copy_text], js=WRITE_CLIPBOARD, **private)

    def _wire_feedback(self, lang: gr.Radio, private: dict[str, Any]) -> None:
        self.chatbot.like(
            self.on_like,
            inputs=[self.turns, self.rated, lang],
            outputs=[self.rated, self.last_rating, self.comment_box, self.feedback_msg, self.comment],
            api_visibility="private",
        )
        gr.on(
            triggers=[self.comment_send.click, self.comment.submit],
            fn=self.on_comment,
            inputs=[self.comment, self.last_rating, lang],
            outputs=[self.feedback_msg, self.comment, self.comment_box, self.last_rating],
            **private,
        )


SHOW_OUTPUTS_COUNT = range(11)  # the outputs of ChatTab._show
