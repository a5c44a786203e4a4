"""The words of every email: the notification's model rendered with its Jinja2 template.

PROVISIONAL: a plain field listing until the templates in ``activities/templates/`` exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.case.notifications import NotificationBase

__all__ = ["Rendered", "render_notification"]


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render_notification(message: NotificationBase, *, la_name: str) -> Rendered:
    kind = str(getattr(message, "kind", "notification"))
    subject = f"CME case {message.case}: {kind.replace('_', ' ')}"
    lines = [f"{name}: {value}" for name, value in message.model_dump(mode="json").items()]
    lines += ["", f"Case reference: {message.case}", "--", f"{la_name} School Attendance Team"]
    return Rendered(subject=subject, body="\n".join(lines) + "\n")
