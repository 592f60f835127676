"""Machine-readable output: JSON, CSV and YAML, written with plain text, never rich.

Values are plain numbers in base units; names are those of SCENARIO.md. JSON
and YAML nest by section; CSV uses the dotted names as column headers.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math


def plain(value):
    """A JSON-safe number: whole floats as ints, numpy values as Python numbers or lists."""
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
        return int(value)
    return value


def json_text(data, lines: bool = False) -> str:
    """JSON as every command writes it: indented two spaces with a final newline, or with `lines`
    one compact object per item of `data` (JSON Lines). JSON has no NaN or infinity: a number that
    is not finite is written as null, never as the invalid `NaN`/`Infinity`."""
    try:
        if lines:
            return "".join(json.dumps(item, allow_nan=False) + "\n" for item in data)
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    except ValueError:
        return json_text(_finite_or_null(data), lines)


def _finite_or_null(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    return value


def csv_cell(value) -> str:
    """One CSV cell as every command writes it: whole numbers without a decimal point, other floats
    to the last digit (repr), true/false as in JSON, nothing for a missing value."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def csv_text(header, rows) -> str:
    """CSV as every command writes it: a header row, then one line per row, cells through csv_cell."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _nested(report, explain: bool) -> dict:
    out = {key: ({k: plain(v) for k, v in section.items()} if isinstance(section, dict) else section)
           for key, section in report.nested().items()}
    if explain:
        out["explain"] = {name: report.explain(name) for name in report.metrics}
        out["inputs"] = {key: {"value": plain(value), "from": report.scenario.origins.get(key, "")}
                         for key, value in sorted(report.scenario.values.items())}
    return out


def to_json(reports, explain: bool = False) -> str:
    """One JSON object for one report, a list for several."""
    data = [_nested(r, explain) for r in reports]
    return json_text(data[0] if len(data) == 1 else data)


def to_jsonl(reports, explain: bool = False) -> str:
    """JSON Lines: one compact object per report, for shell pipelines and jq -c."""
    return json_text([_nested(r, explain) for r in reports], lines=True)


def to_yaml(reports, explain: bool = False) -> str:
    """The JSON structure as YAML: a mapping for one report, a list for several."""
    import yaml

    data = [_nested(r, explain) for r in reports]
    return yaml.safe_dump(data[0] if len(data) == 1 else data, sort_keys=False, allow_unicode=True)


def to_csv(reports) -> str:
    """A header of dotted output names (the union, in order) and one row per report."""
    columns: dict[str, None] = {}
    for report in reports:
        columns.update(dict.fromkeys(report.metrics))
    rows = []
    for report in reports:
        values = report.values()
        rows.append([report.name, *(values.get(c) for c in columns)])
    return csv_text(["name", *columns], rows)


def write_rows(chunks, names: list[str], output_format: str, out, keep) -> int:
    """Stream a sweep's rows to the binary stream `out`, chunk by chunk: CSV, JSON Lines or a JSON array.

    `keep(chunk)` gives the rows to write (a mask, or None for all). Numbers are written with
    15 significant digits, whole numbers without a decimal point. Returns the rows written.
    """
    from .textformat import format_column, join_rows

    quote = "csv" if output_format == "csv" else "json"
    keys = [json.dumps(name).encode() for name in names]
    prefixes = None if quote == "csv" else [b"{" + keys[0] + b": ", *(b", " + k + b": " for k in keys[1:])]
    suffix = b"\n" if quote == "csv" else b"}\n"
    if output_format == "csv":
        out.write((",".join(names) + "\n").encode())
    elif output_format == "json":
        out.write(b"[")
    written = 0
    for chunk in chunks:
        mask = keep(chunk)
        columns = [chunk.column(name) for name in names]
        if mask is not None:
            columns = [column[mask] for column in columns]
        if not len(columns[0]):
            continue
        text = join_rows([format_column(c, quote=quote) for c in columns], prefixes=prefixes, suffix=suffix)
        if output_format == "json":  # rows of an array: a comma between rows (a raw newline never occurs in JSON text)
            text = (b",\n" if written else b"\n") + text[:-1].replace(b"}\n{", b"},\n{")
        out.write(text)
        written += len(columns[0])
    if output_format == "json":
        out.write(b"\n]\n")
    out.flush()
    return written


def frontiers_json(frontiers) -> str:
    """The sweep's feasibility boundaries as JSON: one object per numeric axis."""
    return json_text(plain([{"axis": f.axis, "others": f.others, "rows": f.rows} for f in frontiers]))


def frontiers_csv(frontiers) -> str:
    """The boundaries as CSV: the axis, the other axes' values, and the feasible range along it."""
    others = list(dict.fromkeys(k for f in frontiers for k in f.others))
    ends = ("min_feasible", "max_feasible", "feasible_points")
    return csv_text(["axis", *others, *ends], [[frontier.axis, *(row.get(k) for k in others), *(row[k] for k in ends)]
                                               for frontier in frontiers for row in frontier.rows])


def comparison_json(comparison) -> str:
    """A comparison as JSON: the scenarios with their verdicts, and each output's values and ratios."""
    scenarios = [{"name": n, "file": f, "feasible": ok, "binding": b} for n, f, ok, b in
                 zip(comparison.names, comparison.files, comparison.feasible, comparison.binding, strict=True)]
    outputs = {row.name: {"unit": row.unit, "values": plain(row.values), "ratios": plain(row.ratios)}
               for row in comparison.rows}
    return json_text({"baseline": comparison.names[0], "scenarios": scenarios, "outputs": outputs})


def comparison_csv(comparison) -> str:
    """One row per output: its unit, each scenario's value, then each ratio to the first scenario."""
    base = comparison.names[0]
    return csv_text(["output", "unit", *comparison.names, *(f"{n} / {base}" for n in comparison.names[1:])],
                    [[row.name, row.unit, *row.values, *row.ratios[1:]] for row in comparison.rows])


def to_junit(verdicts) -> str:
    """JUnit XML: one test suite per scenario, one test case per check (failures carry the reason)."""
    import xml.etree.ElementTree as ET

    suites = ET.Element("testsuites", name="qwenfeas check", tests=str(sum(len(v.checks) for v in verdicts)),
                        failures=str(sum(not c.passed for v in verdicts for c in v.checks)))
    for verdict in verdicts:
        suite = ET.SubElement(suites, "testsuite", name=verdict.name, file=verdict.file,
                              tests=str(len(verdict.checks)), failures=str(sum(not c.passed for c in verdict.checks)),
                              errors="0")
        for check in verdict.checks:
            file, line, message = located(check, verdict)
            case = ET.SubElement(suite, "testcase", classname=verdict.name, name=f"{check.name}: {check.rule}",
                                 file=file, line=str(line or 0))
            if not check.passed:
                failure = ET.SubElement(case, "failure", message=message)
                failure.text = "\n".join(filter(None, [message, check.remedy]))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def verdicts_json(verdicts, lines: bool = False) -> str:
    """The check results as JSON: a list of one object per scenario, or JSON Lines."""
    rows = []
    for verdict in verdicts:
        binding = verdict.binding
        rows.append({"name": verdict.name, "file": verdict.file, "feasible": verdict.feasible,
                     "binding": binding.name if binding else None,
                     "checks": [{**c._asdict(), "ratio": plain(c.ratio) if math.isfinite(c.ratio) else None}
                                for c in verdict.checks]})
    return json_text(rows, lines)


def write_atomically(path: str, text: str) -> None:
    """Write a whole text file or nothing."""
    with atomic_file(path) as stream:
        stream.write(text.encode("utf-8"))


def check_output_path(path: str, option: str) -> None:
    """Refuse, before any work, a path that a report could not be written to (exit 2, nothing written)."""
    import os
    import stat

    from ..errors import QwenfeasError

    if not path or not path.strip():
        raise QwenfeasError("needs a file name", key=option, hint=f"for example {option} report.xml")
    try:
        if os.path.exists(path):  # through any symbolic link
            mode = os.stat(path).st_mode
            if stat.S_ISDIR(mode):
                raise QwenfeasError("is a folder, not a file", file=path, key=option,
                                    hint=f"name a file inside it, e.g. {os.path.join(path, 'report.xml')}")
            if stat.S_ISFIFO(mode):
                os.close(open_special(path))  # a FIFO with no reader fails now, not after the work
            elif stat.S_ISREG(mode) and not os.access(path, os.W_OK):
                raise QwenfeasError("cannot be written: permission denied", file=path, key=option)
            if not stat.S_ISREG(mode):
                return
        target = os.path.realpath(path)
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise QwenfeasError(f"cannot be written: folder {folder} does not exist", file=path, key=option,
                                hint="create the folder first, or choose another path")
        longest = os.pathconf(folder, "PC_NAME_MAX")
        if len(os.path.basename(target).encode()) > longest:
            raise QwenfeasError(f"the file name is longer than {longest} bytes", file=path, key=option)
        _temporary_file_in(folder, path, option)
    except (OSError, ValueError) as exc:  # a NUL byte, an unreadable parent, ...
        raise QwenfeasError(f"is not a usable file path ({exc})", file=repr(path), key=option) from None


def _temporary_file_in(folder: str, path: str, option: str | None = None, suffix: str = "") -> tuple[int, str]:
    """A new temporary file in `folder` (the atomic write's first step), or an input error naming
    `path`; without `option` it is only a probe: created, then removed at once."""
    import os
    import tempfile

    from ..errors import QwenfeasError

    try:
        handle, name = tempfile.mkstemp(prefix=".qwenfeas-", suffix=suffix, dir=folder)
    except OSError as exc:  # a read-only folder, /proc, a full disk
        raise QwenfeasError(f"cannot be written: {exc.strerror or exc} (in {folder})", file=path, key=option,
                            hint="choose a path in a folder you can write to") from None
    if option is not None:
        os.close(handle)
        os.unlink(name)
    return handle, name


@contextlib.contextmanager
def atomic_file(path: str, suffix: str = ""):
    """A binary stream to a temporary file beside `path`, renamed onto it when the block ends.

    On any error the temporary file is removed and an existing file at `path` is left as it
    was. A symbolic link is followed: the file it points to is replaced, the link kept. Only a
    regular file is ever replaced: a device (/dev/null, /dev/stdout) or a FIFO is written in
    place, as a shell redirection would. A new file gets the usual mode of a new file (mkstemp's
    is 0600); a replaced one keeps its mode.
    """
    import os
    import stat

    try:
        existing = os.stat(path)  # through any symbolic link
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode) and not stat.S_ISDIR(existing.st_mode):
        with os.fdopen(open_special(path), "wb") as stream:
            yield stream
        return
    target = os.path.realpath(path)
    handle, temporary = _temporary_file_in(os.path.dirname(target), path, suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        if existing is not None:
            mode = stat.S_IMODE(existing.st_mode)
        else:
            mask = os.umask(0o022)  # read the umask by setting and restoring it
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def binding_label(check) -> str:
    """A check's name for people: an expectation is quoted (`expect[0] "training.seconds < 90d"`)."""
    return f'{check.name} "{check.rule}"' if check.name.startswith("expect") else check.name


def open_special(path: str) -> int:
    """A write descriptor on a device or FIFO, opened in place; a FIFO with no reader is an error, not a hang."""
    import os

    from ..errors import QwenfeasError

    try:
        handle = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        reason = "a FIFO that nobody reads" if exc.errno == errno.ENXIO else exc.strerror or str(exc)
        raise QwenfeasError(f"cannot be written: {reason}", file=path) from None
    os.set_blocking(handle, True)
    return handle


def located(check, verdict) -> tuple[str, int | None, str]:
    """(file, line, message) of a check for CI reports: a limit given with --set is reported on the
    scenario's file (CI tools only link real files), and the message says where it came from."""
    if check.file and check.file != "--set" and not check.file.startswith("preset "):
        return check.file, check.line, check.message
    return verdict.file, None, f"{check.message} (limit from {check.file or '--set'})"


def github_annotation(check, verdict) -> str:
    """A GitHub Actions ::error workflow command pointing at the check's line."""
    def escape(text: str, properties: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if properties else text

    file, line, message = located(check, verdict)
    where = f"file={escape(file, True)}" + (f",line={line}" if line else "")
    message = message + (f"; {check.remedy}" if check.remedy else "")
    return f"::error {where},title={escape('qwenfeas ' + check.name, True)}::{escape(message)}\n"
