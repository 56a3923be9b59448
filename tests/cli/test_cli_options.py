"""Options behave the same in every command: a flag is a flag (shown without a type, refusing a value), and every list
option takes both `--x a,b` and `--x a --x b`."""

from __future__ import annotations

import pytest
import typer

from labelwise.cli.main import app, main

COMMANDS = typer.main.get_command(app).commands


def _leaf_commands() -> list[tuple[list[str], typer.core.click.Command]]:
    """(words, command) for every command; a group (``learn``) stands for each of its subcommands
    (``learn compare``)."""
    found = []
    for name, command in sorted(COMMANDS.items()):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found += [([name, sub], subcommands[sub]) for sub in sorted(subcommands)]
        else:
            found.append(([name], command))
    return found


LEAVES = _leaf_commands()


def options(kind):
    """(command words, option) for every option of every command that is a flag (kind "flag") or a list."""
    found = []
    for words, command in LEAVES:
        for param in command.params:
            if param.param_type_name != "option":
                continue
            if (kind == "flag" and getattr(param, "is_flag", False)) or (kind == "list" and param.multiple):
                found.append(pytest.param(words, param, id=f"{' '.join(words)} {param.opts[0]}"))
    return found


def test_every_command_is_checked():
    assert {"audit", "report", "review", "export", "taxonomy", "annotate", "link", "dedupe", "guide"} <= set(COMMANDS)
    assert len(options("flag")) > 20 and len(options("list")) >= 10


@pytest.mark.parametrize("words", [words for words, _ in LEAVES], ids=" ".join)
def test_help_shows_no_bool_placeholder(words, capsys):
    assert main([*words, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "--quiet" in shown or "--debug" in shown
    assert "<bool>" not in shown and "BOOLEAN" not in shown
    assert "\\[" not in shown  # typer escapes "[default: ...]" for rich even in plain help


@pytest.mark.parametrize("words,param", options("flag"))
def test_a_flag_takes_no_value(words, param, capsys):
    flag = next(opt for opt in param.opts if opt.startswith("--"))
    assert main([*words, f"{flag}=yes"]) == 2
    assert "does not take a value" in capsys.readouterr().err


@pytest.mark.parametrize("words,param", options("list"))
def test_a_list_option_takes_commas_and_repeats_alike(words, param):
    command = dict((" ".join(w), c) for w, c in LEAVES)[" ".join(words)]
    flag = param.opts[0]

    def parsed(given: list[str]):
        args = []
        for other in command.params:  # the required arguments and options, so that parsing gets to ours
            if other.required and other is not param:
                # "1": a valid value of any type, text or number (plan-budget's required --oracle-cost is a float)
                args += ["1"] if other.param_type_name == "argument" else [other.opts[0], "1"]
        return command.make_context(words[-1], args + given).params[param.name]

    assert parsed([flag, "a,b"]) == ["a", "b"]
    assert parsed([flag, "a", flag, "b"]) == ["a", "b"]
    assert parsed([flag, "a, b", flag, "c"]) == ["a", "b", "c"]


def test_every_option_that_speaks_of_several_values_is_a_list_option():
    for names, command in LEAVES:
        for param in command.params:
            words = (getattr(param, "help", "") or "").lower()
            if "comma" in words or "repeat" in words:
                assert param.multiple, f"{' '.join(names)} {param.opts[0]} describes a list but takes one value"


@pytest.mark.parametrize("args", [[], ["audit"], ["review"]])
def test_a_command_alone_prints_its_help(args, capsys):
    assert main(args) == 2
    printed = capsys.readouterr()
    assert printed.out.startswith(f"Usage: labelwise {' '.join(args)}".rstrip() + " [OPTIONS]")
    assert "error:" not in printed.out and printed.err == ""
