"""Pure helpers of the chat's saved-conversation controls and its two browser scripts (scroll, clipboard)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assistant.web.ui.render import TEXTS, esc

# After an answer, the chat is scrolled (inside its own box) so that the question is at the top and the answer
# starts just below it: Gradio's autoscroll would show a long answer's end.
SCROLL_TO_LAST_QUESTION = """() => {
  const users = document.querySelectorAll('#elmo-chat [data-testid="user"]');
  const last = users[users.length - 1];
  if (!last) return;
  let box = last.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight + 1 && getComputedStyle(box).overflowY !== 'visible')) {
    box = box.parentElement;
  }
  if (box) box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
}"""

# Gradio's copy button has just put the message's Markdown on the clipboard; this replaces it with the
# server-made text (plain answer + numbered sources).
WRITE_CLIPBOARD = """(text) => {
  if (text && navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
  return text;
}"""


def message_index(messages: list[dict[str, str]], copied: Any) -> int | None:
    """Which chat message was copied: gr.CopyData carries the copied value only (the message's Markdown)."""
    if isinstance(copied, list):  # content parts
        copied = "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in copied)
    if not isinstance(copied, str):
        return None
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["content"].strip() == copied.strip():
            return i
    return None


def list_label(title: str, updated: float) -> str:
    return f"{title} · {datetime.fromtimestamp(updated).strftime('%d.%m. %H:%M')}"


def export_link(conversation: str | None, lang: str) -> str:
    """A download link of the conversation's Markdown (the route checks the browser's cookie)."""
    if not conversation:
        return ""
    href = f"conversations/{esc(conversation)}/export?lang={esc(lang)}"
    return f'<a class="elmo-export" href="{href}" download>{esc(TEXTS[lang]["export"])}</a>'
