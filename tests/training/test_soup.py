"""Weight averaging of checkpoints (how the shipped model 1.1.0 was made)."""

import pytest

torch = pytest.importorskip("torch")

from drumscribe.training.soup import soup  # noqa: E402
from drumscribe.training.train import DrumNet  # noqa: E402


def _ckpt(tmp_path, name, seed):
    torch.manual_seed(seed)
    net = DrumNet(72, 5)
    path = tmp_path / name
    torch.save({"state": net.state_dict(), "cfg": net.cfg, "step": seed, "args": {}}, path)
    return path, net.state_dict()


def test_soup_is_the_weighted_mean_of_the_weights(tmp_path):
    (a, sa), (b, sb) = _ckpt(tmp_path, "a.pt", 1), _ckpt(tmp_path, "b.pt", 2)
    out = soup([a, b], [0.25, 0.75])
    for key, value in out["state"].items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.25 * sa[key] + 0.75 * sb[key], atol=1e-6), key
    assert out["args"]["soup"] == [f"0.25 * {a}", f"0.75 * {b}"]
    DrumNet(**out["cfg"]).load_state_dict(out["state"])  # still a loadable network


def test_soup_refuses_weights_that_do_not_sum_to_one(tmp_path):
    (a, _), (b, _) = _ckpt(tmp_path, "a.pt", 1), _ckpt(tmp_path, "b.pt", 2)
    with pytest.raises(SystemExit):
        soup([a, b], [0.5, 0.6])


def test_a_fine_tune_averages_with_the_shipped_network_it_started_from(tmp_path):
    """``file.npz#J`` is the start of a ``--init-npz`` fine-tune; outputs the fine-tune added
    (``--fine``) have no start: they come from the fine-tune as they are."""
    from drumscribe.training import export as ex
    from drumscribe.transcription.network import DEFAULT_MODEL

    tuned = ex.model_from_npz(DEFAULT_MODEL, 0, n_classes=12)
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(0.01)
    path = tmp_path / "tuned.pt"
    torch.save({"state": tuned.state_dict(), "cfg": tuned.cfg, "classes": ["a"] * 5}, path)
    start = ex.model_from_npz(DEFAULT_MODEL, 0, n_classes=12).state_dict()
    out = soup([f"{DEFAULT_MODEL}#0", path])
    w = out["state"]["t0.weight"]
    assert torch.allclose(w, (start["t0.weight"] + tuned.state_dict()["t0.weight"]) / 2)
    assert torch.allclose(out["state"]["out.weight"][5:], tuned.state_dict()["out.weight"][5:])
    assert torch.allclose(out["state"]["out.weight"][:5], (start["out.weight"][:5] + tuned.state_dict()["out.weight"][:5]) / 2)
