"""Pure syslog parsing: RFC 5424 and RFC 3164 (BSD) lines to fields, and TCP framing (RFC 6587).

Anything is accepted: a line that follows neither RFC keeps its text as the message (RFC 3164
itself says any datagram is a valid message) and is marked `malformed`, so a rule on the
message still sees it. Binary junk is decoded with replacement characters, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
# Lines longer than this are cut (the rest is dropped); a TCP frame longer than it is skipped.
MAX_LINE_BYTES = 64 * 1024

_PRI = re.compile(r"<(\d{1,3})>")
_5424 = re.compile(
    r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?(-|(?:\[(?:[^\]\\]|\\.)*\])+)? ?(.*)",
    re.DOTALL,
)
_SD_ELEMENT = re.compile(r"\[([^\s\]=]+)((?:\s+[^\s=\]]+=\"(?:[^\"\\]|\\.)*\")*)\]")
_SD_PARAM = re.compile(r"([^\s=\]]+)=\"((?:[^\"\\]|\\.)*)\"")
_3164 = re.compile(
    r"<(\d{1,3})>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^:\[\s]+)(?:\[([^\]]*)\])?: ?(.*)",
    re.DOTALL,
)


@dataclass
class LogLine:
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    malformed: bool = False

    def get(self, name: str) -> str | None:
        if name in ("message", "msg"):
            return self.message
        return self.fields.get(name)


def _nil(value: str) -> str:
    return "" if value == "-" else value


def _pri_fields(pri: int, out: dict[str, str]) -> None:
    out["facility"] = str(pri >> 3)
    out["severity"] = SEVERITY_NAMES[pri & 7]


def parse(data: bytes) -> LogLine:
    """One syslog message (without its framing)."""
    text = data[:MAX_LINE_BYTES].decode("utf-8", errors="replace").rstrip("\r\n\x00")
    if text.startswith("\ufeff"):
        text = text[1:]
    m = _5424.match(text)
    if m and int(m.group(1)) < 192:
        fields: dict[str, str] = {}
        _pri_fields(int(m.group(1)), fields)
        fields.update(
            timestamp=_nil(m.group(3)),
            host=_nil(m.group(4)),
            app=_nil(m.group(5)),
            procid=_nil(m.group(6)),
            msgid=_nil(m.group(7)),
        )
        sd = m.group(8) or ""
        if sd and sd != "-":
            for element in _SD_ELEMENT.finditer(sd):
                for name, value in _SD_PARAM.findall(element.group(2)):
                    fields[name] = value.replace('\\"', '"').replace("\\]", "]")
        message = m.group(9)
        if message.startswith("\ufeff"):
            message = message[1:]
        return LogLine(message, fields)
    m = _3164.match(text)
    if m and int(m.group(1)) < 192:
        fields = {}
        _pri_fields(int(m.group(1)), fields)
        fields.update(timestamp=m.group(2), host=m.group(3), app=m.group(4))
        if m.group(5):
            fields["procid"] = m.group(5)
        return LogLine(m.group(6), fields)
    pri = _PRI.match(text)
    if pri and int(pri.group(1)) < 192:
        fields = {}
        _pri_fields(int(pri.group(1)), fields)
        return LogLine(text[pri.end() :].lstrip(), fields, malformed=True)
    return LogLine(text, {}, malformed=True)


@dataclass
class Framer:
    """TCP framing: octet counting ("LEN SP MSG", RFC 6587 3.4.1) or one message per LF.

    `feed` returns the complete messages; a frame longer than MAX_LINE_BYTES is cut (counted in
    `oversized`) and its rest discarded; a stream that is neither is junk: `broken` is set and
    the caller closes the connection.
    """

    buffer: bytearray = field(default_factory=bytearray)
    skip: int = 0  # bytes of an oversized counted frame still to discard
    discarding_line: bool = False  # inside an oversized LF-framed line
    oversized: int = 0
    broken: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        self.buffer += data
        buf = self.buffer
        pos = 0
        n = len(buf)
        while pos < n:
            if self.discarding_line:
                nl = buf.find(b"\n", pos)
                if nl == -1:
                    pos = n
                    break
                pos = nl + 1
                self.discarding_line = False
                continue
            first = buf[pos]
            if 0x31 <= first <= 0x39:  # a digit 1-9: octet counting
                space = buf.find(b" ", pos, pos + 8)
                if space == -1:
                    if n - pos >= 8:
                        self.broken = True
                        break
                    break  # the length is not complete yet
                length_text = bytes(buf[pos:space])
                if not length_text.isdigit():
                    self.broken = True
                    break
                length = int(length_text)
                start = space + 1
                if length > MAX_LINE_BYTES:
                    self.oversized += 1
                    available = n - start
                    if available >= MAX_LINE_BYTES:
                        out.append(bytes(buf[start : start + MAX_LINE_BYTES]))
                    else:
                        out.append(bytes(buf[start:n]))
                    consumed = min(length, available)
                    self.skip = length - consumed
                    pos = start + consumed
                    continue
                if n - start < length:
                    break
                out.append(bytes(buf[start : start + length]))
                pos = start + length
            else:
                nl = buf.find(b"\n", pos)
                if nl == -1:
                    if n - pos > MAX_LINE_BYTES:
                        out.append(bytes(buf[pos : pos + MAX_LINE_BYTES]))
                        self.oversized += 1
                        self.discarding_line = True
                        pos = n
                    break
                line = bytes(buf[pos:nl]).rstrip(b"\r")
                if line:
                    out.append(line[:MAX_LINE_BYTES])
                    if len(line) > MAX_LINE_BYTES:
                        self.oversized += 1
                pos = nl + 1
        del buf[:pos]
        if len(buf) > MAX_LINE_BYTES + 16:  # defensive: never hold more than one frame
            buf.clear()
        return out
