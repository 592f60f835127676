"""qwenfeas.scenario.source on unusual inputs: sizes, pipes, depth, aliases, JSON, keys, --set quoting.

Each refusal is a QwenfeasError naming the file (and the line where there is one), never a
traceback from the YAML or JSON parser or the operating system.
"""

from __future__ import annotations

import os
import threading

import pytest

from qwenfeas.errors import QwenfeasError
from qwenfeas.scenario.source import load_json, load_text, override_node, read_bounded, read_stream

MIB = 1024 * 1024


def refused(call, *args, **kwargs):
    with pytest.raises(QwenfeasError) as caught:
        call(*args, **kwargs)
    (problem,) = caught.value.problems
    return problem


def test_a_regular_file_over_the_cap_is_refused_from_its_size(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MIB + 1))
    problem = refused(read_bounded, path, "big.yaml", limit=MIB)
    assert (problem.file, problem.message) == ("big.yaml", "is larger than 1 MiB: not a scenario or a config file")
    assert read_bounded(path, "big.yaml", limit=2 * MIB) == "#" * (MIB + 1)  # under a larger cap it reads


@pytest.fixture
def fifo(tmp_path):
    """feed(data) -> a named pipe with a writer already attached, so the reader sees the data and no
    early end of file (process substitution, <(cat plan.yaml), gives qwenfeas such a pipe)."""
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    holder = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open without blocking
    writers = []

    def feed(data: bytes):
        handle = os.open(path, os.O_WRONLY)

        def write():
            try:
                for start in range(0, len(data), 65536):
                    os.write(handle, data[start:start + 65536])
            except BrokenPipeError:  # the reader stopped at its cap
                pass
            finally:
                os.close(handle)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writers.append(writer)
        return path

    yield feed
    os.close(holder)  # a writer still blocked on a full pipe now gets a broken pipe
    for writer in writers:
        writer.join(10)


def test_a_pipe_is_read_to_its_end(fifo):
    path = fifo(b"context: 4096\n")
    assert read_bounded(path, "pipe.yaml") == "context: 4096\n"


def test_a_pipe_longer_than_the_cap_is_refused(fifo):
    path = fifo(b"#" * (MIB + 10))
    problem = refused(read_bounded, path, "pipe.yaml", limit=MIB)
    assert problem.message.startswith("is larger than 1 MiB")


def test_a_pipe_where_a_regular_file_is_needed_is_refused_unopened(tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)  # no writer: opening it would block
    problem = refused(read_bounded, path, "pipe.json", regular_only=True)
    assert problem.message == "is not a regular file (a device, a pipe or a socket)"
    assert problem.hint == "name a YAML or JSON file"


def test_standard_input_over_the_cap_is_refused():
    import io

    assert read_stream(io.BytesIO(b"\xef\xbb\xbfcontext: 1\n"), "<stdin>") == "context: 1\n"  # BOM dropped
    problem = refused(read_stream, io.BytesIO(b"#" * (MIB + 1)), "<stdin>", limit=MIB)
    assert (problem.file, problem.message) == ("<stdin>", "is larger than 1 MiB: not a scenario or a config file")


def test_json_nested_beyond_the_parser_is_a_depth_error():
    problem = refused(load_json, "[" * 100_000 + "]" * 100_000, "config.json")
    assert problem.file == "config.json" and "levels deep" in problem.message


def test_json_nested_beyond_the_limit_is_located():
    text = '{"a": ' * 200 + "1" + "}" * 200
    problem = refused(load_json, text, "config.json")
    assert problem.message.endswith("levels deep") and problem.line == 1


def test_json_with_more_values_than_a_config_has_is_refused():
    problem = refused(load_json, "[" + "[]," * 60_000 + "[]]", "config.json")
    assert problem.message.startswith("the document is too large")


def test_json_keys_are_located_on_their_lines_even_after_an_undecodable_one():
    node = load_json('{\n  "bad\\ud800x": 1,\n  "hidden_size": 4096\n}\n', "config.json")
    assert node.value["hidden_size"].line == 3


def test_yaml_aliases_that_expand_past_the_limit_are_refused():
    # 10 levels of 10 aliases each: 10^10 values from a 12-line file
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    problem = refused(load_text, "\n".join(lines) + "\n", "bomb.yaml")
    assert problem.message.startswith("the document is too large: more than 100,000 values once its aliases")
    assert "extends:" in problem.hint


def test_yaml_with_more_lines_and_items_than_a_scenario_has_is_refused():
    problem = refused(load_text, "a: [" + "1," * 200_000 + "1]\n", "long.yaml")
    assert problem.message.startswith("the document is too large: more than")


def test_a_yaml_key_that_is_not_a_plain_name():
    problem = refused(load_text, "model:\n  [a, b]: 1\n", "key.yaml")
    assert (problem.line, problem.message) == (2, "a key must be a plain name")


def test_yaml_merge_keys_are_refused_with_the_alternative():
    problem = refused(load_text, "base: &b {context: 1}\nplan:\n  <<: *b\n", "merge.yaml")
    assert (problem.line, problem.message) == (3, "YAML merge keys ('<<') are not supported")
    assert "extends:" in problem.hint


@pytest.mark.parametrize(("assignment", "path", "value", "quoted"), [
    ("context=128K", ["context"], "128K", False),
    ("hardware.preset='h200'", ["hardware", "preset"], "h200", True),
    ('model.preset="null"', ["model", "preset"], "null", True),   # quoted: the text null, not a removal
    ("model.preset=null", ["model", "preset"], None, False),      # unquoted: remove the key
    ("context = 4096 ", ["context"], "4096", False),
])
def test_set_assignments(assignment, path, value, quoted):
    got_path, node = override_node(assignment)
    assert (got_path, node.value, node.quoted, node.file) == (path, value, quoted, "--set")


@pytest.mark.parametrize("assignment", ["context", "=4096", "hardware..count=8", "hardware.=8"])
def test_set_assignments_that_are_not_key_value(assignment):
    problem = refused(override_node, assignment)
    assert problem.file == "--set" and problem.message.startswith("expected KEY=VALUE with a dotted key")
