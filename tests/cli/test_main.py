import json

from bnnflow.cli.main import main


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["supported_isas"][0] == "scalar"
    assert info["active_isa"] in info["supported_isas"]


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_info_bad_isa_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("BNNFLOW_ISA", "sse9")
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnnflow info: error: BNNFLOW_ISA=sse9: ")
    assert "Traceback" not in err and "scalar" in err
