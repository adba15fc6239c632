"""Importing a user's .py file: whatever the module does while imported comes back as one
located CompileError naming the file as the user gave it, and nothing reaches stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringc.errors import CompileError
from ringc.frontend.files import import_file


def import_error(tmp_path, monkeypatch, source: str) -> CompileError:
    (tmp_path / "user.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CompileError) as info:
        import_file(Path("user.py"))
    return info.value


@pytest.mark.parametrize(("source", "message", "col"), [
    ("x = 1\ndef f(:\n    pass\n", "invalid syntax", 7),
    ("x = 1\ny = (1,\n", "invalid syntax: '(' was never closed", 5),
])
def test_a_syntax_error_is_said_once_at_the_path_given(tmp_path, monkeypatch, source,
                                                       message, col):
    error = import_error(tmp_path, monkeypatch, source)
    assert (error.message, str(error.loc)) == (message, f"user.py:2:{col}")
    assert error.source_line is not None


@pytest.mark.parametrize(("call", "shown"), [("sys.exit()", "None"), ("sys.exit(0)", "0"),
                                             ("sys.exit(3)", "3"), ("sys.exit('bye')", "'bye'")])
def test_exiting_while_imported_is_located_with_its_code(tmp_path, monkeypatch, call, shown):
    error = import_error(tmp_path, monkeypatch, f"import sys\n\n{call}\n")
    assert error.message == f"importing the file raised SystemExit with exit code {shown}"
    assert str(error.loc) == "user.py:3:1"
    assert "__main__" in error.hint


@pytest.mark.parametrize("exception", ["MemoryError", "SyntaxError"])
def test_an_exception_with_no_message_is_named_alone(tmp_path, monkeypatch, exception):
    error = import_error(tmp_path, monkeypatch, f"x = 1\nraise {exception}\n")
    assert error.message == f"importing the file raised {exception}"
    assert str(error.loc) == "user.py:2:1"


def test_what_the_module_prints_goes_to_stderr(tmp_path, capsys):
    path = tmp_path / "chatty.py"
    path.write_text("print('HELLO')\nX = 1\n")
    assert import_file(path).X == 1
    assert capsys.readouterr() == ("", "HELLO\n")
