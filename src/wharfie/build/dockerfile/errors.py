"""DockerfileError: what is wrong with a Dockerfile, where, in the legacy builder's words.

`str(err)` is the text moby v28's classic builder (`POST /build?version=1`) returns, since that
is what `docker build` prints for it:

- the line parser failing:        ``failed to parse Dockerfile: unterminated heredoc``
- an instruction failing:         ``dockerfile parse error on line 3: unknown instruction: RNU``
- everything else (stage order, expansion at dispatch): the bare message.

The location is always kept on the object (`file`, `line`, `end_line`, `location`) even when
the legacy text omits it, so a CLI or BuildKit-style renderer can point at the line.
"""

from __future__ import annotations

from wharfie.errors import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile that cannot be parsed, typed or expanded. HTTP 400."""

    def __init__(self, message: str, *, file: str = "Dockerfile", line: int | None = None,
                 end_line: int | None = None, text: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.end_line = end_line if end_line is not None else line
        super().__init__(text if text is not None else message)

    @classmethod
    def parse_failure(cls, message: str, *, file: str, line: int,
                      end_line: int | None = None) -> DockerfileError:
        """The line parser gave up (moby wraps these as `failed to parse <file>: …`)."""
        return cls(message, file=file, line=line, end_line=end_line,
                   text=f"failed to parse {file}: {message}")

    @classmethod
    def instruction(cls, message: str, *, file: str, line: int,
                    end_line: int | None = None) -> DockerfileError:
        """An instruction is malformed (BuildKit's `dockerfile parse error on line N: …`)."""
        return cls(message, file=file, line=line, end_line=end_line,
                   text=f"dockerfile parse error on line {line}: {message}")

    @property
    def location(self) -> str:
        """`Dockerfile:3`, BuildKit's way of naming the place."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def at(self, line: int, end_line: int | None = None, *,
           file: str | None = None) -> DockerfileError:
        """The same error placed on a line (for errors raised before the line was known)."""
        return DockerfileError(self.message, file=file or self.file, line=line,
                               end_line=end_line, text=str(self))
