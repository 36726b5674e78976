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
