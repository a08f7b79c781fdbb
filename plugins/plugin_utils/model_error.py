# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of model loading and validation, located in the model file."""

from __future__ import annotations

INSTALL_NIX_HINT = "install Nix (nix-instantiate) on the controller to lift this limit"


class ModelError(Exception):
    """A problem with a model file; str() is one line: ``path:line:column: message``."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def location(self) -> str:
        """``path:line:column`` with the missing parts left out ('' when nothing is known)."""
        parts = [self.path] if self.path else []
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def __reduce__(self):
        # keep the attributes when the error crosses a process boundary (pickling)
        return (type(self), (self.message, self.path, self.line, self.column))


class UnsupportedNixError(ModelError):
    """The model uses Nix beyond the static subset that the built-in parser understands."""

    @classmethod
    def construct(cls, what: str, path: str | None, line: int | None, column: int | None) -> UnsupportedNixError:
        """The standard message for an unsupported construct such as ``the operator '+'``."""
        message = f"{what} is outside the subset of Nix that the built-in parser supports; {INSTALL_NIX_HINT}"
        return cls(message, path, line, column)
