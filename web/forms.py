"""Form errors the GOV.UK way: an error summary at the top of the page linking to each bad field,
and the same message beside the field.

A page collects its errors in a :class:`FormErrors` (by field name, in the order of the form),
from a pydantic ``ValidationError`` of the intake's own models (:meth:`FormErrors.from_validation`,
which keeps the domain's own words: :func:`domain.types.error_message`) or one by one
(:meth:`FormErrors.add`), and hands it to the template as ``errors``. The templates' macros
(``web/templates/macros/forms.html``) draw the summary and pass ``errors.message(name)`` to the
GOV.UK component of each field as its ``errorMessage``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from domain.types import error_message

__all__ = ["FormErrors"]


@dataclass
class FormErrors:
    """Field name -> message, in the order they were added. ``ids`` maps a field name to the id
    of the element its summary link goes to (by default the name itself; a date input's first
    part, a radio group's first option)."""

    messages: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str, *, id: str | None = None) -> None:
        """The first message for a field wins (the one to fix first)."""
        self.messages.setdefault(name, message)
        if id is not None:
            self.ids.setdefault(name, id)

    @classmethod
    def from_validation(
        cls,
        exc: ValidationError,
        *,
        names: Mapping[str, str] | None = None,
        order: Iterable[str] = (),
    ) -> FormErrors:
        """The errors of a pydantic model: each against its field (the first part of the
        error's location, or the dotted path mapped by ``names``). A model-level error that
        starts ``"field: "`` goes to that field, as the domain's models word them."""
        found: dict[str, str] = {}
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"])
            message = error_message(error)
            name = (names or {}).get(location) or (str(error["loc"][0]) if error["loc"] else "")
            if not error["loc"]:
                prefix, sep, rest = message.partition(": ")
                if sep and prefix.isidentifier():
                    name, message = prefix, rest
            found.setdefault(name or "form", _sentence(message))
        errors = cls()
        for name in order:
            if name in found:
                errors.add(name, found.pop(name))
        for name, message in found.items():
            errors.add(name, message)
        return errors

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __contains__(self, name: object) -> bool:
        return name in self.messages

    def message(self, name: str) -> dict[str, str] | None:
        """The ``errorMessage`` of a GOV.UK component: ``{"text": ...}``, or ``None``."""
        text = self.messages.get(name)
        return {"text": text} if text is not None else None

    def summary(self) -> list[dict[str, str]]:
        """The error summary's ``errorList``: each message linking to its field."""
        return [
            {"text": text, "href": f"#{self.ids.get(name, name)}"}
            for name, text in self.messages.items()
        ]


def _sentence(message: str) -> str:
    """A message as GOV.UK shows it: starting with a capital letter, no full stop."""
    message = message.strip().rstrip(".")
    return message[:1].upper() + message[1:] if message else message
