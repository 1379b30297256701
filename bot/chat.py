"""The terminal chat: a line-editing REPL on a TTY, a plain line-by-line answerer on a pipe."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from khabar.bot.render import alert_text, answer_text, timeline_text, topics_text
from khabar.bot.sessions import Conversations
from khabar.bot.streams import BadLine, lines
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import KhabarError, QuestionError
from khabar.retrieval.types import Answer

HELP = """Ask a question in Arabic, Persian or English about the indexed articles.
Follow-up questions ("and where did they meet?") are read in the conversation's context.
  /new      start a new conversation (forget the earlier questions)
  /sources  full citations (snippets, links) of the last answer
  /follow <topic>     be told here of new articles of that story (/following, /unfollow N)
  /timeline <topic>   the story's dated articles in order ("what happened in this story?")
  /help     this help
  /quit     leave (Ctrl-D works too)"""

CHECKED = "── checked answer ──"
# A terminal holds one conversation, and it lasts as long as the session does.
_CONVERSATION = ("terminal",)
# The follows of whoever uses this machine's terminal (``khabar follow`` too).
LOCAL_CHAT = "local"


class ChatSession:
    """Turns input lines into output text; the I/O loop around it is chosen by ``run``."""

    def __init__(self, engine: Khabar,
                 stream: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        # Shows a generated answer as it is written; the checked version is the reply.
        self.stream = stream
        self.last: Answer | None = None
        self.conversations = Conversations(ttl=math.inf)

    def handle(self, line: str) -> str | None:
        """The reply to one input line; None means the user asked to quit."""
        command = line.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            return None
        if command in ("/help", "/?"):
            return HELP
        if command == "/new":
            self.conversations.reset(_CONVERSATION)
            self.last = None
            return "New conversation."
        if command == "/sources":
            if self.last is None:
                return "No answer yet: ask a question first."
            return answer_text(self.last, full=True)
        if not command:
            return ""
        follow = self._follow_command(line.strip())
        if follow is not None:
            return self._with_alerts(follow)
        topic = self.engine.timeline_topic(line, self.conversations.history(_CONVERSATION))
        if topic is not None:
            return self._with_alerts(timeline_text(self.engine.timeline(topic)))
        streamed: list[str] = []

        def show(delta: str) -> None:
            streamed.append(delta)
            self.stream(delta)

        try:
            self.last = self.engine.ask(line, history=self.conversations.history(_CONVERSATION),
                                        on_text=show if self.stream else None)
        except QuestionError as exc:
            return f"Cannot ask that: {exc}."
        self.conversations.add(_CONVERSATION, self.last.question)
        if streamed:  # the draft stays above; the checked answer below is the one that counts
            return self._with_alerts(f"\n{CHECKED}\n{answer_text(self.last)}")
        return self._with_alerts(answer_text(self.last))

    def _follow_command(self, line: str) -> str | None:
        """/follow, /following, /unfollow and /timeline; None for any other line."""
        name, _, arg = line.partition(" ")
        name, arg = name.lower(), arg.strip()
        try:
            if name == "/following":
                return topics_text(self.engine.following(LOCAL_CHAT))
            if name == "/follow":
                topic = self.engine.follow(LOCAL_CHAT, arg or (self.last.standalone or
                                                               self.last.question
                                                               if self.last else ""))
                return f"Following {topic.id}. {topic.text}: new articles will show here."
            if name == "/unfollow":
                return f"Stopped following: {self.engine.unfollow(LOCAL_CHAT, arg).text}"
            if name == "/timeline":
                return timeline_text(self.engine.timeline(
                    arg or (self.last.question if self.last else "")))
        except KhabarError as exc:
            return f"Cannot do that: {exc}."
        return None

    def _with_alerts(self, reply: str) -> str:
        """The reply, then any alert that came for this terminal's topics (shown once)."""
        shown = [alert_text(a) for a in self.engine.follows.take(LOCAL_CHAT, limit=20)]
        return "\n\n".join([reply, *shown]) if shown else reply


def run(engine: Khabar, history: Path, stdin: TextIO | None = None,
        out: Callable[[str], None] = print) -> None:
    stdin = stdin or sys.stdin  # looked up per call: tests and embedders swap sys.stdin
    session = ChatSession(engine)
    if not stdin.isatty():
        for line in lines(stdin):
            if isinstance(line, BadLine):
                out(f"Cannot read that: {line.reason}.\n")
                continue
            if not line.strip():
                continue
            reply = session.handle(line)
            if reply is None:
                return
            out(reply + "\n")
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    if engine.llm is not None:
        session.stream = _live(sys.stdout)
    history.parent.mkdir(parents=True, exist_ok=True)
    prompt = PromptSession(history=FileHistory(str(history)))
    out("Khabar — " + HELP.splitlines()[0] + " /help for commands.")
    while True:
        try:
            line = prompt.prompt("khabar> ")
        except (EOFError, KeyboardInterrupt):
            return
        reply = session.handle(line)
        if reply is None:
            return
        if reply:
            out(reply + "\n")



def _live(stream: TextIO) -> Callable[[str], None]:
    """Writes a generated answer to the terminal as it comes."""

    def show(delta: str) -> None:
        stream.write(delta)
        stream.flush()

    return show
