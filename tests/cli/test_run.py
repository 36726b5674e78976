"""``bnnflow run MODEL IMAGE...``: image files through the engine, top-K."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from bnnflow.cli.main import main
from bnnflow.convert import export
from bnnflow.models import ftbnn_small
from bnnflow.runtime import Interpreter


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.bnn"
    export(ftbnn_small().eval(), path, torch.zeros(1, 1, 8, 8), "float",
           class_names=[f"digit {i}" for i in range(10)])
    return path


def test_images_top_k(model_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    paths = []
    for i, size in enumerate([(8, 8), (32, 24)]):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    out = tmp_path / "r.json"
    assert main(["run", str(model_file), *paths, "--top", "2", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [r["image"] for r in res] == paths and all(len(r["top"]) == 2 for r in res)
    # the 8x8 image needs no resize: the engine's own top class on its grey pixels
    grey = np.asarray(Image.open(paths[0]).convert("L"), np.float32)[None, :, :, None]
    logits = Interpreter(model_file).run(grey)[0]
    assert res[0]["top"][0]["class"] == int(np.argmax(logits))
    assert res[0]["top"][0]["name"] == f"digit {int(np.argmax(logits))}"
    probs = [t["probability"] for t in res[0]["top"]]
    assert probs[0] >= probs[1] and 0 < sum(probs) <= 1 + 1e-6
    assert paths[0] in capsys.readouterr().out


@pytest.mark.parametrize("args, text", [
    (["x.png", "--top", "0"], "--top"),
    ([], "one of the two"),
    (["missing.png"], "cannot read image"),
])
def test_usage_errors(model_file, args, text, capsys, tmp_path):
    argv = ["run", str(model_file), *[str(tmp_path / a) if a.endswith(".png") else a
                                      for a in args]]
    assert main(argv) == 2
    assert text in capsys.readouterr().err


def test_bad_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.bnn"
    bad.write_bytes(b"not a model")
    assert main(["run", str(bad), "x.png"]) == 2
    assert "bad.bnn" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "none.bnn"), "x.png"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_modules_do_not_import_torch():
    code = ("import sys; import bnnflow.cli.cmd_run, bnnflow.cli.cmd_export, "
            "bnnflow.cli.cmd_summary, bnnflow.cli.cmd_demo; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_bad_isa_is_a_usage_error(model_file, monkeypatch, capsys):
    monkeypatch.setenv("BNNFLOW_ISA", "sse9")
    assert main(["run", str(model_file), "x.png"]) == 2
    assert "error: BNNFLOW_ISA=sse9: " in capsys.readouterr().err


def _png(tmp_path, name="a.png"):
    p = tmp_path / name
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p)
    return str(p)


def test_options_between_image_paths(model_file, tmp_path, capsys):
    """--top may come before, between or after the image paths; order is kept."""
    a, b = _png(tmp_path, "a.png"), _png(tmp_path, "b.png")
    for argv in (["--top", "1", a, b], [a, "--top", "1", b], [a, b, "--top", "1"]):
        out = tmp_path / "r.json"
        assert main(["run", str(model_file), *argv, "--json", str(out)]) == 0, argv
        res = json.loads(out.read_text())
        assert [r["image"] for r in res] == [a, b] and all(len(r["top"]) == 1 for r in res)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["run", str(model_file), a, "--top", "1", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_json_into_missing_directory_fails_up_front(model_file, tmp_path, capsys):
    a = _png(tmp_path)
    for target, text in ((tmp_path / "no" / "d" / "o.json", "does not exist"),
                         (tmp_path, "is a directory")):
        assert main(["run", str(model_file), a, "--json", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"--json {target}: " in err and text in err and "Traceback" not in err
        assert not capsys.readouterr().out  # nothing was classified


def test_threads_out_of_range_is_a_usage_error(model_file, tmp_path, capsys):
    assert main(["run", str(model_file), _png(tmp_path), "--threads", "1000"]) == 2
    assert "--threads must be in [1, 256], got 1000" in capsys.readouterr().err


def test_wrong_model_file_types(tmp_path, capsys):
    ck = tmp_path / "ck.pt"
    torch.save({"w": torch.zeros(2)}, ck)
    assert main(["run", str(ck), "x.png"]) == 2
    err = capsys.readouterr().err
    assert "looks like a PyTorch checkpoint" in err and f"`bnnflow export {ck} -o" in err
    assert main(["run", str(tmp_path), "x.png"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_data_imagefolder_with_the_imagenet_eval_transform(tmp_path, monkeypatch):
    """--transforms imagenet reaches the data loader: mixed-size images are resized on the
    shorter side and centre-cropped to the model's input (no squash)."""
    from bnnflow.train import data as data_mod

    torch.manual_seed(0)
    path = tmp_path / "rgb.bnn"
    export(ftbnn_small(num_classes=2, in_channels=3).eval(), path, torch.zeros(1, 3, 16, 16),
           "float")
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c in range(2):
            folder = tmp_path / "img" / split / f"c{c}"
            folder.mkdir(parents=True)
            for i, (w, h) in enumerate([(20, 40), (37, 18)]):
                Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                    folder / f"{i}.png")
    real, calls = data_mod.load_data, []

    def spy(spec, image_size=None, transforms="resize"):
        calls.append((image_size, transforms))
        return real(spec, image_size, transforms)

    monkeypatch.setattr(data_mod, "load_data", spy)
    out = tmp_path / "r.json"
    assert main(["run", str(path), "--data", f"imagefolder:{tmp_path / 'img'}",
                 "--transforms", "imagenet", "--json", str(out)]) == 0
    assert calls == [(16, "imagenet")]
    assert json.loads(out.read_text())["count"] == 4
